"""Benchmark the decision path under a 2-approval rule against today's single-approval path, in one run.

    .venv/bin/python -m bench.approval [--duration 6] [--warmup 1] [--concurrency 16] [--executions 6000] [--smoke]

Two throw-away SQLite databases, each bulk-seeded (app.seeding.bulk) with executions whose one step awaits
approval: one under the built-in policy (one admin decides), one under a policy whose rule for `deploy.*`
needs two distinct admins (the terms are stored with each request when it opens). The real server
(`python -m app serve --no-seed`) runs on each in turn and a load generator in its own process decides
distinct steps:

    single   one approveExecutionStep per step (admin A): the step is approved
    quorum   two per step, admin A then admin B: the first vote is counted (1 of 2), the second approves

and `{ __typename }` on the same server for context. It prints votes/s and decisions/s (a step approved),
p50/p99, errors, the ratio quorum ÷ single (decisions/s and votes/s, same run, same concurrency), the core
count, checks both databases with `python -m app check` and writes bench/results/approval-<timestamp>.json.
Exit status: bench/README.md, "Exit status".
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import time
from contextlib import ExitStack
from typing import Any

from bench.kit import run as kit_run
from bench.kit.bodies import execution_id, step_id
from bench.kit.client import run_in_process, typename_run
from bench.kit.report import environment, percentile, verdict, write_result
from bench.kit.run import Outcome, add_standard_arguments, parse
from bench.kit.scratch import scratch_database, temporary_directory
from bench.kit.server import run_check, start_server, wait_healthy

VOTE = (
    "mutation Vote($input: ControlPlaneExecutionApproveInput!) "
    "{ approveExecutionStep(input: $input) { status approvalsGiven requiredApprovals } }"
)
QUORUM_POLICY = {
    "policyVersion": "bench-quorum",
    "rules": [
        {"ruleId": "two-admins", "matchKeys": ["deploy.*"], "approverRoles": ["admin"], "requiredApprovals": 2},
        {"ruleId": "default", "approverRoles": ["admin"]},
    ],
}
VOTERS = ("bench-voter-a", "bench-voter-b")
SMOKE = {"duration": 0.5, "warmup": 0.2, "concurrency": 8, "executions": 800, "rounds": 1}
TARGET_VOTES_RATIO = 0.8
"""A vote toward a quorum should cost about what a single approval costs (votes/s quorum ÷ single)."""


def token(secret: str, sub: str) -> str:
    import jwt  # noqa: PLC0415 - the parent and the load generator only

    now = int(time.time())
    claims = {"sub": sub, "roles": ["admin"], "workspaces": ["*"], "iat": now, "exp": now + 4 * 3600}
    return jwt.encode(claims, secret, algorithm="HS256")


def vote_body(index: int, voter: str) -> bytes:
    variables = {"input": {"executionId": execution_id(index), "stepId": step_id(index), "approvedBy": voter}}
    return json.dumps({"query": VOTE, "variables": variables}, separators=(",", ":")).encode()


async def decide_load(config: dict[str, Any]) -> dict[str, Any]:
    """Workers take the next step and cast its votes (one or two, by different admins) one after the other."""
    import httpx  # noqa: PLC0415 - only the load generator's process pays for it

    votes_per_step: int = config["votes_per_step"]
    headers = [{"Authorization": f"Bearer {t}", "Content-Type": "application/json"} for t in config["tokens"]]
    limits = httpx.Limits(max_connections=config["concurrency"], max_keepalive_connections=config["concurrency"])
    latencies: list[float] = []
    errors: list[str] = []
    decided = 0
    cursor = 0
    start = time.perf_counter()
    measure_from = start + config["warmup"]
    end = measure_from + config["duration"]
    cpu_start = time.process_time()
    async with httpx.AsyncClient(base_url=config["base_url"], limits=limits, timeout=30.0, trust_env=False) as client:

        async def worker() -> None:
            nonlocal cursor, decided
            while time.perf_counter() < end and config["first_step"] + cursor < config["steps"]:
                index = config["first_step"] + cursor
                cursor += 1
                for number in range(votes_per_step):
                    began = time.perf_counter()
                    response = await client.post(
                        "/graphql", content=vote_body(index, VOTERS[number]), headers=headers[number]
                    )
                    finished = time.perf_counter()
                    body = response.json()
                    if response.status_code != 200 or "errors" in body:
                        errors.append(response.text[:300])
                        break
                    if began >= measure_from:
                        latencies.append(finished - began)
                        if body["data"]["approveExecutionStep"]["status"] == "approved":
                            decided += 1

        import asyncio  # noqa: PLC0415 - as above

        await asyncio.gather(*(worker() for _ in range(config["concurrency"])))
    elapsed = max(time.perf_counter() - measure_from, 1e-9)
    latencies.sort()
    return {
        "votes_per_s": len(latencies) / elapsed,
        "decisions_per_s": decided / elapsed,
        "votes": len(latencies),
        "decisions": decided,
        "p50_ms": percentile(latencies, 0.5) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "errors": len(errors),
        "error_samples": errors[:3],
        "steps_used": cursor,
        "client_cpu_ms_per_vote": (time.process_time() - cpu_start) * 1000 / max(1, len(latencies)),
    }


def prepare(args: argparse.Namespace, cleanup: ExitStack, name: str, policy: dict[str, Any] | None) -> dict[str, Any]:
    """A seeded database and its running server."""
    root = temporary_directory(f"bench-approval-{name}-", cleanup, keep=args.keep)
    secret = secrets.token_urlsafe(32)
    extra: dict[str, str] = {}
    if policy is not None:
        path = root / "approval-policy.json"
        path.write_text(json.dumps(policy))
        extra["APPROVAL_POLICY_FILE"] = str(path)
    database = scratch_database(
        "sqlite", root / "var", secret, cleanup, keep=args.keep, extra_env=extra, awaiting=args.executions
    )
    server = start_server(database.var_dir, database.env, name=name)
    cleanup.callback(server.stop)
    wait_healthy(server)
    return {"database": database, "server": server, "secret": secret, "votes_per_step": 1 if policy is None else 2}


def measure(args: argparse.Namespace, target: dict[str, Any], first_step: int) -> dict[str, Any]:
    """One round on one server: decisions from `first_step` on, then `{ __typename }`."""
    config = {
        "base_url": target["server"].base_url,
        "tokens": [token(target["secret"], voter) for voter in VOTERS],
        "votes_per_step": target["votes_per_step"],
        "concurrency": args.concurrency,
        "warmup": args.warmup,
        "duration": args.duration,
        "first_step": first_step,
        "steps": args.executions,
    }
    decided = run_in_process(decide_load, config, args.warmup + args.duration + 120, "bench-approval")
    typename = typename_run(target["server"].base_url, args.concurrency, args.duration, args.warmup)
    return {"decide": decided, "typename": typename}


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def combine(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of each figure over the rounds (the machine is shared: rounds alternate the two paths)."""
    decide = {
        key: median([r["decide"][key] for r in rounds])
        for key in ("votes_per_s", "decisions_per_s", "p50_ms", "p99_ms")
    }
    decide |= {
        "votes": sum(r["decide"]["votes"] for r in rounds),
        "errors": sum(r["decide"]["errors"] for r in rounds),
        "error_samples": [sample for r in rounds for sample in r["decide"]["error_samples"]][:3],
    }
    return {"decide": decide, "typename": {"throughput_rps": median([r["typename"]["throughput_rps"] for r in rounds])}}


