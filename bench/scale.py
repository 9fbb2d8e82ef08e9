"""Benchmark how the reject mutation scales: PostgreSQL with one and two server processes, and SQLite, in one run.

    .venv/bin/python bench/scale.py [--duration 8] [--warmup 1] [--concurrency 16,32] [--executions 40000]
                                    [--configs pg1,pg2,pgw2,sqlite] [--client raw|httpx] [--db-pool-size N]

It creates a throw-away PostgreSQL database (dropped at exit) and a throw-away SQLite VAR_DIR, migrates both
with `python -m app migrate` and pre-seeds each with `--executions` executions of one `awaiting_approval` step,
then starts the servers (`python -m app serve --no-seed`) and drives them from a separate load-generator
process with the GraphQL `rejectExecutionStep` mutation, a distinct step per request, admin bearer token.
Configurations, each for a fixed duration after an unmeasured warm-up, at each concurrency:

    pg1     PostgreSQL, one server process (WORKERS=1)
    pg2     PostgreSQL, two server processes on two ports; the client splits its connections evenly
    pgw2    PostgreSQL, one server with WORKERS=2 (uvicorn's supervisor and two workers on one port)
    sqlite  SQLite, one server process (WORKERS=1)

It prints throughput, latency, errors, the CPU time per request of the servers, of PostgreSQL and of the
client, how busy the machine was, what the PostgreSQL connections were waiting for (sampled from
pg_stat_activity), the ratios (PG 2 processes ÷ PG 1 process against its target, SQLite ÷ PostgreSQL), then
verifies both databases with `python -m app check`, and writes bench/results/scale-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import resource
import secrets
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import asyncpg

from bench.kit import run as kit_run
from bench.kit.bodies import answer_problem, graphql_reject_body
from bench.kit.client import run_client
from bench.kit.cpu import (
    all_processes_cpu,
    cpu_delta,
    cpu_snapshot,
    established_connections,
    machine_busy,
    machine_cpu,
    process_cpu_seconds,
)
from bench.kit.report import counts_line, environment, fmt, loadavg, timestamp, verdict, write_result
from bench.kit.run import Outcome, add_load_arguments, add_standard_arguments, concurrency_levels, parse
from bench.kit.scratch import (
    DEFAULT_PG_ADMIN_URL,
    SAMPLER_NAME,
    ScratchDatabase,
    pg_fetch,
    scratch_database,
    temporary_directory,
    verify,
)
from bench.kit.server import Server, mint_token, post, start_server, wait_healthy

CONFIGS = {
    # name: (database, servers it drives, label)
    "pg1": ("pg", ("pg-a",), "PostgreSQL, 1 process"),
    "pg2": ("pg", ("pg-a", "pg-b"), "PostgreSQL, 2 processes (2 ports, client splits)"),
    "pgw2": ("pg", ("pg-w2",), "PostgreSQL, WORKERS=2 (1 port, uvicorn workers)"),
    "sqlite": ("sqlite", ("sqlite",), "SQLite, 1 process"),
}
SERVERS = {"pg-a": ("pg", 1), "pg-b": ("pg", 1), "pg-w2": ("pg", 2), "sqlite": ("sqlite", 1)}  # database, workers
TARGET_SCALE = 1.6  # PG two processes ÷ one process throughput
APP_NAME = "control-plane"  # the application_name of the servers' PostgreSQL connections
# --smoke: pgw2 left out (three more processes to boot on a small machine; the full run measures it)
SMOKE = {"duration": 0.3, "warmup": 0.2, "concurrency": "16", "executions": 1500, "configs": "pg1,pg2,sqlite"}

# One row per sample of the servers' PostgreSQL connections. A decision takes the event_counter row lock with
# `UPDATE event_counter ...` (on PostgreSQL inside `WITH seq AS (UPDATE event_counter ...) INSERT ...`) and holds
# it until COMMIT, so the connections waiting on that statement are the queue for the lock; the holder is the
# one blocking them that is not itself waiting for a lock.
SAMPLE_SQL = """
WITH a AS MATERIALIZED (
    SELECT pid, state, wait_event_type, wait_event, query FROM pg_stat_activity
    WHERE datname = current_database() AND application_name = $1
),
counter_waiters AS (
    SELECT pid FROM a WHERE wait_event_type = 'Lock' AND query ILIKE '%UPDATE event_counter%'
),
holders AS (
    SELECT DISTINCT b.pid FROM counter_waiters w, LATERAL unnest(pg_blocking_pids(w.pid)) AS b(pid)
)
SELECT
    (SELECT count(*) FROM a) AS connections,
    (SELECT count(*) FROM a WHERE state = 'active') AS active,
    (SELECT count(*) FROM a WHERE state = 'active' AND wait_event_type IS NULL) AS running,
    (SELECT count(*) FROM a WHERE state = 'idle in transaction') AS idle_in_tx,
    (SELECT count(*) FROM a WHERE wait_event_type = 'Lock') AS lock_waits,
    (SELECT count(*) FROM counter_waiters) AS counter_waits,
    (SELECT count(*) FROM a WHERE wait_event IN ('WALSync', 'WALWrite', 'WALInsert')) AS wal_waits,
    (SELECT string_agg(coalesce(a.state, '?') || '/' || coalesce(a.wait_event, 'cpu'), ',')
       FROM holders h JOIN a ON a.pid = h.pid WHERE a.wait_event_type IS DISTINCT FROM 'Lock') AS holder
