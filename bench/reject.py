"""Benchmark the reject command through GraphQL against its bare baseline and an empty GraphQL query.

    .venv/bin/python -m bench.reject [--duration 8] [--warmup 1] [--concurrency 1,16] [--executions 30000] [--smoke]

It prepares a throw-away VAR_DIR (migrated, seeded by app.seeding.bulk with one `awaiting_approval` step per
execution), starts the real server (`python -m app serve --no-seed`, BENCH_ENDPOINTS=1, one worker) and drives it
from a separate load-generator process (asyncio + one httpx.AsyncClient, connection limit = concurrency).
Targets, each for a fixed duration after an unmeasured warm-up, at each concurrency:

    reject    POST /graphql        rejectExecutionStep mutation (variables), a distinct step per request
    bare      POST /bench/reject   the same command through the executor, JSON in and out, no GraphQL
    typename  POST /graphql        { __typename }

It prints throughput, p50/p99 and errors, the ratios against their targets, checks the database with
`python -m app check`, and writes the whole result to bench/results/reject-<timestamp>.json. The server and the
temporary directory are removed on exit. Exit status: bench/README.md, "Exit status".
"""

from __future__ import annotations

import argparse
import math
import secrets
import sys
from contextlib import ExitStack
from typing import Any

from bench.kit import run as kit_run
from bench.kit.bodies import (
    DISTINCT_TARGETS,
    TYPENAME_BODY,
    answer_problem,
    bare_reject_body,
    graphql_reject_body,
    target_path,
)
from bench.kit.client import run_client
from bench.kit.cpu import process_cpu_seconds
from bench.kit.report import counts_line, environment, timestamp, verdict, write_result
from bench.kit.run import Outcome, add_load_arguments, add_standard_arguments, concurrency_levels, parse
from bench.kit.scratch import ScratchDatabase, scratch_database, temporary_directory, verify
from bench.kit.server import Server, mint_token, post, start_server, wait_healthy

TARGETS = ("reject", "bare", "replay", "typename")
"""`replay` repeats the pre-flight's reject of step 0: identical replays, answered from a read."""
SANITY_STEPS = 2  # steps 0 and 1 are used by the pre-flight check, the runs start after them
SMOKE = {"duration": 0.3, "warmup": 0.2, "concurrency": "16", "executions": 1500}

# Targets printed next to the ratios measured in the same run.
TARGET_REJECT_VS_BARE = 0.60
TARGET_REJECT_VS_TYPENAME = 0.50
TARGET_REPLAY_VS_TYPENAME = 0.50
TARGET_TAIL_RATIO = 5.0
TAIL_CONCURRENCY = 16


# --------------------------------------------------------------------------------------------------
# Pre-flight check
# --------------------------------------------------------------------------------------------------


def preflight(base_url: str, token: str, database: ScratchDatabase) -> None:
    """One request of each target, so a broken setup fails loudly before any measurement."""
    checks = [
        ("reject", graphql_reject_body(0), '"status":"rejected"'),
        ("bare", bare_reject_body(1), '"status":"rejected"'),
        ("typename", TYPENAME_BODY, '"__typename":"Query"'),
    ]
    for target, body, expected in checks:
        status, content = post(base_url + target_path(target), body, token)
        problem = answer_problem(target, status, content, expected)
        if problem is not None:
            raise RuntimeError(f"pre-flight {target} failed: {problem}")
        if target != "typename":
            database.succeeded += 1
    database.cursor = SANITY_STEPS


# --------------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------------


