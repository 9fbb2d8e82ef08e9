"""Benchmark webhook delivery: deliveries per second from one server process to a local receiver with 10
endpoints, and the lag (event occurred -> received) at a sustained rate, with ratios from the same run.

    .venv/bin/python -m bench.webhooks [--endpoints 10] [--backlog 300] [--live-seconds 8] [--load 0.5] [--smoke]

1. A throw-away SQLite database seeded with executions whose one step awaits approval (app.seeding.bulk), a
   local receiver (a threaded http.server on 127.0.0.1 answering 200, recording when each request arrived)
   and the real server (`python -m app serve --no-seed`, one worker) with WEBHOOK_POLL_INTERVAL_SECONDS=0.1.
2. `--endpoints` endpoints for every workspace and every event (createWebhookEndpoint over GraphQL).
3. Capacity: with delivery off (WEBHOOK_DELIVERY_ENABLED=0) `--backlog` rejects are made (2 events each, so
   backlog × 2 × endpoints deliveries); the server is restarted with delivery on, and the drain is timed from
   its first to its last delivery: deliveries/s.
4. Lag at a rate: rejects at `--load` × the capacity (in events × endpoints per second) for `--live-seconds`;
   each delivery's lag is its arrival minus the event's `timestamp`; p50/p95/p99, and delivered ÷ offered.
5. `python -m app check` must be ok, every webhook-id must arrive (at least once), and no response an error.

Targets (PASS/MISS, exit 0 either way): delivered ÷ offered at the sustained rate ≥ 0.95; lag p99 ≤ 2 s at that
rate. The figures depend on this machine: 2 cores shared with other work; the report prints the core count and
load average.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import threading
import time
import urllib.request
from contextlib import ExitStack
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bench.kit import run as kit_run
from bench.kit.bodies import graphql_reject_body
from bench.kit.report import environment, fmt, latency_summary, loadavg, ratio, timestamp, verdict, write_result
from bench.kit.run import Outcome, add_standard_arguments, parse
from bench.kit.scratch import scratch_database, temporary_directory
from bench.kit.server import mint_token, run_check, start_server, wait_healthy

CREATE = (
    "mutation Create($input: ControlPlaneWebhookCreateInput!) "
    "{ createWebhookEndpoint(input: $input) { endpointId secret } }"
)
POLL_INTERVAL = "0.1"


@dataclass
class Arrivals:
    lock: threading.Lock = field(default_factory=threading.Lock)
    items: list[tuple[float, str, float]] = field(default_factory=list)
    """(arrival time, webhook-id, event time) per request."""

    def count(self) -> int:
        with self.lock:
            return len(self.items)

    def since(self, index: int) -> list[tuple[float, str, float]]:
        with self.lock:
            return list(self.items[index:])


def start_receiver(arrivals: Arrivals, cleanup: ExitStack) -> int:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            now = time.time()
            occurred = json.loads(body)["timestamp"].replace("Z", "+00:00")
            from datetime import datetime  # noqa: PLC0415 - the handler thread only

            with arrivals.lock:
                arrivals.items.append((now, self.headers["webhook-id"], datetime.fromisoformat(occurred).timestamp()))
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class names it so
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="receiver", daemon=True).start()
    cleanup.callback(server.server_close)
    cleanup.callback(server.shutdown)
    return int(server.server_address[1])


def post(base_url: str, token: str, body: bytes) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{base_url}/graphql",
        data=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        answer: dict[str, Any] = json.loads(response.read())
    if "errors" in answer:
        raise RuntimeError(f"GraphQL error: {answer['errors'][0].get('message')}")
    return answer


def wait_for(arrivals: Arrivals, count: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if arrivals.count() >= count:
            return True
        time.sleep(0.02)
    return arrivals.count() >= count


def reject_many(base_url: str, token: str, first: int, count: int, rate: float | None) -> float:
    """`count` rejects of the seeded steps from `first` on, paced at `rate` per second (None: as fast as one
    client goes); returns the seconds taken."""
    started = time.perf_counter()
    for offset in range(count):
        if rate:
            pause = started + offset / rate - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
        post(base_url, token, graphql_reject_body(first + offset))
    return time.perf_counter() - started


def body(cleanup: ExitStack, args: argparse.Namespace) -> Outcome:  # noqa: PLR0915 - one run, step by step
    outcome = Outcome()
    secret = secrets.token_urlsafe(32)
    var_dir = temporary_directory("bench-webhooks-", cleanup, keep=args.keep)
    live_rejects_max = int(args.live_seconds * 400) + 10
    seeded = args.backlog + live_rejects_max
    extra = {
        "WEBHOOK_ALLOW_HTTP": "1",
        "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "1",
        "WEBHOOK_POLL_INTERVAL_SECONDS": POLL_INTERVAL,
        "APPROVAL_SWEEPER_ENABLED": "0",
    }
    database = scratch_database("sqlite", var_dir, secret, cleanup, keep=args.keep, extra_env=extra, awaiting=seeded)
    arrivals = Arrivals()
    port = start_receiver(arrivals, cleanup)
    token = mint_token(secret)

    # Phase 1: endpoints and a backlog, delivery off.
    quiet = start_server(var_dir, database.env | {"WEBHOOK_DELIVERY_ENABLED": "0"}, name="no-delivery")
    cleanup.callback(quiet.stop)
    wait_healthy(quiet)
    for index in range(args.endpoints):
        values = {"url": f"http://127.0.0.1:{port}/hook/{index}", "eventKeys": ["*"], "createdBy": "bench-admin"}
        post(quiet.base_url, token, json.dumps({"query": CREATE, "variables": {"input": values}}).encode())
    backlog_seconds = reject_many(quiet.base_url, token, 0, args.backlog, None)
    quiet.stop()
    backlog = args.backlog * 2 * args.endpoints
    print(f"backlog: {args.backlog} rejects in {backlog_seconds:.1f} s, {backlog} deliveries queued")

    # Phase 2: drain the backlog (capacity).
    server = start_server(var_dir, database.env, name="delivering")
    cleanup.callback(server.stop)
    wait_healthy(server)
    outcome.require("the backlog was not delivered in time", ok=wait_for(arrivals, backlog, timeout=600))
    drained = arrivals.since(0)
    span = max(item[0] for item in drained) - min(item[0] for item in drained) if drained else 0.0
    capacity = len(drained) / span if span > 0 else float("nan")
    print(f"capacity: {len(drained)} deliveries in {span:.2f} s = {fmt(capacity, 1)} deliveries/s")

    # Phase 3: a sustained rate below capacity, and the lag at it.
    offered_events = max(capacity * args.load / args.endpoints, 1.0)  # events/s (each goes to every endpoint)
    rejects_per_second = min(offered_events / 2, 400.0)
    live_rejects = max(int(rejects_per_second * args.live_seconds), 1)
    before = arrivals.count()
    load_before = loadavg()
    took = reject_many(server.base_url, token, args.backlog, live_rejects, rejects_per_second)
    expected = live_rejects * 2 * args.endpoints
    outcome.require("the live deliveries did not all arrive", ok=wait_for(arrivals, before + expected, timeout=120))
    live = arrivals.since(before)
    offered_rate = expected / took if took > 0 else float("nan")
    live_span = max(item[0] for item in live) - min(item[0] for item in live) if live else 0.0
    delivered_rate = len(live) / live_span if live_span > 0 else float("nan")
    lags = sorted(max(arrival - occurred, 0.0) for arrival, _id, occurred in live)
    lag = latency_summary(lags)
    ids = {item[1] for item in arrivals.since(0)}
    outcome.require(
        f"{len(ids)} distinct webhook-ids arrived, {backlog + expected} expected", ok=len(ids) == backlog + expected
    )
    server.stop()
    check = run_check(var_dir, database.env)
    outcome.require("`python -m app check` is not ok", ok=check["ok"])

    cores = os.cpu_count()
    keep_up = ratio(delivered_rate, offered_rate)
    print()
    p99 = lag["p99_ms"] / 1000
    per_core = capacity / (cores or 1)
    print(f"machine: {cores} cores (shared), load average {load_before} before the live phase")
    print(f"one server process, SQLite; {args.endpoints} endpoints, poll interval {POLL_INTERVAL} s, local receiver")
    print(f"capacity (backlog drain)                   {fmt(capacity, 1)} deliveries/s, {fmt(per_core, 1)} per core")
    print(f"sustained rate offered                     {fmt(offered_rate, 1)} deliveries/s")
    print(f"sustained rate ÷ capacity                  {fmt(ratio(offered_rate, capacity))}  (info)")
    print(
        f"lag at that rate p50 / p90 / p99 / max     {fmt(lag['p50_ms'], 0)} / {fmt(lag['p90_ms'], 0)} / "
        f"{fmt(lag['p99_ms'], 0)} / {fmt(lag['max_ms'], 0)} ms"
    )
    print(f"delivered ÷ offered at the sustained rate  {fmt(keep_up)}  target ≥ 0.95  {verdict(keep_up >= 0.95)}")
    print(f"lag p99 ÷ poll interval                    {fmt(ratio(p99, float(POLL_INTERVAL)))}  (info)")
    print(f"lag p99                                    {fmt(p99, 3)} s  target ≤ 2 s  {verdict(p99 <= 2.0)}")
    print(f"`python -m app check` (exit {check['exit_code']}, {check['seconds']:.1f} s)")
    outcome.target("delivered ÷ offered ≥ 0.95", keep_up >= 0.95)
    outcome.target("lag p99 ≤ 2 s", p99 <= 2.0)
    if not args.no_json:
        write_result(
            f"webhooks-{timestamp()}",
            {
                "environment": environment(),
                "endpoints": args.endpoints,
                "capacity_per_second": capacity,
                "offered_per_second": offered_rate,
                "delivered_per_second": delivered_rate,
                "lag_seconds": lag,
                "check": check,
                "poll_interval_seconds": float(POLL_INTERVAL),
            },
        )
    return outcome


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.webhooks", description=__doc__.splitlines()[0])
    parser.add_argument("--endpoints", type=int, default=10, help="webhook endpoints, every event each (default 10)")
    parser.add_argument("--backlog", type=int, default=300, help="rejects queued before the drain (default 300)")
    parser.add_argument("--live-seconds", type=float, default=8.0, help="seconds of sustained load (default 8)")
    parser.add_argument("--load", type=float, default=0.5, help="sustained rate as a fraction of capacity (0.5)")
    add_standard_arguments(parser, "webhooks-<timestamp>.json")
    args = parse(parser, argv, {"backlog": 20, "live_seconds": 1.5, "endpoints": 10})
    return kit_run.run("bench.webhooks", lambda cleanup: body(cleanup, args))


if __name__ == "__main__":
    sys.exit(main())