"""
RUNS_LEGEND = (
    "procs = server processes (uvicorn workers); split = measured requests per server (conns = established",
    "  connections per server process, counted once after the warm-up);",
    "srv/db/client = CPU ms per request of the server processes / PostgreSQL (this database's backends and the",
    "  background processes) / the load generator; SQLite's work is in srv;",
    "busy% = all CPUs over the run; other = machine busy ms per request outside srv, db, the whole client process",
    "  and the sampler: the kernel and any other load (busiest other processes still running at the end are",
    "  listed below when it matters; processes that came and went only show in `other`).",
)
PG_WAITS_LEGEND = (
    "conns = the servers' connections; active = running a statement; on-cpu = of which not waiting for anything;",
    "idle-tx = in a transaction, waiting for the server process to send the next statement;",
    "lock-q = waiting for any lock; ctr-q = of which on `UPDATE event_counter` (the row lock each decision takes",
    "  and holds until COMMIT); WAL = waiting for a WAL write or flush (commit);",
    "ctr-busy = share of samples with a queue on that lock; ctr-wait = ctr-q ÷ req/s (Little's law), the mean time",
    "  a request waits for it; hold≥ = ctr-busy ÷ req/s, a lower bound on how long each decision holds the lock",
    "  (1000 ÷ hold = the most decisions per second it lets through);",
    "holder = what the transaction holding the lock was doing (idle in transaction/ClientRead = waiting for its",
    "  server process; active/WALSync = committing).",
)
SAMPLE_COLUMNS = ("connections", "active", "running", "idle_in_tx", "lock_waits", "counter_waits", "wal_waits")


# --------------------------------------------------------------------------------------------------
# PostgreSQL helpers
# --------------------------------------------------------------------------------------------------


def pg_pids(dsn: str) -> list[int]:
    """PostgreSQL processes doing the servers' work: their backends in this database and the background
    processes (WAL writer, checkpointer, ...); not the backends of other databases, not the sampler."""
    rows = pg_fetch(
        dsn,
        "SELECT pid FROM pg_stat_activity WHERE (datname = current_database() AND application_name = $1) "
        "OR (datname = current_database() AND backend_type = 'autovacuum worker') "
        "OR backend_type NOT IN ('client backend', 'autovacuum worker')",
        APP_NAME,
    )
    return [row["pid"] for row in rows]


class Sampler(threading.Thread):
    """During a run: once, the connections per server process; then, when `dsn` is given, pg_stat_activity of
    the servers' connections every `interval` seconds until stopped."""

    def __init__(self, dsn: str | None, delay: float, interval: float, servers: list[Server]) -> None:
        super().__init__(name="bench-sampler", daemon=True)
        self.dsn, self.delay, self.interval, self.servers = dsn, delay, interval, servers
        self.stop_event = threading.Event()
        self.rows: list[tuple[Any, ...]] = []
        self.connections: list[int] = []
        self.backend_pid: int | None = None
        self.backend_cpu = 0.0  # CPU seconds of the sampler's own PostgreSQL backend
        self.error: str | None = None

    def stop(self) -> None:
        self.stop_event.set()
        self.join(timeout=10)

    def run(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception as error:  # noqa: BLE001 - reported, not fatal: the samples only explain the figures
            self.error = f"{type(error).__name__}: {error}"

    async def _main(self) -> None:
        connection = None
        if self.dsn is not None:
            connection = await asyncpg.connect(self.dsn, timeout=10, server_settings={"application_name": SAMPLER_NAME})
            self.backend_pid = connection.get_server_pid()
        try:
            if self.stop_event.wait(self.delay):
                return
            for server in self.servers:
                self.connections.extend(established_connections(server.worker_pids(), server.port).values())
            if connection is None:
                return
            statement = await connection.prepare(SAMPLE_SQL)
            while not self.stop_event.is_set():
                row = await statement.fetchrow(APP_NAME)
                if row is not None:
                    self.rows.append(tuple(row))
                await asyncio.sleep(self.interval)
        finally:
            if connection is not None:
                if self.backend_pid is not None:
                    self.backend_cpu = process_cpu_seconds(self.backend_pid) or 0.0
                await connection.close()

    def summary(self, throughput: float) -> dict[str, Any] | None:
        if not self.rows:
            return None
        count = len(self.rows)
        means = {name: sum(row[i] for row in self.rows) / count for i, name in enumerate(SAMPLE_COLUMNS)}
        holders: dict[str, int] = {}
        for row in self.rows:
            for holder in (row[len(SAMPLE_COLUMNS)] or "").split(","):
                if holder:
                    holders[holder] = holders.get(holder, 0) + 1
        counter_busy = sum(1 for row in self.rows if row[SAMPLE_COLUMNS.index("counter_waits")] > 0) / count
        return {
            "samples": count,
            "interval_s": self.interval,
            "mean": means,
            # Little's law: mean queue length ÷ throughput = mean time per request spent in that queue.
            "counter_wait_ms_per_req": means["counter_waits"] / throughput * 1000 if throughput else math.nan,
            "lock_wait_ms_per_req": means["lock_waits"] / throughput * 1000 if throughput else math.nan,
            "counter_contended_share": counter_busy,
            # The lock is held at least whenever someone queues for it: utilisation ≥ counter_busy, and
            # utilisation = throughput × mean hold time, so the mean hold per decision is at least this.
            "counter_hold_ms_lower_bound": counter_busy / throughput * 1000 if throughput else math.nan,
            "counter_holder_states": dict(sorted(holders.items(), key=lambda item: -item[1])),
        }


# --------------------------------------------------------------------------------------------------
# Preparation
# --------------------------------------------------------------------------------------------------


def prepare_database(
    kind: str, root: Path, secret: str, args: argparse.Namespace, cleanup: ExitStack
) -> ScratchDatabase:
    """Migrated and seeded; a PostgreSQL database is dropped by `cleanup` whatever fails after it was created."""
    extra = {"DB_POOL_SIZE": str(args.db_pool_size)} if args.db_pool_size is not None else {}
    return scratch_database(
        kind,
        root / kind,
        secret,
        cleanup,
        keep=args.keep,
        pg_admin_url=args.pg_admin_url,
        extra_env=extra,
        awaiting=args.executions,
    )


def wait_workers(server: Server, timeout: float = 60.0) -> None:
    """WORKERS > 1: /healthz answers as soon as one worker does. Wait until every worker has started and its
    start-up CPU burst (imports, migration check) is over, so the connections spread over all of them."""
    deadline = time.perf_counter() + timeout
    previous: dict[int, float] = {}
    while time.perf_counter() < deadline:
        if (gone := server.exited()) is not None:
            raise RuntimeError(gone)
        workers = server.worker_pids()
        current = cpu_snapshot(workers)
        if (
            len(workers) >= server.workers
            and set(previous) == set(current)
            and all(current[pid] - previous[pid] < 0.02 for pid in current)
        ):
            return
        previous = current
        time.sleep(0.3)
    raise RuntimeError(f"{server.name}: the {server.workers} workers did not settle within {timeout:.0f} s")


def start_servers(names: list[str], databases: dict[str, ScratchDatabase], cleanup: ExitStack) -> dict[str, Server]:
    servers: dict[str, Server] = {}
    for name in names:
        kind, workers = SERVERS[name]
        database = databases[kind]
        log_path = database.var_dir.parent / f"{name}.log"
        server = start_server(
            database.var_dir,
            database.env,
            name=name,
            database=kind,
            workers=workers,
            bench_endpoints=False,
            log_path=log_path,
        )
        cleanup.callback(server.stop)
        servers[name] = server
        database.servers.append(server)
    for server in servers.values():
        boot = wait_healthy(server)
        if server.workers > 1:
            wait_workers(server)
        print(
            f"{server.name:<6} pid {server.proc.pid} on {server.base_url} ({server.workers} worker"
            f"{'s' if server.workers > 1 else ''}) healthy after {boot:.1f} s"
        )
    return servers


def preflight(server: Server, database: ScratchDatabase, token: str) -> None:
    """One reject through the server, so a broken setup fails loudly before any measurement."""
    status, content = post(server.base_url + "/graphql", graphql_reject_body(database.cursor), token)
    database.cursor += 1
    problem = answer_problem("reject", status, content, '"status":"rejected"')
    if problem is not None:
        database.uncertain += 1
        raise RuntimeError(f"pre-flight reject through {server.name} failed: {problem}")
    database.succeeded += 1


# --------------------------------------------------------------------------------------------------
# One measured run
# --------------------------------------------------------------------------------------------------


def measure(
    config_name: str,
    concurrency: int,
    database: ScratchDatabase,
    servers: list[Server],
    *,
    token: str,
    args: argparse.Namespace,
) -> dict[str, Any]:
    config = {
        "target": "reject",
        "client": args.client,
        "concurrency": concurrency,
        "warmup": args.warmup,
        "duration": args.duration,
        "base_urls": [server.base_url for server in servers],
        "token": token,
        "first_step": database.cursor,
        "last_step": args.executions,
    }
    sampler = Sampler(
        database.dsn if database.kind == "pg" and args.sample_interval > 0 else None,
        delay=args.warmup + 0.5,  # the client process starts in ~0.5 s, then warms up
        interval=args.sample_interval,
        servers=servers,
    )
    server_pids = [pid for server in servers for pid in server.pids()]
    db_pids = pg_pids(database.dsn) if database.dsn else []
    server_before, db_before = cpu_snapshot(server_pids), cpu_snapshot(db_pids)
    everything_before = all_processes_cpu()
    machine_before, parent_before = machine_cpu(), time.process_time()
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)  # the client process, once it has exited
    sampler.start()
    try:
        run = run_client(config)
    finally:
        sampler.stop()
    machine_after, parent_after = machine_cpu(), time.process_time()
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    everything_after = all_processes_cpu()
    server_pids = [pid for server in servers for pid in server.pids()]
    db_pids = pg_pids(database.dsn) if database.dsn else []
    server_after, db_after = cpu_snapshot(server_pids), cpu_snapshot(db_pids)

    served = run["requests"] + run["warmup_requests"]
    tick = os.sysconf("SC_CLK_TCK")
    client_total = (children_after.ru_utime + children_after.ru_stime) - (
        children_before.ru_utime + children_before.ru_stime
    )
    known = {*server_pids, *db_pids, os.getpid()}
    others = sorted(
        (
            (seconds - everything_before.get(pid, (0.0, ""))[0], name)
            for pid, (seconds, name) in everything_after.items()
            if pid not in known
        ),
        reverse=True,
    )
    run |= {
        "config": config_name,
        "database": database.kind,
        "servers": [server.name for server in servers],
        "processes": sum(server.workers for server in servers),
        "server_cpu_ms_per_req": cpu_delta(server_before, server_after) * 1000 / served if served else None,
        "db_cpu_ms_per_req": (
            cpu_delta(db_before, db_after) * 1000 / served if served and database.kind == "pg" else None
        ),
        "connections_per_process": sampler.connections,
        # The client's whole process (start-up included), then the benchmark's own process (the sampler).
        "client_process_cpu_ms": client_total * 1000,
        "bench_process_cpu_ms": (parent_after - parent_before) * 1000,
        "sampler_backend_cpu_ms": sampler.backend_cpu * 1000,
        # Busy processes on the machine that are neither servers, PostgreSQL (this database) nor the bench.
        "other_processes_cpu_ms": {name: round(seconds * 1000) for seconds, name in others[:5] if seconds >= 0.05},
    }
    if (used := machine_busy(machine_before, machine_after)) is not None:
        busy, steal, interrupts, total = used
        run["machine_busy_pct"] = busy / total * 100 if total else None
        run["machine_steal_pct"] = steal / total * 100 if total else None
        run["machine_irq_pct"] = interrupts / total * 100 if total else None
        run["machine_busy_ms_per_req"] = busy * 1000 / tick / served if served else None
        accounted = (
            cpu_delta(server_before, server_after)
            + cpu_delta(db_before, db_after)
            + client_total
            + (parent_after - parent_before)
            + sampler.backend_cpu
        )
        run["other_cpu_ms_per_req"] = (busy / tick - accounted) * 1000 / served if served else None
    run["pg_waits"] = sampler.summary(run["throughput_rps"])
    if sampler.error:
        run["pg_waits_error"] = sampler.error

    database.cursor += run["steps_used"]
    database.succeeded += served - run["errors"] - run["warmup_errors"]
    database.uncertain += run["errors"] + run["warmup_errors"]
    for server in servers:
        if (gone := server.exited()) is not None:
            raise RuntimeError(gone)
    return run