def ratios(runs: list[dict[str, Any]], concurrencies: list[int]) -> list[dict[str, Any]]:
    by_key = {(run["target"], run["concurrency"]): run for run in runs}
    checks: list[dict[str, Any]] = []
    for concurrency in concurrencies:
        reject = by_key[("reject", concurrency)]
        for other, threshold in (("bare", TARGET_REJECT_VS_BARE), ("typename", TARGET_REJECT_VS_TYPENAME)):
            base = by_key[(other, concurrency)]["throughput_rps"]
            value = reject["throughput_rps"] / base if base else math.nan
            checks.append(
                {
                    "name": f"reject ÷ {other} throughput",
                    "concurrency": concurrency,
                    "value": value,
                    "target": f"≥ {threshold:.2f}",
                    "pass": value >= threshold,
                }
            )
    if TAIL_CONCURRENCY in concurrencies:
        replay, base = by_key[("replay", TAIL_CONCURRENCY)], by_key[("typename", TAIL_CONCURRENCY)]["throughput_rps"]
        value = replay["throughput_rps"] / base if base else math.nan
        checks.append(
            {
                "name": "replay ÷ typename throughput",
                "concurrency": TAIL_CONCURRENCY,
                "value": value,
                "errors": replay["errors"],
                "target": f"≥ {TARGET_REPLAY_VS_TYPENAME:.2f}, zero errors",
                "pass": value >= TARGET_REPLAY_VS_TYPENAME and replay["errors"] == 0,
            }
        )
        reject = by_key[("reject", TAIL_CONCURRENCY)]
        value = reject["p99_over_p50"]
        checks.append(
            {
                "name": "reject p99 ÷ p50",
                "concurrency": TAIL_CONCURRENCY,
                "value": value,
                "errors": reject["errors"],
                "target": f"≤ {TARGET_TAIL_RATIO:.0f} with zero errors",
                "pass": value <= TARGET_TAIL_RATIO and reject["errors"] == 0 and not reject["exhausted"],
            }
        )
    return checks


def print_report(result: dict[str, Any]) -> None:
    env = result["environment"]
    print()
    print(
        f"cpu_count={env['cpu_count']}  python={env['python']}  sqlite={env['sqlite']}  "
        f"loadavg(before)={env['loadavg_before']}"
    )
    print(
        f"duration={result['config']['duration']}s  warmup={result['config']['warmup']}s  "
        f"seeded steps={result['config']['executions']}  commit={env['git_commit']}"
        + (" (app/ modified)" if env["git_dirty"] else "")
    )
    print()
    header = (
        f"{'target':<9} {'conc':>4} {'requests':>9} {'errors':>6} {'req/s':>9} "
        f"{'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8} {'p99/p50':>8} {'cpu ms/req srv':>15} {'client':>7}"
    )
    print(header)
    print("-" * len(header))
    for run in result["runs"]:
        flag = "  (steps exhausted!)" if run["exhausted"] else ""
        cpu = run.get("server_cpu_ms_per_req")
        print(
            f"{run['target']:<9} {run['concurrency']:>4} {run['requests']:>9} {run['errors']:>6} "
            f"{run['throughput_rps']:>9.1f} {run['p50_ms']:>8.2f} {run['p90_ms']:>8.2f} {run['p99_ms']:>8.2f} "
            f"{run['max_ms']:>8.2f} {run['p99_over_p50']:>8.2f} "
            f"{(f'{cpu:.2f}' if cpu is not None else 'n/a'):>15} {run['client_cpu_ms_per_req']:>7.2f}{flag}"
        )
    print()
    for check in result["ratios"]:
        extra = f", errors {check['errors']}" if "errors" in check else ""
        print(
            f"c={check['concurrency']:<3} {check['name']:<28} {check['value']:>6.2f}{extra:<12} "
            f"target {check['target']:<24} {verdict(check['pass'])}"
        )
    by_key = {(run["target"], run["concurrency"]): run for run in result["runs"]}
    for concurrency in result["config"]["concurrencies"]:
        cpu = {target: by_key[(target, concurrency)].get("server_cpu_ms_per_req") for target in TARGETS}
        if all(cpu.values()):
            print(
                f"c={concurrency:<3} (info) server CPU/request: bare ÷ reject {cpu['bare'] / cpu['reject']:.2f}, "
                f"typename ÷ reject {cpu['typename'] / cpu['reject']:.2f}  (≈ the throughput ratios if CPU-bound)"
            )
    for run in result["runs"]:
        for sample in run["error_samples"][:2]:
            print(f"  error sample ({run['target']}, c={run['concurrency']}): {sample}")


def print_verification(check: dict[str, Any]) -> None:
    attempt = check["check"][-1]
    print(f"\n`python -m app check` (exit {attempt['exit_code']}, {attempt['seconds']:.1f} s): {attempt['summary']}")
    print(counts_line(check))


