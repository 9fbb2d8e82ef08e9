"""Live fan-out: many WebSocket subscribers on `approvalQueue` in one server process, a burst of decisions.

1. A temporary SQLite database with `--awaiting` executions whose one step awaits approval (app.seeding.bulk).
2. One `python -m app serve --no-seed` (WORKERS=1) with the per-principal socket limit raised.
3. Baseline, in the same run: one subscriber, `--baseline` decisions one after the other; the latency of each.
4. `--subscribers` sockets (graphql-transport-ws, the `websockets` library) each subscribe to the whole queue and
   read their snapshot; the server's RSS before and after gives the memory per idle subscriber.
5. A burst of `--decisions` rejects sent at once (16 at a time); every subscriber must see every step `removed`.
   Latency of a delivery = its receipt − the send of the decision's request (an upper bound of commit →
   receipt; the commit is before the response). p50 / p99 over every (decision, subscriber) delivery.

Targets: p99 ≤ 250 ms; memory ≤ 50 KB per idle subscriber. The load generator runs in this process, on the
same (shared) cores as the server: the core count and load are printed with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import secrets
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import websockets
from websockets.typing import Subprotocol

from bench.kit import run as kit_run
from bench.kit.bodies import execution_id, step_id
from bench.kit.cpu import process_cpu_seconds
from bench.kit.report import fmt, latency_summary, loadavg, verdict
from bench.kit.scratch import scratch_database, temporary_directory
from bench.kit.server import SUBJECT, mint_token, run_check, start_server, wait_healthy

PROTOCOL = Subprotocol("graphql-transport-ws")
QUEUE = "subscription { approvalQueue(input: {}) { kind item { stepId } } }"
REJECT = "mutation($input: ControlPlaneExecutionRejectInput!) { rejectExecutionStep(input: $input) { status } }"
P99_TARGET_MS = 250.0
MEMORY_TARGET_KB = 50.0


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Subscriber:
    """One socket, one approvalQueue subscription; records when each step is seen removed."""

    def __init__(self) -> None:
        self.snapshot = 0
        self.removed: dict[str, float] = {}
        self.ready = asyncio.Event()
        self.errors: list[str] = []

    async def run(self, url: str, token: str, expected_snapshot: int) -> None:
        async with websockets.connect(url, subprotocols=[PROTOCOL], max_size=None, open_timeout=60) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
            ack = json.loads(await ws.recv())
            if ack["type"] != "connection_ack":
                self.errors.append(f"no ack: {ack}")
                self.ready.set()
                return
            await ws.send(json.dumps({"id": "q", "type": "subscribe", "payload": {"query": QUEUE}}))
            if expected_snapshot == 0:
                self.ready.set()
            async for raw in ws:
                message = json.loads(raw)
                if message["type"] != "next":
                    self.errors.append(str(message)[:200])
                    break
                change = message["payload"]["data"]["approvalQueue"]
                if change["kind"] == "snapshot":
                    self.snapshot += 1
                    if self.snapshot >= expected_snapshot:
                        self.ready.set()
                elif change["kind"] == "removed":
                    self.removed[change["item"]["stepId"]] = time.perf_counter()
        self.ready.set()


async def decide(http: httpx.AsyncClient, url: str, token: str, index: int) -> tuple[int, float, float]:
    variables = {
        "input": {
            "executionId": execution_id(index),
            "stepId": step_id(index),
            "rejectedBy": SUBJECT,
            "reason": "bench",
        }
    }
    sent = time.perf_counter()
    response = await http.post(
        url, json={"query": REJECT, "variables": variables}, headers={"Authorization": f"Bearer {token}"}
    )
    answered = time.perf_counter()
    body = response.json()
    if response.status_code != 200 or "errors" in body:
        raise RuntimeError(f"reject {index} failed: {response.status_code} {body}")
    return index, sent, answered


async def wait_all(subscribers: list[Subscriber], steps: list[str], seconds: float) -> bool:
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        if all(all(step in s.removed for step in steps) for s in subscribers):
            return True
        await asyncio.sleep(0.05)
    return False


async def measure(args: argparse.Namespace, base_url: str, token: str, pid: int) -> dict[str, Any]:
    ws_url = base_url.replace("http://", "ws://") + "/graphql"
    graphql_url = base_url + "/graphql"
    waiting = args.awaiting
    result: dict[str, Any] = {}
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=16)) as http:
        # Baseline: one subscriber, decisions one by one.
        lone = Subscriber()
        lone_task = asyncio.create_task(lone.run(ws_url, token, waiting))
        await asyncio.wait_for(lone.ready.wait(), 120)
        baseline: list[float] = []
        for index in range(args.baseline):
            _, sent, _ = await decide(http, graphql_url, token, index)
            if not await wait_all([lone], [step_id(index)], 10):
                raise RuntimeError("the lone subscriber did not see a decision within 10 s")
            baseline.append(lone.removed[step_id(index)] - sent)
        lone_task.cancel()
        waiting -= args.baseline
        await asyncio.sleep(1.0)
        rss_before = rss_kb(pid)
        # The crowd: every subscriber reads its snapshot, then sits idle.
        crowd = [Subscriber() for _ in range(args.subscribers)]
        tasks = []
        connect_started = time.perf_counter()
        for offset in range(0, len(crowd), 50):  # connect 50 at a time
            batch = crowd[offset : offset + 50]
            tasks.extend(asyncio.create_task(s.run(ws_url, token, waiting)) for s in batch)
            await asyncio.gather(*(asyncio.wait_for(s.ready.wait(), 300) for s in batch))
        connect_seconds = time.perf_counter() - connect_started
        errors = [error for s in crowd for error in s.errors]
        if errors:
            raise RuntimeError(f"{len(errors)} subscriber errors, e.g. {errors[0]}")
        await asyncio.sleep(2.0)
        rss_after = rss_kb(pid)
        # The burst.
        first = args.baseline
        indexes = list(range(first, first + args.decisions))
        cpu_before = process_cpu_seconds(pid) or 0.0
        burst_started = time.perf_counter()
        sem = asyncio.Semaphore(16)

        async def limited(index: int) -> tuple[int, float, float]:
            async with sem:
                return await decide(http, graphql_url, token, index)

        decided = await asyncio.gather(*(limited(index) for index in indexes))
        complete = await wait_all(crowd, [step_id(i) for i in indexes], args.timeout)
        burst_seconds = time.perf_counter() - burst_started
        cpu_burst = (process_cpu_seconds(pid) or 0.0) - cpu_before
        for task in tasks:
            task.cancel()
    from_send = [s.removed[step_id(i)] - sent for i, sent, _ in decided for s in crowd if step_id(i) in s.removed]
    from_answer = [
        s.removed[step_id(i)] - answered for i, _, answered in decided for s in crowd if step_id(i) in s.removed
    ]
    deliveries = args.subscribers * args.decisions
    result.update(
        baseline=latency_summary(baseline),
        from_send=latency_summary(from_send),
        from_answer=latency_summary(from_answer),
        delivered=len(from_send),
        deliveries=deliveries,
        complete=complete,
        burst_seconds=burst_seconds,
        server_cpu_burst=cpu_burst,
        connect_seconds=connect_seconds,
        rss_before_kb=rss_before,
        rss_after_kb=rss_after,
        per_subscriber_kb=(rss_after - rss_before) / max(1, args.subscribers),
    )
    return result


def bench(args: argparse.Namespace, cleanup: ExitStack) -> kit_run.Outcome:
    outcome = kit_run.Outcome()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4 * args.subscribers + 256)), hard))
    directory = temporary_directory("bench-live-", cleanup, keep=args.keep)
    secret = secrets.token_urlsafe(32)
    awaiting = args.baseline + args.decisions + args.idle_items
    args.awaiting = awaiting
    database = scratch_database(
        "sqlite",
        directory / "sqlite",
        secret,
        cleanup,
        keep=args.keep,
        awaiting=awaiting,
        extra_env={
            "LOG_LEVEL": "warning",
            "APPROVAL_SWEEPER_ENABLED": "0",
            "WS_MAX_CONNECTIONS_PER_PRINCIPAL": str(args.subscribers + 10),
        },
    )
    server = start_server(database.var_dir, database.env, bench_endpoints=False)
    cleanup.callback(server.stop)
    wait_healthy(server)
    token = mint_token(secret)
    cores = os.cpu_count()
    load = loadavg()
    result = asyncio.run(measure(args, server.base_url, token, server.proc.pid))
    outcome.require(f"the server exited: {server.exited()}", ok=server.exited() is None)
    outcome.require(
        f"{result['deliveries'] - result['delivered']} of {result['deliveries']} deliveries missing",
        ok=result["complete"] and result["delivered"] == result["deliveries"],
    )
    check = run_check(database.var_dir, database.env)
    outcome.require("`python -m app check` is not ok", ok=bool(check["ok"]))
    print(f"`python -m app check` (exit {check['exit_code']}, {check['seconds']:.1f} s)")
    base, send, answer = result["baseline"], result["from_send"], result["from_answer"]
    p99_ok = send["p99_ms"] <= P99_TARGET_MS
    memory_ok = result["per_subscriber_kb"] <= MEMORY_TARGET_KB
    outcome.target("p99", p99_ok)
    outcome.target("memory", memory_ok)
    rate = result["deliveries"] / result["burst_seconds"] if result["burst_seconds"] else float("nan")
    print(
        f"\nmachine: {cores} cores (shared), load average before {load}, after {loadavg()}; "
        "the subscribers' client runs in this process on the same cores"
    )
    print(
        f"{args.subscribers} subscribers × {args.decisions} decisions = {result['deliveries']} deliveries "
        f"(each subscriber's snapshot: {args.awaiting - args.baseline} items, "
        f"read in {result['connect_seconds']:.1f} s)"
    )
    print(f"baseline, 1 subscriber, decisions one by one   p50 {fmt(base['p50_ms'])} ms  p99 {fmt(base['p99_ms'])} ms")
    print(
        f"burst, request sent → receipt                  p50 {fmt(send['p50_ms'])} ms  p99 {fmt(send['p99_ms'])} ms  "
        f"max {fmt(send['max_ms'])} ms"
    )
    print(
        f"burst, decision answered → receipt            p50 {fmt(answer['p50_ms'])} ms  p99 {fmt(answer['p99_ms'])} ms"
    )
    print(
        f"burst: {result['burst_seconds']:.2f} s for every delivery, {rate:.0f} deliveries/s, "
        f"server CPU {result['server_cpu_burst']:.2f} s = "
        f"{1e6 * result['server_cpu_burst'] / result['deliveries']:.0f} µs per delivery"
    )
    spread = send["p99_ms"] / base["p50_ms"] if base["p50_ms"] else float("nan")
    print(f"burst p99 ÷ baseline p50                       {fmt(spread)}  (info)")
    print(f"delivery p99 (ms)                              {fmt(send['p99_ms'])}  target ≤ 250  {verdict(p99_ok)}")
    print(
        f"server memory per idle subscriber (KB)         {fmt(result['per_subscriber_kb'])}  target ≤ 50  "
        f"{verdict(memory_ok)}  (RSS {result['rss_before_kb']} → {result['rss_after_kb']} KB)"
    )
    return outcome


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.live", description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--decisions", type=int, default=100)
    parser.add_argument("--baseline", type=int, default=10, help="decisions with one subscriber first (default 10)")
    parser.add_argument("--idle-items", type=int, default=5, help="items that stay waiting throughout (default 5)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds for every delivery of the burst")
    kit_run.add_standard_arguments(parser, "live-*.json")
    args = kit_run.parse(parser, argv, {"subscribers": 20, "decisions": 10, "baseline": 3, "timeout": 60.0})
    return kit_run.run("bench.live", lambda cleanup: bench(args, cleanup))


if __name__ == "__main__":
    raise SystemExit(main())