def progress_line(run: dict[str, Any]) -> str:
    waits = run.get("pg_waits") or {}
    extra = f"  counter-lock queue {waits['mean']['counter_waits']:.1f}" if waits else ""
    return (
        f"  {run['config']:<7} c={run['concurrency']:<3} {run['throughput_rps']:8.1f} req/s  "
        f"p50 {run['p50_ms']:7.2f} ms  p99 {run['p99_ms']:7.2f} ms  errors {run['errors']}"
        f"  srv {fmt(run['server_cpu_ms_per_req'])} ms/req{extra}"
        + ("  STEPS EXHAUSTED: raise --executions" if run["exhausted"] else "")
    )


# --------------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------------


def ratios(runs: list[dict[str, Any]], concurrencies: list[int]) -> list[dict[str, Any]]:
    by_key = {(run["config"], run["concurrency"]): run for run in runs}
    checks: list[dict[str, Any]] = []

    def rate(name: str, concurrency: int) -> float | None:
        run = by_key.get((name, concurrency))
        return run["throughput_rps"] if run else None

    for concurrency in concurrencies:
        base = rate("pg1", concurrency)
        for name, label in (("pg2", "2 processes, 2 ports"), ("pgw2", "WORKERS=2, 1 port")):
            other = rate(name, concurrency)
            if base and other is not None:
                value = other / base
                checks.append(
                    {
                        "name": f"PG {label} ÷ PG 1 process",
                        "concurrency": concurrency,
                        "value": value,
                        "target": f"≥ {TARGET_SCALE:.2f}",
                        "pass": value >= TARGET_SCALE,
                    }
                )
        sqlite = rate("sqlite", concurrency)
        if base and sqlite is not None:
            checks.append(
                {
                    "name": "SQLite ÷ PG, 1 process each",
                    "concurrency": concurrency,
                    "value": sqlite / base,
                    "target": None,
                    "pass": None,
                }
            )
    return checks


