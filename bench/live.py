"""Live fan-out: many WebSocket subscribers on `approvalQueue` in one server process, a burst of decisions.

1. A temporary SQLite database with `--awaiting` executions whose one step awaits approval (app.seeding.bulk).
2. One `python -m app serve --no-seed` (WORKERS=1) with the per-principal socket limit raised.
3. Baseline, in the same run: one subscriber, `--baseline` decisions one after the other; the latency of each.
4. `--subscribers` sockets (graphql-transport-ws), spread over `--client-processes` processes of the lean client
   bench/kit/wsclients.py (each its own event loop; raw sans-I/O `websockets`, bytes tests, a sample parsed in
   full), each subscribe to the whole queue and read their snapshot; the server's RSS before and after gives the
   memory per idle subscriber (`--trace-memory`: and what it is, by source line, from the server's tracemalloc).
5. A burst of `--decisions` rejects sent at once (16 at a time); every subscriber must see every step `removed`.
   Latency of a delivery = its receipt − the answer to the decision's request (the commit is just before the
   answer: the nearest point of commit → receipt a client can see); receipt − the request's send is printed as
   information. p50 / p99 over every (decision, subscriber) delivery; the receipt times come from the client
   processes (CLOCK_MONOTONIC, the same clock machine-wide).

The CPU of the server, of the client processes and of this process (which sends the decisions) during the burst
is printed per delivery next to each other, with the core count and the machine's load: the clients must not be
what limits the run (their CPU well below the server's, the busiest client process far from a full core).

Targets: p99 ≤ 250 ms; memory ≤ 50 KB per idle subscriber.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import secrets
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

from bench.kit import run as kit_run
from bench.kit import wsclients
from bench.kit.bodies import execution_id, step_id
from bench.kit.cpu import cpu_delta, cpu_snapshot, machine_busy, machine_cpu, process_cpu_seconds
from bench.kit.report import environment, fmt, latency_summary, loadavg, verdict, write_result
from bench.kit.scratch import scratch_database, temporary_directory
from bench.kit.server import SUBJECT, mint_token, run_check, start_server, wait_healthy

REJECT = "mutation($input: ControlPlaneExecutionRejectInput!) { rejectExecutionStep(input: $input) { status } }"
P99_TARGET_MS = 250.0
MEMORY_TARGET_KB = 50.0


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


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


class ClientProcess:
    """One `python -m bench.kit.wsclients` with its share of the subscribers (its own event loop)."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.ready: dict[str, Any] = {}
        self.done: dict[str, Any] = {}

    @classmethod
    async def start(cls, args: argparse.Namespace, ws_url: str, token: str, sockets: int) -> ClientProcess:
        command = [sys.executable, "-m", "bench.kit.wsclients", "--url", ws_url, "--sockets", str(sockets)]
        command += ["--snapshot", str(args.awaiting - args.baseline), "--decisions", str(args.decisions)]
        command += ["--timeout", str(args.timeout)] + ([] if args.deflate else ["--no-deflate"])
        proc = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=os.environ | {"BENCH_TOKEN": token},
            limit=1 << 26,
        )
        return cls(proc)

    async def _line(self, seconds: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), seconds)
        if not line:
            raise RuntimeError(f"a client process exited (code {await self.proc.wait()}) without reporting")
        message: dict[str, Any] = json.loads(line)
        return message

    async def wait_ready(self) -> None:
        self.ready = await self._line(600)

    async def go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"go\n")
        await self.proc.stdin.drain()

    async def wait_done(self, seconds: float) -> None:
        self.done = await self._line(seconds + 60)

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
        await self.proc.wait()


