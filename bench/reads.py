# ruff: noqa: E501 - the report lines are long f-strings, kept whole for reading
"""Reads at scale: the list and detail queries on a realistic database of 1,000 and of 100,000 executions, on
SQLite and on PostgreSQL, loaded with `wrk`; ratios measured in the same run.

    .venv/bin/python -m bench.reads [--sizes 1000,100000] [--databases sqlite,pg] [--duration 5] [--smoke]

For each database and size: builds the database (bench/kit/dataset.py: 20 workspaces, most executions completed,
about 1 % awaiting approval, some running, failed, cancelled, rejected, pending; 5 steps, ~15 events each, runs, a
few evidence bundles; app.seeding.bulk's bulk builder), runs ANALYZE (`VACUUM ANALYZE` on PostgreSQL: what
autovacuum does within a minute of a bulk load; `PRAGMA optimize` does ANALYZE on SQLite), starts one server
process (`python -m app serve --no-seed`, WORKERS=1, BENCH_ENDPOINTS=1) and measures with wrk (one thread, Lua
scripts POSTing the bodies with an admin bearer token):

- memory: RSS after 1,000 and after 20,000 mixed requests (every query in turn), on the largest size;
- `{ __typename }` before and after the queries (their mean is the baseline of the throughput ratios);
- every query of QUERIES (50-item pages), at `--concurrency` (default 4);
- at concurrency 16: the identical replay of a decision (the first reject sent again and again), and the reject
  write path (a distinct step per request, from a pool of single-step executions seeded after the reads), with
  the SQL statements per reject from the server's counter (GET /bench/stats).

Then it stops the server, runs `python -m app check` on the database (`--no-check` skips it) and prints, per
database, the table: p50 and req/s at each size, p50(largest) ÷ p50(smallest) (target ≤ 2), req/s ÷ typename at
the largest size (target ≥ 0.25 for the pendingApprovals and executions pages), server and client CPU per request,
and the core count. Exit status: bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import secrets
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench.kit import run as kit_run
from bench.kit import wrk
from bench.kit.bodies import TYPENAME_BODY, graphql_reject_body
from bench.kit.report import environment, fmt, timestamp, verdict, write_result
from bench.kit.run import Outcome, add_standard_arguments, parse
from bench.kit.scratch import (
    DEFAULT_PG_ADMIN_URL,
    ScratchDatabase,
    _pg_admin,
    _with_database,
    drop_pg,
    temporary_directory,
)
from bench.kit.server import base_env, mint_token, post, run_check, start_server, wait_healthy

SMOKE = {
    "sizes": "60,120",
    "databases": "sqlite",
    "duration": 1.0,
    "warmup": 0.0,
    "memory_requests": "100,300",
    "reject_pool": 2500,
    "bundles": 1,
}
TARGET_P50_GROWTH = 2.0
TARGET_PAGE_VS_TYPENAME = 0.25
TARGET_REPLAY_VS_TYPENAME = 0.50
TARGET_REJECT_VS_TYPENAME = 0.50
TARGET_TAIL = 5.0
TARGET_RSS_GROWTH = 1.10
TARGET_RSS_MB = 200.0
WRITE_CONCURRENCY = 16
PAGE_TARGETED = ("pendingApprovals", "executions")
"""The rows whose throughput ratio has a target (the issue: a 50-item pendingApprovals or executions page)."""

_APPROVAL = (
    "total items { executionId executionStatus executionRiskTier workspaceId stepId position key riskTier "
    "awaitingSince }"
)
_LANE_STATE = (
    "lane { laneKey laneStatus lanePhase ownerRole evidenceBundleCount pendingApprovalCount recommendedNextLane }"
)
_EXECUTION = f"total items {{ executionId status riskTier updatedAt {_LANE_STATE} }}"
_LANES = (
    "total items { runId executionId laneKey laneStatus lanePhase ownerRole objective evidenceCompleteness "
    "terminalReadiness pendingApprovalCount missingEvidenceCount missingApprovalCount recommendedNextLane updatedAt }"
)
QUERIES: list[tuple[str, str, str, dict[str, Any]]] = [
    # (row label, field, selection, input); workspace ws-03, execution rd-000050 exist at every size
    ("pendingApprovals", "pendingApprovals", _APPROVAL, {"limit": 50}),
    ("pendingApprovals(workspaceId)", "pendingApprovals", _APPROVAL, {"workspaceId": "ws-03", "limit": 50}),
    ("executions", "executions", _EXECUTION, {"limit": 50}),
    ("executions(workspaceId)", "executions", _EXECUTION, {"workspaceId": "ws-03", "limit": 50}),
    ("executions(status)", "executions", _EXECUTION, {"status": "running", "limit": 50}),
    ("executions(riskTier)", "executions", _EXECUTION, {"riskTier": "high", "limit": 50}),
    (
        "executions(workspaceId+status+riskTier)",
        "executions",
        _EXECUTION,
        {"workspaceId": "ws-03", "status": "completed", "riskTier": "high", "limit": 50},
    ),
    ("executionLanes", "executionLanes", _LANES, {"limit": 50}),
    ("executionLanes(laneKey)", "executionLanes", _LANES, {"laneKey": "execute", "limit": 50}),
    ("executionLanes(laneStatus)", "executionLanes", _LANES, {"laneStatus": "blocked", "limit": 50}),
    (
        "trace",
        "trace",
        "executionId entries { timestamp stage status actorId metadata }",
        {"executionId": "exec-rd-000050"},
    ),
    ("skills", "skills", "total items { skillKey version status verified installedAt }", {"limit": 50}),
]


def query_body(field: str, selection: str, data: dict[str, Any]) -> bytes:
    document = f"query Q($input: {_INPUTS[field]}!) {{ {field}(input: $input) {{ {selection} }} }}"
    return json.dumps({"query": document, "variables": {"input": data}}, separators=(",", ":")).encode()


_INPUTS = {
    "pendingApprovals": "ControlPlaneApprovalListInput",
    "executions": "ControlPlaneExecutionListInput",
    "executionLanes": "ControlPlaneExecutionLaneListInput",
    "trace": "ControlPlaneTraceGetInput",
    "skills": "ControlPlaneSkillListInput",
}


# --------------------------------------------------------------------------------------------------
# Databases
# --------------------------------------------------------------------------------------------------


def _settings(database: ScratchDatabase) -> Any:
    from app.settings import Settings  # noqa: PLC0415 - the app stays out of the load generators

    return Settings(  # type: ignore[call-arg]
        var_dir=database.var_dir, database_url=database.url, jwt_secret=database.env["JWT_SECRET"], _env_file=None
    )


async def _build(database: ScratchDatabase, count: int, mix: str, bundles: int) -> dict[str, Any]:
    from sqlalchemy import text  # noqa: PLC0415 - as above

    from app.db import migrate as migrations  # noqa: PLC0415 - as above
    from app.server import build_services  # noqa: PLC0415 - as above
    from bench.kit.dataset import build  # noqa: PLC0415 - imports the app

    services = build_services(_settings(database))
    try:
        await migrations.upgrade(services.database.engine)
        built = await build(services.database, services.executor, count, mix=mix, bundles=bundles)
        started = time.perf_counter()
        async with services.database.engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                # What autovacuum does within a minute of a bulk load (insert-triggered since PostgreSQL 13): the
                # statistics, and the visibility map that lets an index-only scan skip the heap.
                await connection.execution_options(isolation_level="AUTOCOMMIT")
                await connection.execute(text("VACUUM ANALYZE"))
            else:
                await connection.execute(text("ANALYZE"))
                await connection.commit()
        analyze = time.perf_counter() - started
    finally:
        await services.database.dispose()
    return {
        "executions": built.executions,
        "rows": built.rows,
        "bundles": built.bundles,
        "build_seconds": built.seconds,
        "analyze_seconds": analyze,
    }


async def _seed_reject_pool(database: ScratchDatabase, count: int) -> None:
    """Single-step executions awaiting approval (app.seeding.bulk.AWAITING_APPROVAL, exec-bx-<i>), for the reject
    write path; seeded after the reads so that they do not change what the reads see."""
    from app.seeding.bulk import AWAITING_APPROVAL, build_executions  # noqa: PLC0415 - as above
    from app.server import build_services  # noqa: PLC0415 - as above

    services = build_services(_settings(database))
    try:
        await build_executions(services.database, services.executor, shapes=[AWAITING_APPROVAL], count=count)
    finally:
        await services.database.dispose()


def make_database(kind: str, root: Path, secret: str, cleanup: ExitStack, args: argparse.Namespace) -> ScratchDatabase:
    var_dir = root / f"{kind}-{secrets.token_hex(3)}"
    var_dir.mkdir(parents=True)
    env = base_env(var_dir, secret)
    database = ScratchDatabase(kind=kind, var_dir=var_dir, env=env)
    if kind == "pg":
        name = f"bench_reads_{secrets.token_hex(4)}"
        asyncio.run(_pg_admin(args.pg_admin_url, f'CREATE DATABASE "{name}"'))
        database.name = name
        database.url = env["DATABASE_URL"] = _with_database(args.pg_admin_url, name, "postgresql+asyncpg")
        database.dsn = _with_database(args.pg_admin_url, name)
        if args.keep:
            cleanup.callback(print, f"kept PostgreSQL database {name} ({database.url})", file=sys.stderr)
        else:
            cleanup.callback(drop_pg, args.pg_admin_url, name)
    return database


# --------------------------------------------------------------------------------------------------
# Measurements
# --------------------------------------------------------------------------------------------------


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return math.nan


def preflight(base_url: str, token: str, bodies: dict[str, bytes]) -> None:
    for label, body in bodies.items():
        status, content = post(base_url + "/graphql", body, token)
        if status != 200 or b'"errors"' in content:
            raise RuntimeError(f"pre-flight {label} failed: HTTP {status}: {content[:300]!r}")


def measure_server(
    database: ScratchDatabase, size: int, args: argparse.Namespace, secret: str, *, largest: bool, outcome: Outcome
) -> dict[str, Any]:
    server = start_server(database.var_dir, database.env, database=database.kind)
    try:
        wait_healthy(server)
        token = mint_token(secret)
        base, pid, scripts = server.base_url, server.proc.pid, database.var_dir
        bodies = {label: query_body(field, selection, data) for label, field, selection, data in QUERIES}
        preflight(base, token, bodies)
        result: dict[str, Any] = {"size": size, "database": database.kind, "queries": {}}

        def load(name: str, concurrency: int, duration: float, **script: Any) -> dict[str, Any]:
            path = wrk.write_script(scripts / f"{name}.lua", token, **script)
            if args.warmup > 0 and "template" not in script:
                wrk.run_wrk(base, path, concurrency=concurrency, duration=args.warmup, server_pid=pid)
            run = wrk.run_wrk(base, path, concurrency=concurrency, duration=duration, server_pid=pid)
            outcome.require(f"{database.kind} {size}: {name}: {run['sample']}", ok=run["errors"] == 0)
            if server.exited():
                raise RuntimeError(server.exited() or "server exited")
            return run

        if largest:
            result["memory"] = memory_growth(base, token, pid, scripts, mixed=list(bodies.values()), args=args)
        typename_runs = [load("typename", args.concurrency, args.duration, bodies=[TYPENAME_BODY])]
        for label, body in bodies.items():
            result["queries"][label] = load(label, args.concurrency, args.duration, bodies=[body])
            print(
                f"  {database.kind:6} {size:>7}  {label:42} {result['queries'][label]['throughput_rps']:8.1f} req/s"
                f"  p50 {result['queries'][label]['p50_ms']:7.2f} ms",
                flush=True,
            )
        typename_runs.append(load("typename", args.concurrency, args.duration, bodies=[TYPENAME_BODY]))
        result["typename"] = typename_runs
        result["typename_rps"] = sum(run["throughput_rps"] for run in typename_runs) / len(typename_runs)

        # writes, at concurrency 16: seed the pool, decide step 0 once (the replayed decision), then the loads
        _seed_reject_pool_sync(database, args.reject_pool)
        status, content = post(base + "/graphql", graphql_reject_body(0), token)
        if status != 200 or b'"rejected"' not in content:
            raise RuntimeError(f"pre-flight reject failed: HTTP {status}: {content[:300]!r}")
        result["typename16"] = load("typename16", WRITE_CONCURRENCY, args.duration, bodies=[TYPENAME_BODY])
        result["replay"] = load("replay", WRITE_CONCURRENCY, args.duration, bodies=[graphql_reject_body(0)])
        stats_before = _stats(base)
        template = graphql_reject_body(999_999).decode().replace("999999", "@N@")
        reject = load("reject", WRITE_CONCURRENCY, args.duration, template=template, first=1)
        stats_after = _stats(base)
        served = stats_after["requests"] - stats_before["requests"]
        reject["sql_statements_per_request"] = (
            (stats_after["statements"] - stats_before["statements"]) / served if served else math.nan
        )
        reject["exhausted"] = reject["answers"] >= args.reject_pool - 1
        outcome.require(
            f"{database.kind} {size}: the reject pool ({args.reject_pool}) ran out: raise --reject-pool",
            ok=not reject["exhausted"],
        )
        result["reject"] = reject
        return result
    finally:
        server.stop()


def memory_growth(
    base: str, token: str, pid: int, scripts: Path, *, mixed: list[bytes], args: argparse.Namespace
) -> dict[str, Any]:
    """RSS of the server after `first` and after `second` mixed requests (every query in turn). wrk runs for a time,
    not a count, so the load goes in short runs until each count is passed; the counts reached are reported."""
    first, second = (int(n) for n in args.memory_requests.split(","))
    path = wrk.write_script(scripts / "mixed.lua", token, bodies=mixed)
    memory: dict[str, Any] = {}
    served = 0
    for key, goal in (("first", first), ("second", second)):
        while served < goal:
            run = wrk.run_wrk(
                base, path, concurrency=args.concurrency, duration=1 if key == "first" else 3, server_pid=pid
            )
            served += run["answers"]
        memory[f"after_{key}"] = served
        memory[f"rss_{key}_mb"] = rss_mb(pid)
    return memory


def _seed_reject_pool_sync(database: ScratchDatabase, count: int) -> None:
    asyncio.run(_seed_reject_pool(database, count))


def _stats(base_url: str) -> dict[str, int]:
    import urllib.request  # noqa: PLC0415 - only here

    with urllib.request.urlopen(base_url + "/bench/stats", timeout=10) as response:
        stats: dict[str, int] = json.loads(response.read())
    return stats


# --------------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------------


def _row(cells: list[str], widths: list[int]) -> str:
    return "  ".join(
        cell.ljust(width) if i == 0 else cell.rjust(width)
        for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
    )


def report(results: dict[str, dict[int, dict[str, Any]]], sizes: list[int], outcome: Outcome) -> list[dict[str, Any]]:
    """Prints the table per database; returns the checks (PASS/MISS)."""
    checks: list[dict[str, Any]] = []
    small, large = sizes[0], sizes[-1]
    for kind, by_size in results.items():
        lo, hi = by_size[small], by_size[large]
        name = "PostgreSQL" if kind == "pg" else "SQLite"
        print(
            f"\n{name}: {small:,} vs {large:,} executions, reads at c={ARGS.concurrency}, writes at c={WRITE_CONCURRENCY}, "
            f"{os.cpu_count()} cores (client and server share them)"
        )
        head = [
            "query",
            f"p50 {small // 1000 or small}k" if small >= 1000 else f"p50 {small}",
            f"p50 {large // 1000}k" if large >= 1000 else f"p50 {large}",
            "p50 ratio",
            "≤2",
            f"req/s {small}",
            f"req/s {large}",
            "÷typename",
            "≥.25",
            "srv ms/req",
            "cli ms/req",
        ]
        widths = [42, 9, 9, 9, 4, 10, 10, 9, 4, 10, 10]
        print(_row(head, widths))
        for label, *_ in QUERIES:
            a, b = lo["queries"][label], hi["queries"][label]
            growth = b["p50_ms"] / a["p50_ms"] if a["p50_ms"] else math.nan
            share = b["throughput_rps"] / hi["typename_rps"] if hi["typename_rps"] else math.nan
            targeted = label.split("(")[0] in PAGE_TARGETED
            ok_growth = growth <= TARGET_P50_GROWTH
            ok_share = share >= TARGET_PAGE_VS_TYPENAME if targeted else None
            checks.append(
                {
                    "database": kind,
                    "query": label,
                    "p50_ratio": growth,
                    "vs_typename": share,
                    "p50_ratio_pass": ok_growth,
                    "vs_typename_pass": ok_share,
                }
            )
            outcome.target(f"{kind} {label} p50 ratio", ok_growth)
            outcome.target(f"{kind} {label} ÷ typename", ok_share)
            print(
                _row(
                    [
                        label,
                        fmt(a["p50_ms"]),
                        fmt(b["p50_ms"]),
                        fmt(growth),
                        verdict(ok_growth),
                        fmt(a["throughput_rps"], 1),
                        fmt(b["throughput_rps"], 1),
                        fmt(share),
                        "-" if ok_share is None else verdict(ok_share),
                        fmt(b["server_cpu_ms_per_request"]),
                        fmt(b["client_cpu_ms_per_request"]),
                    ],
                    widths,
                )
            )
        for size in sizes:
            r = by_size[size]
            t = r["typename"]
            print(
                f"  {{ __typename }} at {size}: {fmt(t[0]['throughput_rps'], 0)} / {fmt(t[-1]['throughput_rps'], 0)} req/s "
                f"(before / after the queries; c={ARGS.concurrency}), {fmt(r['typename16']['throughput_rps'], 0)} at c=16; "
                f"server {fmt(t[0]['server_cpu_ms_per_request'], 3)} ms/req, wrk {fmt(t[0]['client_cpu_ms_per_request'], 3)} ms/req"
            )
        for size in sizes:
            r = by_size[size]
            base16 = r["typename16"]["throughput_rps"]
            for what, target in (("replay", TARGET_REPLAY_VS_TYPENAME), ("reject", TARGET_REJECT_VS_TYPENAME)):
                run = r[what]
                share = run["throughput_rps"] / base16 if base16 else math.nan
                ok = share >= target and run["errors"] == 0
                tail_ok = run["p99_over_p50"] <= TARGET_TAIL and run["errors"] == 0
                extra = (
                    f", {fmt(run['sql_statements_per_request'])} SQL statements per reject" if what == "reject" else ""
                )
                print(
                    f"  {what} at {size} (c=16): {fmt(run['throughput_rps'], 1)} req/s = {fmt(share)} × typename "
                    f"(target ≥ {target:.2f}) {verdict(ok)}; p50 {fmt(run['p50_ms'])} ms, p99 ÷ p50 {fmt(run['p99_over_p50'])} "
                    f"(≤ {TARGET_TAIL:.0f}) {verdict(tail_ok)}; errors {run['errors']}; server {fmt(run['server_cpu_ms_per_request'])} "
                    f"ms/req, wrk {fmt(run['client_cpu_ms_per_request'], 3)} ms/req{extra}"
                )
                if size == large:
                    outcome.target(f"{kind} {what} ÷ typename", ok)
                    outcome.target(f"{kind} {what} p99 ÷ p50", tail_ok)
                checks.append(
                    {
                        "database": kind,
                        "size": size,
                        "query": what,
                        "vs_typename": share,
                        "pass": ok,
                        "p99_over_p50": run["p99_over_p50"],
                        "tail_pass": tail_ok,
                    }
                )
        memory = hi.get("memory")
        if memory:
            growth = memory["rss_second_mb"] / memory["rss_first_mb"]
            ok = growth <= TARGET_RSS_GROWTH and memory["rss_second_mb"] < TARGET_RSS_MB
            outcome.target(f"{kind} RSS", ok)
            print(
                f"  RSS after {memory['after_first']:,} mixed requests {memory['rss_first_mb']:.1f} MB, after "
                f"{memory['after_second']:,} {memory['rss_second_mb']:.1f} MB: ratio {growth:.3f} (target ≤ {TARGET_RSS_GROWTH}, "
                f"< {TARGET_RSS_MB:.0f} MB) {verdict(ok)}"
            )
            checks.append({"database": kind, "query": "rss", "ratio": growth, "pass": ok})
    return checks


ARGS = argparse.Namespace()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reads", description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--sizes", default="1000,100000", help="executions per database, smallest first (default 1000,100000)"
    )
    parser.add_argument("--databases", default="sqlite,pg", help="sqlite, pg or both (default sqlite,pg)")
    parser.add_argument(
        "--mix", default="realistic", choices=("realistic", "awaiting"), help="status mix (default realistic)"
    )
    parser.add_argument("--duration", type=float, default=5.0, help="measured seconds per query (default 5)")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before each (default 1)")
    parser.add_argument("--concurrency", type=int, default=4, help="wrk connections for the reads (default 4)")
    parser.add_argument(
        "--memory-requests", default="1000,20000", help="RSS after this many mixed requests (default 1000,20000)"
    )
    parser.add_argument(
        "--reject-pool", type=int, default=8000, help="single-step executions seeded for the reject path"
    )
    parser.add_argument("--bundles", type=int, default=5, help="evidence bundles exported per database (default 5)")
    parser.add_argument("--no-check", action="store_true", help="skip `python -m app check` on the databases")
    parser.add_argument("--pg-admin-url", default=os.environ.get("BENCH_PG_ADMIN_URL", DEFAULT_PG_ADMIN_URL))
    add_standard_arguments(parser, "reads-<timestamp>.json")
    args = parse(parser, argv, SMOKE)
    ARGS.__dict__.update(vars(args))
    sizes = sorted(int(size) for size in args.sizes.split(","))
    kinds = [kind.strip() for kind in args.databases.split(",") if kind.strip()]
    if not set(kinds) <= {"sqlite", "pg"} or len(sizes) < 2:
        parser.error("--databases takes sqlite and/or pg; --sizes two sizes or more")

    def body(cleanup: ExitStack) -> Outcome:
        outcome = Outcome()
        if wrk.available() is None:
            outcome.require("wrk is not installed (apt-get install -y wrk)", ok=False)
            return outcome
        root = temporary_directory("bench-reads-", cleanup, keep=args.keep)
        secret = secrets.token_hex(32)
        results: dict[str, dict[int, dict[str, Any]]] = {}
        builds: list[dict[str, Any]] = []
        started = timestamp()
        for kind in kinds:
            results[kind] = {}
            for size in sizes:
                database = make_database(kind, root, secret, cleanup, args)
                built = asyncio.run(_build(database, size, args.mix, args.bundles))
                rows = built["rows"]
                print(
                    f"built {kind} {size:,}: {rows['execution']:,} executions, {rows['execution_step']:,} steps, "
                    f"{rows['execution_event']:,} events, {rows['execution_run']:,} runs, {rows['evidence_bundle']} bundles "
                    f"in {built['build_seconds']:.1f} s (+ (VACUUM) ANALYZE {built['analyze_seconds']:.1f} s)",
                    flush=True,
                )
                results[kind][size] = measure_server(
                    database, size, args, secret, largest=size == sizes[-1], outcome=outcome
                )
                results[kind][size]["build"] = built
                if not args.no_check:
                    check = run_check(database.var_dir, database.env, timeout=900)
                    summary = (check["output"].splitlines() or [""])[-1]
                    print(
                        f"  {kind} {size:,}: `python -m app check` (exit {check['exit_code']}, "
                        f"{check['seconds']:.1f} s): {summary}"
                    )
                    outcome.require(f"{kind} {size}: python -m app check: {check['output'][-300:]}", ok=check["ok"])
                    results[kind][size]["check"] = check
                builds.append({"database": kind, **built})
                if kind == "pg" and database.name and not args.keep:
                    drop_pg(args.pg_admin_url, database.name)
        checks = report(results, sizes, outcome)
        if not args.no_json:
            write_result(
                "reads",
                {
                    "started": started,
                    "config": vars(args),
                    "environment": environment(),
                    "results": results,
                    "checks": checks,
                },
            )
        return outcome

    return kit_run.run("bench.reads", body)


if __name__ == "__main__":
    sys.exit(main())