def print_report(result: dict[str, Any]) -> None:
    env, config = result["environment"], result["config"]
    print()
    print(
        f"cpu_count={env['cpu_count']}  loadavg(before)={env['loadavg_before']}  python={env['python']}  "
        f"sqlite={env['sqlite']}  postgresql={env.get('postgresql')}"
    )
    print(
        f"duration={config['duration']}s  warmup={config['warmup']}s  seeded steps={config['executions']} per database"
        f"  client={config['client']}  DB_POOL_SIZE={config['db_pool_size'] or 'default'}  commit={env['git_commit']}"
        + (" (app/ modified)" if env["git_dirty"] else "")
    )
    print()
    header = (
        f"{'config':<7} {'procs':>5} {'conc':>4} {'requests':>8} {'errors':>6} {'req/s':>8} {'p50 ms':>8} "
        f"{'p99 ms':>8} {'srv ms/req':>10} {'db ms/req':>9} {'client':>6} {'busy%':>5} {'other':>6}  split"
    )
    print(header)
    print("-" * len(header))
    for run in result["runs"]:
        other = run.get("other_cpu_ms_per_req")
        split = "/".join(str(n) for n in run.get("requests_per_server", [])) or "-"
        if len(run["connections_per_process"]) > 1:
            split += f" (conns {'/'.join(map(str, run['connections_per_process']))})"
        print(
            f"{run['config']:<7} {run['processes']:>5} {run['concurrency']:>4} {run['requests']:>8} "
            f"{run['errors']:>6} {run['throughput_rps']:>8.1f} {run['p50_ms']:>8.2f} {run['p99_ms']:>8.2f} "
            f"{fmt(run['server_cpu_ms_per_req']):>10} {fmt(run['db_cpu_ms_per_req']):>9} "
            f"{run['client_cpu_ms_per_req']:>6.2f} {fmt(run.get('machine_busy_pct'), 0):>5} {fmt(other):>6}  {split}"
            + ("  (steps exhausted!)" if run["exhausted"] else "")
        )
    for line in RUNS_LEGEND:
        print(f"  {line}")
    print_pg_waits(result)
    print_ratios(result)
    print_verification(result["verification"])