async def baseline_latencies(
    args: argparse.Namespace, http: httpx.AsyncClient, urls: tuple[str, str], token: str
) -> list[float]:
    """One subscriber (the same lean client, in this process), decisions one after the other."""
    ws_url, graphql_url = urls
    receipts = wsclients.Receipts()
    seen = asyncio.Event()
    receipts.on_removed = lambda _step, _at: seen.set()
    subscribers, _ = await wsclients.connect(
        ws_url, 1, token=token, snapshot=args.awaiting, receipts=receipts, deflate=args.deflate
    )
    if receipts.errors:
        raise RuntimeError(f"the lone subscriber: {receipts.errors[0]}")
    latencies = []
    for index in range(args.baseline):
        seen.clear()
        _, sent, _ = await decide(http, graphql_url, token, index)
        await asyncio.wait_for(seen.wait(), 10)
        latencies.append(receipts.removed[step_id(index)][0] - sent)
    subscribers[0].close()
    return latencies


async def memory_mark(http: httpx.AsyncClient, base_url: str, *, mark: bool) -> dict[str, Any] | None:
    """With `--trace-memory`: the server's tracemalloc, grown since the last mark, by source line."""
    response = await http.get(f"{base_url}/bench/memory", params={"mark": "1" if mark else "0", "top": "14"})
    response.raise_for_status()
    found: dict[str, Any] = response.json()
    return found


async def measure(args: argparse.Namespace, base_url: str, token: str, pid: int) -> dict[str, Any]:
    ws_url = base_url.replace("http://", "ws://") + "/graphql"
    graphql_url = base_url + "/graphql"
    result: dict[str, Any] = {}
    clients: list[ClientProcess] = []
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=16)) as http:
        try:
            baseline = await baseline_latencies(args, http, (ws_url, graphql_url), token)
            await asyncio.sleep(1.0)
            # The crowd, over `--client-processes` processes: every subscriber reads its snapshot, then sits idle.
            shares = [len(range(k, args.subscribers, args.client_processes)) for k in range(args.client_processes)]
            if args.trace_memory:
                await memory_mark(http, base_url, mark=True)
            rss_before = rss_kb(pid)
            connect_started = time.perf_counter()
            clients = [await ClientProcess.start(args, ws_url, token, share) for share in shares if share]
            await asyncio.gather(*(client.wait_ready() for client in clients))
            connect_seconds = time.perf_counter() - connect_started
            errors = [error for client in clients for error in client.ready["errors"]]
            if errors:
                raise RuntimeError(f"{len(errors)} subscriber errors, e.g. {errors[0]}")
            await asyncio.sleep(2.0)
            rss_after = rss_kb(pid)
            memory = await memory_mark(http, base_url, mark=False) if args.trace_memory else None
            # The burst.
            indexes = list(range(args.baseline, args.baseline + args.decisions))
            await asyncio.gather(*(client.go() for client in clients))
            client_pids = [int(client.ready["pid"]) for client in clients]
            cpu_before = process_cpu_seconds(pid) or 0.0
            clients_before = cpu_snapshot(client_pids)
            parent_before = time.process_time()
            machine_before = machine_cpu()
            burst_started = time.perf_counter()
            sem = asyncio.Semaphore(16)

            async def limited(index: int) -> tuple[int, float, float]:
                async with sem:
                    return await decide(http, graphql_url, token, index)

            decided = await asyncio.gather(*(limited(index) for index in indexes))
            parent_cpu = time.process_time() - parent_before
            await asyncio.gather(*(client.wait_done(args.timeout) for client in clients))
            cpu_burst = (process_cpu_seconds(pid) or 0.0) - cpu_before
            clients_cpu_proc = cpu_delta(clients_before, cpu_snapshot(client_pids))
            machine = machine_busy(machine_before, machine_cpu())
        finally:
            await asyncio.gather(*(client.stop() for client in clients))
    receipts: dict[str, list[float]] = {}
    for client in clients:
        for step, times in client.done["removed"].items():
            receipts.setdefault(step, []).extend(times)
    from_send = [at - sent for i, sent, _ in decided for at in receipts.get(step_id(i), [])]
    from_answer = [at - answered for i, _, answered in decided for at in receipts.get(step_id(i), [])]
    last_receipt = max((max(times) for times in receipts.values()), default=burst_started)
    clients_cpu = sum(float(client.done["cpu_seconds"]) for client in clients)
    deliveries = args.subscribers * args.decisions
    result.update(
        baseline=latency_summary(baseline),
        from_send=latency_summary(from_send),
        from_answer=latency_summary(from_answer),
        delivered=len(from_send),
        deliveries=deliveries,
        complete=all(client.done["complete"] for client in clients),
        sampled=sum(int(client.done["sampled"]) for client in clients),
        client_processes=len(clients),
        burst_seconds=last_receipt - burst_started,
        server_cpu_burst=cpu_burst,
        clients_cpu_burst=clients_cpu,
        clients_cpu_until_reported=clients_cpu_proc,
        busiest_client_cpu=max(float(client.done["cpu_seconds"]) for client in clients),
        parent_cpu_burst=parent_cpu,
        machine_busy_fraction=(machine[0] / machine[3]) if machine and machine[3] else None,
        machine_busy_seconds=machine[0] / os.sysconf("SC_CLK_TCK") if machine else None,
        connect_seconds=connect_seconds,
        rss_before_kb=rss_before,
        rss_after_kb=rss_after,
        per_subscriber_kb=(rss_after - rss_before) / max(1, args.subscribers),
        memory=memory,
    )
    return result