# --------------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    add_load_arguments(parser, concurrency="1,16", executions=30_000)
    parser.add_argument(
        "--check-timeout", type=float, default=600.0, help="seconds allowed to `python -m app check` (default 600)"
    )
    add_standard_arguments(parser, "reject-<timestamp>.json")
    args = parse(parser, argv, SMOKE)
    args.concurrencies = concurrency_levels(parser, args.concurrency)
    if args.executions <= SANITY_STEPS:
        parser.error(f"--executions must be more than {SANITY_STEPS}")
    return args


def measure(server: Server, database: ScratchDatabase, token: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = []
    for concurrency in args.concurrencies:
        for target in TARGETS:
            config = {
                "target": target,
                "concurrency": concurrency,
                "warmup": args.warmup,
                "duration": args.duration,
                "base_url": server.base_url,
                "token": token,
                "first_step": database.cursor,
                "last_step": args.executions,
            }
            cpu_before = process_cpu_seconds(server.proc.pid)
            run = run_client(config)
            cpu_after = process_cpu_seconds(server.proc.pid)
            # Server CPU per request (warm-up included: the server is idle between runs). Less sensitive
            # than req/s to other load on a shared machine.
            served = run["requests"] + run["warmup_requests"]
            run["server_cpu_ms_per_req"] = (
                (cpu_after - cpu_before) * 1000 / served
                if cpu_before is not None and cpu_after is not None and served
                else None
            )
            database.cursor += run["steps_used"]
            if target in DISTINCT_TARGETS:
                failed = run["errors"] + run["warmup_errors"]
                database.succeeded += served - failed
                database.uncertain += failed
            runs.append(run)
            print(
                f"  {target:<9} c={concurrency:<3} {run['throughput_rps']:8.1f} req/s  "
                f"p50 {run['p50_ms']:7.2f} ms  p99 {run['p99_ms']:7.2f} ms  errors {run['errors']}"
                + ("  STEPS EXHAUSTED: raise --executions" if run["exhausted"] else "")
            )
            if (gone := server.exited()) is not None:
                raise RuntimeError(gone)
    return runs


def bench(args: argparse.Namespace, cleanup: ExitStack) -> Outcome:
    env_info = environment()
    var_dir = temporary_directory("bench-reject-", cleanup, keep=args.keep)
    secret = secrets.token_urlsafe(48)
    database = scratch_database("sqlite", var_dir, secret, cleanup, keep=args.keep, awaiting=args.executions)
    server = start_server(var_dir, database.env)
    cleanup.callback(server.stop)
    boot = wait_healthy(server)
    print(f"server pid {server.proc.pid} on {server.base_url} healthy after {boot:.1f} s")
    token = mint_token(secret)
    preflight(server.base_url, token, database)
    runs = measure(server, database, token, args)
    server.stop()
    verification = verify(database, args.check_timeout)

    result = {
        "timestamp": timestamp(),
        "config": {
            "duration": args.duration,
            "warmup": args.warmup,
            "concurrencies": args.concurrencies,
            "executions": args.executions,
            "steps_consumed": database.cursor,
            "smoke": args.smoke,
            "server": "python -m app serve --no-seed (WORKERS=1, LOG_LEVEL=warning, BENCH_ENDPOINTS=1)",
            "client": "separate process, asyncio + httpx.AsyncClient, connection limit = concurrency",
        },
        "environment": env_info,
        "runs": runs,
        "ratios": ratios(runs, args.concurrencies),
        "verification": verification,
    }
    print_report(result)
    print_verification(verification)
    if not args.no_json:
        write_result("reject", result)
    outcome = Outcome()
    for check in result["ratios"]:
        outcome.target(f"c={check['concurrency']} {check['name']}", check["pass"])
    errors = sum(run["errors"] + run["warmup_errors"] for run in runs)
    outcome.require(f"{errors} errors in responses", ok=errors == 0)
    outcome.require("`python -m app check` is not ok", ok=verification["check_ok"])
    outcome.require("rejected steps and successful rejects disagree", ok=verification["counts_agree"])
    return outcome


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return kit_run.run("bench.reject", lambda cleanup: bench(args, cleanup))


if __name__ == "__main__":
    sys.exit(main())