def print_pg_waits(result: dict[str, Any]) -> None:
    config = result["config"]
    pg_runs = [run for run in result["runs"] if run.get("pg_waits")]
    if pg_runs:
        print()
        header = (
            f"{'config':<7} {'conc':>4} {'conns':>5} {'active':>6} {'on-cpu':>6} {'idle-tx':>7} {'lock-q':>6} "
            f"{'ctr-q':>5} {'WAL':>4} {'ctr-busy':>8} {'ctr-wait':>8} {'hold≥':>7}  "
            "counter-lock holder (state/wait: samples)"
        )
        print(f"PostgreSQL connections of the servers, mean of pg_stat_activity samples every {config['sample_ms']} ms")
        print(header)
        print("-" * len(header))
        for run in pg_runs:
            waits = run["pg_waits"]
            mean = waits["mean"]
            holders = ", ".join(f"{state}: {n}" for state, n in list(waits["counter_holder_states"].items())[:3])
            print(
                f"{run['config']:<7} {run['concurrency']:>4} {mean['connections']:>5.1f} {mean['active']:>6.2f} "
                f"{mean['running']:>6.2f} {mean['idle_in_tx']:>7.2f} {mean['lock_waits']:>6.2f} "
                f"{mean['counter_waits']:>5.2f} {mean['wal_waits']:>4.2f} "
                f"{waits['counter_contended_share'] * 100:>7.0f}% {waits['counter_wait_ms_per_req']:>6.1f}ms "
                f"{waits['counter_hold_ms_lower_bound']:>5.1f}ms  "
                f"{holders or '-'}"
            )
        for line in PG_WAITS_LEGEND:
            print(f"  {line}")