def bench(args: argparse.Namespace, cleanup: ExitStack) -> kit_run.Outcome:  # noqa: PLR0915 - one report
    outcome = kit_run.Outcome()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4 * args.subscribers + 256)), hard))
    directory = temporary_directory("bench-live-", cleanup, keep=args.keep)
    secret = secrets.token_urlsafe(32)
    awaiting = args.baseline + args.decisions + args.idle_items
    args.awaiting = awaiting
    args.client_processes = max(1, min(args.client_processes, args.subscribers))
    extra_env = {
        "LOG_LEVEL": "warning",
        "APPROVAL_SWEEPER_ENABLED": "0",
        "WS_MAX_CONNECTIONS_PER_PRINCIPAL": str(args.subscribers + 10),
    }
    if args.trace_memory:
        extra_env["PYTHONTRACEMALLOC"] = "1"
    database = scratch_database(
        "sqlite", directory / "sqlite", secret, cleanup, keep=args.keep, awaiting=awaiting, extra_env=extra_env
    )
    server = start_server(database.var_dir, database.env, bench_endpoints=args.trace_memory)
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
    p99_ok = answer["p99_ms"] <= P99_TARGET_MS
    memory_ok = result["per_subscriber_kb"] <= MEMORY_TARGET_KB
    outcome.target("p99", p99_ok)
    outcome.target("memory", memory_ok)
    deliveries, wall = result["deliveries"], result["burst_seconds"]
    rate = deliveries / wall if wall else float("nan")
    server_cpu, clients_cpu = result["server_cpu_burst"], result["clients_cpu_burst"]
    busy = result["machine_busy_fraction"]
    busy_seconds = result["machine_busy_seconds"]
    others = busy_seconds - server_cpu - clients_cpu - result["parent_cpu_burst"] if busy_seconds is not None else None
    print(
        f"\nmachine: {cores} cores (shared), load average before {load}, after {loadavg()}; the subscribers run in "
        f"{result['client_processes']} client processes (bench.kit.wsclients) on the same cores"
    )
    print(
        f"{args.subscribers} subscribers × {args.decisions} decisions = {deliveries} deliveries "
        f"(each subscriber's snapshot: {args.awaiting - args.baseline} items, "
        f"read in {result['connect_seconds']:.1f} s;"
        f" permessage-deflate {'offered' if args.deflate else 'not offered'}; {result['sampled']} messages parsed in"
        " full to check the bytes tests)"
    )
    print(f"baseline, 1 subscriber, decisions one by one   p50 {fmt(base['p50_ms'])} ms  p99 {fmt(base['p99_ms'])} ms")
    print(
        f"burst, decision answered → receipt            p50 {fmt(answer['p50_ms'])} ms  "
        f"p99 {fmt(answer['p99_ms'])} ms  max {fmt(answer['max_ms'])} ms"
    )
    print(
        f"burst, request sent → receipt (info)          p50 {fmt(send['p50_ms'])} ms  p99 {fmt(send['p99_ms'])} ms  "
        f"max {fmt(send['max_ms'])} ms"
    )
    print(
        f"burst: {wall:.2f} s from the first decision sent to the last receipt, {rate:.0f} deliveries/s; "
        f"machine busy {fmt(100 * busy if busy is not None else None, 0)} % of {cores} cores, of which other "
        f"processes than the server, the clients and this one {fmt(others, 1)} s of CPU"
    )
    print(
        f"CPU per delivery: server {1e6 * server_cpu / deliveries:.0f} µs ({server_cpu:.2f} s, "
        f"{fmt(100 * server_cpu / wall if wall else None, 0)} % of one core), clients "
        f"{1e6 * clients_cpu / deliveries:.0f} µs ({clients_cpu:.2f} s over {result['client_processes']} processes, "
        f"the busiest {fmt(100 * result['busiest_client_cpu'] / wall if wall else None, 0)} % of one core), "
        f"decisions' sender {1e6 * result['parent_cpu_burst'] / deliveries:.0f} µs"
    )
    print(
        f"client CPU ÷ server CPU                        "
        f"{fmt(clients_cpu / server_cpu if server_cpu else None)}  (info)"
    )
    spread = answer["p99_ms"] / base["p50_ms"] if base["p50_ms"] else float("nan")
    print(f"burst p99 ÷ baseline p50                       {fmt(spread)}  (info)")
    print(f"delivery p99, answered → receipt (ms)          {fmt(answer['p99_ms'])}  target ≤ 250  {verdict(p99_ok)}")
    print(
        f"server memory per idle subscriber (KB)         {fmt(result['per_subscriber_kb'])}  target ≤ 50  "
        f"{verdict(memory_ok)}  (RSS {result['rss_before_kb']} → {result['rss_after_kb']} KB)"
    )
    if result["memory"] is not None:
        memory = result["memory"]
        grown = memory["grown_bytes"] / 1024 / args.subscribers
        print(
            f"tracemalloc: Python allocations grew {grown:.1f} KB per subscriber (the rest of the RSS is native: "
            f"zlib, the allocator's arenas); by source line, KB per subscriber:"
        )
        print(
            "  by package:  "
            + ",  ".join(
                f"{entry['where']} {entry['size'] / 1024 / args.subscribers:.1f}" for entry in memory["packages"]
            )
        )
        for line in memory["top"]:
            print(
                f"  {line['size'] / 1024 / args.subscribers:7.2f}  {line['count'] / args.subscribers:6.1f} blocks  "
                f"{line['where']}"
            )
    if not args.no_json:
        write_result("live", {"environment": environment(("websockets",)), "arguments": vars(args), **result})
    return outcome


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.live", description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--decisions", type=int, default=100)
    parser.add_argument("--baseline", type=int, default=10, help="decisions with one subscriber first (default 10)")
    parser.add_argument("--idle-items", type=int, default=5, help="items that stay waiting throughout (default 5)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds for every delivery of the burst")
    parser.add_argument(
        "--client-processes", type=int, default=4, help="processes the subscribers are spread over (default 4)"
    )
    parser.add_argument(
        "--no-deflate", dest="deflate", action="store_false", help="the clients do not offer permessage-deflate"
    )
    parser.add_argument(
        "--trace-memory",
        action="store_true",
        help="run the server with tracemalloc and print what the idle subscribers' memory is (slower)",
    )
    kit_run.add_standard_arguments(parser, "live-*.json")
    args = kit_run.parse(parser, argv, {"subscribers": 20, "decisions": 10, "baseline": 3, "timeout": 60.0})
    return kit_run.run("bench.live", lambda cleanup: bench(args, cleanup))


if __name__ == "__main__":
    raise SystemExit(main())