def report(results: dict[str, dict[str, Any]], args: argparse.Namespace, outcome: Outcome) -> None:
    print(
        f"cores: {os.cpu_count()}  concurrency: {args.concurrency}  "
        f"{args.rounds} rounds of {args.duration:g} s per path, alternating; medians"
    )
    print(f"{'path':8} {'votes/s':>9} {'decided/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} {'typename/s':>11}")
    for name, result in results.items():
        d, t = result["decide"], result["typename"]
        print(
            f"{name:8} {d['votes_per_s']:9.1f} {d['decisions_per_s']:10.1f} {d['p50_ms']:8.1f} {d['p99_ms']:8.1f} "
            f"{d['errors']:6d} {t['throughput_rps']:11.1f}"
        )
        outcome.require(f"{name}: {d['errors']} errors {d['error_samples']}", ok=d["errors"] == 0)
        check = result["check"]
        summary = (check["output"].splitlines() or [""])[-1]
        print(f"{name}: `python -m app check` (exit {check['exit_code']}, {check['seconds']:.1f} s): {summary}")
        outcome.require(f"{name}: python -m app check failed: {check['output'][-300:]}", ok=bool(check["ok"]))
        outcome.require(f"{name}: no vote measured", ok=d["votes"] > 0)
    single, quorum = results["single"]["decide"], results["quorum"]["decide"]
    decisions = quorum["decisions_per_s"] / single["decisions_per_s"] if single["decisions_per_s"] else float("nan")
    votes = quorum["votes_per_s"] / single["votes_per_s"] if single["votes_per_s"] else float("nan")
    # Normalized by each server's own { __typename }: the two runs are sequential on a shared machine.
    normalized = [r["decide"]["votes_per_s"] / max(r["typename"]["throughput_rps"], 1e-9) for r in results.values()]
    print(f"quorum ÷ single, decisions/s   {decisions:5.2f}   (info: two votes per decision)")
    passed = votes >= TARGET_VOTES_RATIO
    print(f"quorum ÷ single, votes/s       {votes:5.2f}   target ≥ {TARGET_VOTES_RATIO:.2f}   {verdict(passed)}")
    print(f"votes/s ÷ typename/s, single {normalized[0]:.3f}, quorum {normalized[1]:.3f}   (info)")
    outcome.target("quorum votes/s", passed)


def body(args: argparse.Namespace) -> Any:
    def run(cleanup: ExitStack) -> Outcome:
        outcome = Outcome()
        targets = {
            "single": prepare(args, cleanup, "single", None),
            "quorum": prepare(args, cleanup, "quorum", QUORUM_POLICY),
        }
        rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in targets}
        used = dict.fromkeys(targets, 0)
        for _ in range(args.rounds):
            for name, target in targets.items():
                result = measure(args, target, used[name])
                used[name] += result["decide"]["steps_used"]
                rounds[name].append(result)
        results = {name: combine(found) for name, found in rounds.items()}
        for name, target in targets.items():
            target["server"].stop()
            results[name]["check"] = run_check(target["database"].var_dir, target["database"].env)
            results[name]["rounds"] = rounds[name]
        report(results, args, outcome)
        if not args.no_json:
            write_result("approval", {"environment": environment(), "args": vars(args), "results": results})
        return outcome

    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=6.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--executions", type=int, default=8000, help="steps seeded in each database")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of each path (medians reported)")
    add_standard_arguments(parser, "approval-<timestamp>.json")
    args = parse(parser, argv, SMOKE)
    return kit_run.run("bench.approval", body(args))


if __name__ == "__main__":
    sys.exit(main())