def print_ratios(result: dict[str, Any]) -> None:
    env = result["environment"]
    print()
    for check in result["ratios"]:
        target = f"target {check['target']:<8} {verdict(check['pass'])}" if check["target"] else "(info)"
        print(f"c={check['concurrency']:<3} {check['name']:<38} {check['value']:>6.2f}   {target}")
    for run in result["runs"]:
        known = [run["server_cpu_ms_per_req"], run["db_cpu_ms_per_req"], run["client_cpu_ms_per_req"]]
        total = sum(value for value in known if value is not None)
        if total:
            ceiling = (env["cpu_count"] or 1) * 1000 / total
            print(
                f"c={run['concurrency']:<3} (info) {run['config']:<7} CPU per request {total:5.2f} ms (srv+db+client)"
                f" → ceiling on {env['cpu_count']} CPUs ≈ {ceiling:6.1f} req/s; measured {run['throughput_rps']:6.1f}"
            )
    for run in result["runs"]:
        busy = (run.get("machine_busy_ms_per_req") or 0) * (run["requests"] + run["warmup_requests"])
        if sum(run["other_processes_cpu_ms"].values()) > 0.05 * busy:  # something else took over 5 % of the CPU
            names = ", ".join(f"{name} {ms} ms" for name, ms in run["other_processes_cpu_ms"].items())
            print(f"  other load during {run['config']} c={run['concurrency']}: {names}")
        if (run.get("machine_steal_pct") or 0) > 1:
            print(f"  CPU steal during {run['config']} c={run['concurrency']}: {run['machine_steal_pct']:.1f}%")
        for sample in run["error_samples"][:2]:
            print(f"  error sample ({run['config']}, c={run['concurrency']}): {sample}")
        if run.get("pg_waits_error"):
            print(f"  sampler ({run['config']}, c={run['concurrency']}): {run['pg_waits_error']}")


def print_verification(verification: list[dict[str, Any]]) -> None:
    print()
    for check in verification:
        label = "PostgreSQL" if check["database"] == "pg" else "SQLite"
        for attempt in check["check"]:
            note = f", {attempt['note']}" if "note" in attempt else ""
            print(
                f"{label} `python -m app check` (exit {attempt['exit_code']}, {attempt['seconds']:.1f} s{note}): "
                f"{attempt['summary']}"
            )
        print(counts_line(check, f"{label} "))


# --------------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    add_load_arguments(parser, concurrency="16,32", executions=40_000, per="per database")
    parser.add_argument(
        "--configs",
        default=",".join(CONFIGS),
        help=f"comma-separated configurations, run in this order at each concurrency (default {','.join(CONFIGS)})",
    )
    parser.add_argument(
        "--client",
        choices=("raw", "httpx"),
        default="raw",
        help="load generator: raw asyncio HTTP/1.1 (lean, default) or httpx (as bench/reject.py)",
    )
    parser.add_argument(
        "--db-pool-size", type=int, default=None, help="DB_POOL_SIZE of every server (default: the app's, 5)"
    )
    parser.add_argument(
        "--pg-admin-url",
        default=os.environ.get("BENCH_PG_ADMIN_URL", DEFAULT_PG_ADMIN_URL),
        help=f"PostgreSQL server to create the database on (env BENCH_PG_ADMIN_URL; default {DEFAULT_PG_ADMIN_URL})",
    )
    parser.add_argument(
        "--sample-interval",
        type=float,
        default=0.05,
        help="seconds between pg_stat_activity samples during PG runs (default 0.05; 0 = off)",
    )
    parser.add_argument(
        "--check-timeout", type=float, default=600.0, help="seconds allowed to `python -m app check` (default 600)"
    )
    add_standard_arguments(parser, "scale-<timestamp>.json")
    args = parse(parser, argv, SMOKE)
    args.concurrencies = concurrency_levels(parser, args.concurrency)
    args.config_names = [part.strip() for part in args.configs.split(",") if part.strip()]
    unknown = [name for name in args.config_names if name not in CONFIGS]
    if unknown or not args.config_names:
        parser.error(f"--configs: unknown {unknown}; choose from {', '.join(CONFIGS)}")
    if args.executions < 100:
        parser.error("--executions must be at least 100")
    if args.db_pool_size is not None and not 1 <= args.db_pool_size <= 100:
        parser.error("--db-pool-size must be between 1 and 100")
    return args


def bench(args: argparse.Namespace, cleanup: ExitStack) -> Outcome:
    env_info = environment(("asyncpg", "uvloop"))
    root = temporary_directory("bench-scale-", cleanup, keep=args.keep)
    secret = secrets.token_urlsafe(48)
    token = mint_token(secret)
    kinds = sorted({CONFIGS[name][0] for name in args.config_names}, key=["pg", "sqlite"].index)
    databases = {kind: prepare_database(kind, root, secret, args, cleanup) for kind in kinds}
    if "pg" in databases and databases["pg"].dsn:
        env_info["postgresql"] = pg_fetch(databases["pg"].dsn, "SHOW server_version")[0][0]
    names = [name for name in SERVERS if any(name in CONFIGS[config][1] for config in args.config_names)]
    servers = start_servers(names, databases, cleanup)
    for server in servers.values():
        preflight(server, databases[server.database], token)

    runs: list[dict[str, Any]] = []
    for concurrency in args.concurrencies:
        for name in args.config_names:
            kind, server_names, _label = CONFIGS[name]
            run = measure(
                name, concurrency, databases[kind], [servers[s] for s in server_names], token=token, args=args
            )
            runs.append(run)
            print(progress_line(run))

    for server in servers.values():
        server.stop()
    with ThreadPoolExecutor() as pool:  # both checks at once: on large databases they take a while
        verification = list(pool.map(lambda db: verify(db, args.check_timeout), databases.values()))
    result = {
        "timestamp": timestamp(),
        "config": {
            "duration": args.duration,
            "warmup": args.warmup,
            "concurrencies": args.concurrencies,
            "configs": {name: CONFIGS[name][2] for name in args.config_names},
            "executions": args.executions,
            "steps_consumed": {kind: database.cursor for kind, database in databases.items()},
            "client": args.client,
            "db_pool_size": args.db_pool_size,
            "sample_ms": round(args.sample_interval * 1000),
            "smoke": args.smoke,
            "server": "python -m app serve --no-seed (LOG_LEVEL=warning, BENCH_ENDPOINTS=0)",
            "load": "separate process; worker i of `concurrency` uses server i mod n, one keep-alive connection",
        },
        "environment": env_info | {"loadavg_after": loadavg()},
        "runs": runs,
        "ratios": ratios(runs, args.concurrencies),
        "verification": verification,
    }
    print_report(result)
    if not args.no_json:
        write_result("scale", result)
    return outcome_of(result)


def outcome_of(result: dict[str, Any]) -> Outcome:
    outcome = Outcome()
    for check in result["ratios"]:
        outcome.target(f"c={check['concurrency']} {check['name']}", check["pass"])
    errors = sum(run["errors"] + run["warmup_errors"] for run in result["runs"])
    outcome.require(f"{errors} errors in responses", ok=errors == 0)
    for check in result["verification"]:
        label = "PostgreSQL" if check["database"] == "pg" else "SQLite"
        outcome.require(f"`python -m app check` is not ok on {label}", ok=check["check_ok"])
        outcome.require(f"rejected steps and successful rejects disagree on {label}", ok=check["counts_agree"])
    return outcome


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return kit_run.run("bench.scale", lambda cleanup: bench(args, cleanup))


if __name__ == "__main__":
    sys.exit(main())
