"""Benchmark whole execution lifecycles over GraphQL against the real server, many at once.

    .venv/bin/python bench/lifecycle.py [--executions 300] [--concurrency 16] [--fail-every 10]
                                        [--database-url postgresql+asyncpg://...] [--typename-duration 4]

It prepares a throw-away VAR_DIR (SQLite in it, or the PostgreSQL database of `--database-url`, which must
exist and is migrated here), starts the real server (`python -m app serve --no-seed`, BENCH_ENDPOINTS=1, one
worker) and drives `--executions` executions through their whole life from a separate load-generator process,
`--concurrency` of them at a time (one keep-alive connection each, raw HTTP/1.1 as bench/scale.py's client):

    submitIntent -> compilePlan (fetch.config low, deploy.production high, notify.team medium) -> verifyPlan
    -> startExecution -> execution (the step ids) -> reportStepStarted/Completed step 1 -> approveExecutionStep
    step 2 (admin) -> reportStepStarted step 2 -> [1 in --fail-every: reportStepFailed step 2 -> retryExecution
    -> reportStepStarted step 2 on the new run] -> reportStepCompleted step 2 -> started/completed step 3

Commands as an admin, reports with a runner token (`python -m app token`). It prints executions/s, requests/s,
the server's mean SQL statements per GraphQL request (GET /bench/stats, BENCH_ENDPOINTS only), latency per
operation and overall, errors, lifecycle req/s ÷ `{ __typename }` req/s at the same concurrency (measured in the
same run, before and after), checks that every execution ended `completed` and that `python -m app check` says
ok, and writes bench/results/lifecycle-<database>-<timestamp>.json. The server and the temporary directory are
removed on exit, Ctrl-C or SIGTERM.
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
import urllib.parse
import urllib.request
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

from app.testing import documents as docs
from bench.kit import run as kit_run
from bench.kit.client import RAW_ERRORS, RawConnection, address, request_prefix, run_in_process, typename_run
from bench.kit.cpu import all_processes_cpu, busiest_others, machine_busy, machine_cpu, process_cpu_seconds
from bench.kit.report import environment, fmt, latency_summary, loadavg, ratio, timestamp, verdict, write_result
from bench.kit.run import Outcome, add_standard_arguments, parse
from bench.kit.scratch import scratch_database, temporary_directory
from bench.kit.server import mint_cli, run_check, start_server, wait_healthy

ADMIN = "bench-admin"
APPROVER = "bench-approver"
"""A second admin decides: nobody approves their own request under the default approval rule."""
RUNNER = "bench-runner"
WORKSPACE = "ws-bench-lifecycle"
DRAFT = {
    "steps": [
        {"key": "fetch.config", "input": {"ref": "main"}},  # low
        {"key": "deploy.production", "input": {"region": "eu-west-1"}},  # high: awaits approval
        {"key": "notify.team", "input": {"channel": "#ops"}},  # medium
    ]
}
EXPECTED_TIERS = ["low", "high", "medium"]
# Only what the driver needs to go on: the step ids, in order.
EXECUTION_STEPS = """
query Execution($input: ControlPlaneExecutionGetInput!) {
  execution(input: $input) { execution { executionId status steps { stepId position riskTier status } } }
}"""
COUNTS = """
query Counts {
  completed: executions(input: {status: "completed", limit: 1}) { total }
  all: executions(input: {limit: 1}) { total }
}"""
OPERATIONS = (
    "submitIntent",
    "compilePlan",
    "verifyPlan",
    "startExecution",
    "execution",
    "reportStepStarted",
    "reportStepCompleted",
    "approveExecutionStep",
    "reportStepFailed",
    "retryExecution",
)
PREFLIGHT = 2  # one execution that succeeds at once, one that fails step 2 and is retried
TARGET_TAIL_RATIO = 5.0
SMOKE = {"executions": 24, "concurrency": 8, "typename_duration": 0.4, "warmup": 0.2}


def documents() -> dict[str, str]:
    """The GraphQL documents: the mutations the integration tests send too (app.testing.documents)."""
    return {
        "submitIntent": docs.SUBMIT,
        "compilePlan": docs.COMPILE,
        "verifyPlan": docs.VERIFY,
        "startExecution": docs.START,
        "execution": EXECUTION_STEPS,
        "reportStepStarted": docs.STEP_STARTED,
        "reportStepCompleted": docs.STEP_COMPLETED,
        "reportStepFailed": docs.STEP_FAILED,
        "approveExecutionStep": docs.APPROVE,
        "retryExecution": docs.RETRY,
    }


# --------------------------------------------------------------------------------------------------
# The lifecycle driver (runs in the load-generator process; the pre-flight runs it in the parent)
# --------------------------------------------------------------------------------------------------


class LifecycleError(Exception):
    pass


class Driver:
    """Drives executions through their life over raw keep-alive HTTP/1.1 connections and records every request.

    `probe`, when given, is called before and after each request and returns the server's statement count
    (pre-flight only: it makes the statements of each operation exact, one request at a time)."""

    def __init__(self, config: dict[str, Any], probe: Callable[[], int] | None = None) -> None:
        self.address = address(config["base_url"])
        self.documents = documents()
        self.prefix = {
            role: request_prefix(config["base_url"], "/graphql", token)
            for role, token in (
                ("admin", config["admin_token"]),
                ("approver", config["approver_token"]),
                ("runner", config["runner_token"]),
            )
        }
        self.fail_every: int = config["fail_every"]
        self.probe = probe
        self.latencies: dict[str, list[float]] = {name: [] for name in OPERATIONS}
        self.statements: dict[str, list[int]] = {name: [] for name in OPERATIONS}
        self.execution_seconds: list[float] = []
        self.requests = 0
        self.errors = 0
        self.error_samples: list[str] = []
        self.completed = 0
        self.retried = 0
        self.abandoned = 0
        self.first_start = math.inf
        self.last_finish = 0.0

    def fails(self, index: int) -> bool:
        return self.fail_every > 0 and index % self.fail_every == self.fail_every - 1

    async def call(
        self, connection: RawConnection, operation: str, payload: dict[str, Any], role: str = "admin"
    ) -> dict[str, Any]:
        body = json.dumps(
            {"query": self.documents[operation], "variables": {"input": payload}}, separators=(",", ":")
        ).encode()
        request = self.prefix[role] + str(len(body)).encode() + b"\r\n\r\n" + body
        before = self.probe() if self.probe else 0
        started = time.perf_counter()
        problem: str | None = None
        data: Any = None
        try:
            async with asyncio.timeout(60):
                status, content = await connection.exchange(request)
            if status != 200:
                problem = f"HTTP {status}: {content[:300]!r}"
            else:
                document = json.loads(content)
                if not isinstance(document, dict) or "errors" in document or not document.get("data"):
                    problem = f"errors: {json.dumps(document)[:400]}"
                else:
                    data = document["data"]
        except RAW_ERRORS as error:
            connection.close()
            problem = f"{type(error).__name__}: {error}"
        finished = time.perf_counter()
        self.requests += 1
        self.first_start = min(self.first_start, started)
        self.last_finish = max(self.last_finish, finished)
        self.latencies[operation].append(finished - started)
        if self.probe:
            self.statements[operation].append(self.probe() - before)
        if problem is not None:
            self.errors += 1
            raise LifecycleError(f"{operation}: {problem}")
        return dict(next(iter(data.values())))

    def expect(self, operation: str, answer: dict[str, Any], **expected: Any) -> None:
        wrong = {key: answer.get(key) for key, value in expected.items() if answer.get(key) != value}
        if wrong:
            raise LifecycleError(f"{operation}: expected {expected}, got {wrong} in {json.dumps(answer)[:300]}")

    async def lifecycle(self, connection: RawConnection, index: int) -> None:
        """One execution from submitIntent to `completed`."""
        began = time.perf_counter()
        submitted = await self.call(connection, "submitIntent", {"workspaceId": WORKSPACE, "text": f"Ship #{index}"})
        self.expect("submitIntent", submitted, status="pending")
        execution_id = submitted["executionId"]
        ids = {"executionId": execution_id}
        compiled = await self.call(connection, "compilePlan", ids | {"intentId": submitted["intentId"], "draft": DRAFT})
        self.expect("compilePlan", compiled, stepCount=3)
        plan = ids | {"planId": compiled["planId"]}
        verified = await self.call(connection, "verifyPlan", plan)
        self.expect("verifyPlan", verified, verdict="needs_approval", requiresApproval=True)
        started = await self.call(connection, "startExecution", plan)
        self.expect("startExecution", started, status="running")
        run_id = started["runId"]
        record = (await self.call(connection, "execution", ids))["execution"]
        steps = [step["stepId"] for step in record["steps"]]
        if [step["riskTier"] for step in record["steps"]] != EXPECTED_TIERS:
            raise LifecycleError(f"execution: unexpected tiers {record['steps']}")

        async def report(operation: str, position: int, **extra: Any) -> dict[str, Any]:
            payload = {"runId": run_id, "stepId": steps[position - 1], **extra}
            return await self.call(connection, operation, payload, "runner")

        await report("reportStepStarted", 1)
        done = await report("reportStepCompleted", 1, output={"config": index})
        self.expect("reportStepCompleted", done, executionStatus="awaiting_approval", awaitingApprovalStepId=steps[1])
        approved = await self.call(
            connection,
            "approveExecutionStep",
            ids | {"stepId": steps[1], "approvedBy": APPROVER, "note": "Window open."},
            "approver",
        )
        self.expect("approveExecutionStep", approved, status="approved")
        await report("reportStepStarted", 2)
        if self.fails(index):
            failed = await report("reportStepFailed", 2, errorCode="TIMEOUT", message="Deploy timed out.")
            self.expect("reportStepFailed", failed, executionStatus="failed")
            retried = await self.call(connection, "retryExecution", {"runId": run_id, "retriedBy": ADMIN})
            self.expect("retryExecution", retried, status="running")  # step 2 keeps its approval
            run_id = retried["runId"]
            self.retried += 1
            await report("reportStepStarted", 2)
        done = await report("reportStepCompleted", 2)
        self.expect("reportStepCompleted", done, executionStatus="running")
        await report("reportStepStarted", 3)
        done = await report("reportStepCompleted", 3)
        self.expect("reportStepCompleted", done, executionStatus="completed")
        self.completed += 1
        self.execution_seconds.append(time.perf_counter() - began)

    async def run(self, first: int, count: int, concurrency: int) -> None:
        indexes = iter(range(first, first + count))

        async def worker() -> None:
            connection = RawConnection(*self.address)
            try:
                for index in indexes:  # shared iterator: each execution is taken by one worker
                    try:
                        await self.lifecycle(connection, index)
                    except LifecycleError as error:
                        self.abandoned += 1
                        if len(self.error_samples) < 8:
                            self.error_samples.append(f"execution {index}: {error}")
            finally:
                connection.close()

        await asyncio.gather(*(worker() for _ in range(concurrency)))

    def result(self) -> dict[str, Any]:
        every = sorted(value for values in self.latencies.values() for value in values)
        elapsed = max(self.last_finish - self.first_start, 1e-9) if every else math.nan
        operations = {name: latency_summary(values) for name, values in self.latencies.items() if values}
        for name, counts in self.statements.items():
            if counts and name in operations:
                operations[name]["statements"] = sorted(set(counts))
        return {
            "requests": self.requests,
            "errors": self.errors,
            "error_samples": self.error_samples,
            "executions_completed": self.completed,
            "executions_retried": self.retried,
            "executions_abandoned": self.abandoned,
            "elapsed_s": elapsed,
            "executions_per_s": self.completed / elapsed if every else 0.0,
            "requests_per_s": self.requests / elapsed if every else 0.0,
            "overall": latency_summary(every),
            "operations": operations,
            "execution_latency": latency_summary(self.execution_seconds),
        }


async def _load(config: dict[str, Any]) -> dict[str, Any]:
    driver = Driver(config)
    cpu = time.process_time()
    await driver.run(config["first"], config["executions"], config["concurrency"])
    result = driver.result()
    result["client_cpu_ms_per_req"] = (time.process_time() - cpu) * 1000 / max(1, driver.requests)
    return result


def run_lifecycles(config: dict[str, Any], timeout: float) -> dict[str, Any]:
    """The measured load, in a fresh process (as bench.kit.client.run_client)."""
    return run_in_process(_load, config, timeout, "bench-lifecycle")


# --------------------------------------------------------------------------------------------------
# Server helpers
# --------------------------------------------------------------------------------------------------


def get_json(url: str, token: str | None = None, body: bytes | None = None) -> Any:
    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {token}"} if token else {})
    request = urllib.request.Request(url, data=body, headers=headers, method="POST" if body else "GET")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def bench_stats(base_url: str) -> dict[str, int]:
    stats = get_json(f"{base_url}/bench/stats")
    return {"statements": int(stats["statements"]), "requests": int(stats["requests"])}


def execution_counts(base_url: str, token: str) -> dict[str, int]:
    answer = get_json(f"{base_url}/graphql", token, json.dumps({"query": COUNTS}).encode())
    if "errors" in answer:
        raise RuntimeError(f"counting executions failed: {answer['errors']}")
    return {"completed": answer["data"]["completed"]["total"], "all": answer["data"]["all"]["total"]}


def preflight(config: dict[str, Any], base_url: str) -> dict[str, Any]:
    """One execution that succeeds and one that fails step 2 and is retried, one request at a time, reading the
    server's statement counter around each request: the statements of every operation, exactly."""
    driver = Driver(config | {"fail_every": PREFLIGHT}, probe=lambda: bench_stats(base_url)["statements"])
    asyncio.run(driver.run(0, PREFLIGHT, 1))
    if driver.errors or driver.completed != PREFLIGHT:
        raise RuntimeError(f"pre-flight lifecycle failed: {driver.error_samples}")
    return {name: sorted(set(counts)) for name, counts in driver.statements.items() if counts}


# --------------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------------


def print_report(result: dict[str, Any]) -> None:
    env, config, load = result["environment"], result["config"], result["load"]
    server = result["server"]
    print()
    print(
        f"cpu_count={env['cpu_count']}  loadavg(before)={env['loadavg_before']}  python={env['python']}  "
        f"database={config['database']}  commit={env['git_commit']}" + (" (app/ modified)" if env["git_dirty"] else "")
    )
    print(
        f"executions={config['executions']}  concurrency={config['concurrency']}  "
        f"fail step 2 and retry: 1 in {config['fail_every']} ({load['executions_retried']})  "
        f"wall {load['elapsed_s']:.1f} s  machine busy {fmt(server.get('machine_busy_pct'), 0)}%"
    )
    print()
    header = (
        f"{'operation':<21} {'count':>6} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8} "
        f"{'p99/p50':>7} {'SQL stmts':>9}"
    )
    print(header)
    print("-" * len(header))
    statements = result["statements_per_operation"]
    for name in OPERATIONS:
        row = load["operations"].get(name)
        if row is None:
            continue
        counts = "/".join(str(n) for n in statements.get(name, [])) or "?"
        print(
            f"{name:<21} {row['count']:>6} {row['p50_ms']:>8.2f} {row['p90_ms']:>8.2f} {row['p99_ms']:>8.2f} "
            f"{row['max_ms']:>8.2f} {row['p99_over_p50']:>7.2f} {counts:>9}"
        )
    overall = load["overall"]
    print("-" * len(header))
    print(
        f"{'all requests':<21} {overall['count']:>6} {overall['p50_ms']:>8.2f} {overall['p90_ms']:>8.2f} "
        f"{overall['p99_ms']:>8.2f} {overall['max_ms']:>8.2f} {overall['p99_over_p50']:>7.2f} "
        f"{fmt(server['statements_per_request']):>9}"
    )
    whole = load["execution_latency"]
    print(
        f"{'whole execution':<21} {whole['count']:>6} {whole['p50_ms']:>8.1f} {whole['p90_ms']:>8.1f} "
        f"{whole['p99_ms']:>8.1f} {whole['max_ms']:>8.1f} {whole['p99_over_p50']:>7.2f}"
    )
    print("  SQL stmts per operation: measured in the pre-flight, one request at a time (a/b: differs by path);")
    print("  all requests: the server's statements ÷ GraphQL requests over the measured load (GET /bench/stats).")
    print()
    before, after = result["typename"]["before"], result["typename"]["after"]
    print(
        f"executions/s {load['executions_per_s']:.2f}   requests/s {load['requests_per_s']:.1f}   "
        f"errors {load['errors']}   server CPU {fmt(server['cpu_ms_per_req'])} ms/req   "
        f"client CPU {fmt(load['client_cpu_ms_per_req'])} ms/req"
    )
    print(
        f"mean SQL statements per request (server) {fmt(server['statements_per_request'])}  "
        f"({server['statements']} statements / {server['requests']} GraphQL requests; client sent {load['requests']})"
    )
    print(
        f"{{ __typename }} at c={config['concurrency']}: {before['throughput_rps']:.1f} req/s before, "
        f"{after['throughput_rps']:.1f} after (errors {before['errors'] + after['errors']})"
    )
    print()
    for check in result["checks"]:
        value = check["value"]
        shown = f"{value:.3f}" if isinstance(value, float) else str(value)
        status = verdict(check["pass"]) if check["pass"] is not None else "(info)"
        print(f"{check['name']:<52} {shown:>10}   {check.get('target') or '':<26} {status}")
    if server.get("other_processes_cpu_ms"):
        names = ", ".join(f"{name} {ms} ms" for name, ms in server["other_processes_cpu_ms"].items())
        print(f"  CPU used during the load by other processes (PostgreSQL included): {names}")
    for sample in load["error_samples"][:5]:
        print(f"  error sample: {sample}")
    check = result["app_check"]
    print(f"\n`python -m app check` (exit {check['exit_code']}, {check['seconds']:.1f} s): {check['output']}")


def checks(result: dict[str, Any]) -> list[dict[str, Any]]:
    load, counts, config = result["load"], result["counts"], result["config"]
    expected = config["executions"] + PREFLIGHT
    typename = (result["typename"]["before"]["throughput_rps"] + result["typename"]["after"]["throughput_rps"]) / 2
    throughput_ratio = ratio(load["requests_per_s"], typename)
    completed = counts["after"]["completed"] - counts["before"]["completed"]
    created = counts["after"]["all"] - counts["before"]["all"]
    tail_ratio = load["overall"]["p99_over_p50"]
    return [
        {
            "name": f"lifecycle req/s ÷ {{ __typename }} req/s (c={config['concurrency']})",
            "value": throughput_ratio,
            "target": None,
            "pass": None,
        },
        {
            "name": f"p99 ÷ p50, all requests (c={config['concurrency']})",
            "value": tail_ratio,
            "target": f"≤ {TARGET_TAIL_RATIO:.0f} (as bench/reject.py)",
            "pass": tail_ratio <= TARGET_TAIL_RATIO,
        },
        {"name": "errors", "value": load["errors"], "target": "= 0", "pass": load["errors"] == 0},
        {
            "name": "executions `completed` (GraphQL executions total)",
            "value": completed,
            "target": f"= {expected} (incl. {PREFLIGHT} pre-flight)",
            "pass": completed == expected and created == expected,
        },
        {
            "name": "`python -m app check`",
            "value": "ok" if result["app_check"]["ok"] else "FAILED",
            "target": "ok",
            "pass": result["app_check"]["ok"],
        },
    ]


# --------------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--executions", type=int, default=300, help="executions driven through (default 300)")
    parser.add_argument("--concurrency", type=int, default=16, help="executions in flight at once (default 16)")
    parser.add_argument(
        "--fail-every",
        type=int,
        default=10,
        help="1 in N executions fails step 2 and is retried (default 10; 0 = none)",
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help="DATABASE_URL of an existing, throw-away database (PostgreSQL: postgresql+asyncpg://...); "
        "default: SQLite in the temporary VAR_DIR",
    )
    parser.add_argument(
        "--typename-duration", type=float, default=4.0, help="seconds of { __typename } before and after (default 4)"
    )
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before each typename run")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds allowed to the lifecycle load")
    add_standard_arguments(parser, "lifecycle-<database>-<timestamp>.json")
    args = parse(parser, argv, SMOKE)
    if args.executions < 1 or args.concurrency < 1 or args.fail_every < 0:
        parser.error("--executions and --concurrency must be positive, --fail-every not negative")
    return args


def server_figures(
    stats: tuple[dict[str, int], dict[str, int]],
    cpu: tuple[float | None, float | None],
    machine: tuple[Any, Any],
    others: dict[str, int],
) -> dict[str, Any]:
    """The server's side of the load: statements per GraphQL request, CPU per request, how busy the machine was."""
    served = stats[1]["requests"] - stats[0]["requests"]
    executed = stats[1]["statements"] - stats[0]["statements"]
    before, after = cpu
    figures: dict[str, Any] = {
        "statements": executed,
        "requests": served,
        "statements_per_request": executed / served if served else math.nan,
        "cpu_ms_per_req": (
            (after - before) * 1000 / served if before is not None and after is not None and served else None
        ),
        "other_processes_cpu_ms": others,
    }
    if (used := machine_busy(*machine)) is not None:
        busy, _steal, _irq, total = used
        figures["machine_busy_pct"] = busy / total * 100 if total else None
    return figures


def bench(args: argparse.Namespace, cleanup: ExitStack) -> Outcome:
    env_info = environment(("asyncpg", "uvloop"))
    var_dir = temporary_directory("bench-lifecycle-", cleanup, keep=args.keep)
    secret = secrets.token_urlsafe(48)
    database = urllib.parse.urlsplit(args.database_url).scheme if args.database_url else "sqlite"
    scratch = scratch_database(
        "pg" if args.database_url else "sqlite",
        var_dir,
        secret,
        cleanup,
        keep=args.keep,
        database_url=args.database_url,
    )
    env = scratch.env
    admin, runner = mint_cli(var_dir, env, ADMIN, "admin"), mint_cli(var_dir, env, RUNNER, "runner")
    approver = mint_cli(var_dir, env, APPROVER, "admin")
    server = start_server(var_dir, env, database=database)
    cleanup.callback(server.stop)
    boot = wait_healthy(server)
    base_url = server.base_url
    print(f"server pid {server.proc.pid} on {base_url} ({database}) healthy after {boot:.1f} s")

    config = {
        "base_url": base_url,
        "admin_token": admin,
        "approver_token": approver,
        "runner_token": runner,
        "fail_every": args.fail_every,
        "concurrency": args.concurrency,
        "executions": args.executions,
        "first": PREFLIGHT,
    }
    counts_before = execution_counts(base_url, admin)
    statements = preflight(config, base_url)
    print(f"pre-flight: {PREFLIGHT} lifecycles (one retried) ok; SQL statements per operation {statements}")

    typename_before = typename_run(base_url, args.concurrency, args.typename_duration, args.warmup)
    print(f"  {{ __typename }} c={args.concurrency}: {typename_before['throughput_rps']:.1f} req/s")

    stats_before, cpu_before, machine_before = (
        bench_stats(base_url),
        process_cpu_seconds(server.proc.pid),
        machine_cpu(),
    )
    everything_before = all_processes_cpu()
    load = run_lifecycles(config, args.timeout)
    stats_after, cpu_after, machine_after = bench_stats(base_url), process_cpu_seconds(server.proc.pid), machine_cpu()
    others = busiest_others(everything_before, {server.proc.pid, os.getpid(), load["client_pid"]})
    print(
        f"  lifecycle c={args.concurrency}: {load['executions_per_s']:.2f} executions/s, "
        f"{load['requests_per_s']:.1f} req/s, errors {load['errors']}"
    )
    if (gone := server.exited()) is not None:
        raise RuntimeError(gone)

    typename_after = typename_run(base_url, args.concurrency, args.typename_duration, args.warmup)
    print(f"  {{ __typename }} c={args.concurrency}: {typename_after['throughput_rps']:.1f} req/s")
    counts_after = execution_counts(base_url, admin)
    server.stop()
    app_check = run_check(var_dir, env)
    lines = app_check["output"].splitlines()
    app_check["output"] = "\n".join(lines[:20] + ([f"... {len(lines) - 20} more lines"] if len(lines) > 20 else []))

    result: dict[str, Any] = {
        "timestamp": timestamp(),
        "config": {
            "executions": args.executions,
            "concurrency": args.concurrency,
            "fail_every": args.fail_every,
            "database": database,
            "typename_duration": args.typename_duration,
            "smoke": args.smoke,
            "server": "python -m app serve --no-seed (WORKERS=1, LOG_LEVEL=warning, BENCH_ENDPOINTS=1)",
            "client": "separate process, raw asyncio HTTP/1.1, one keep-alive connection per in-flight execution",
        },
        "environment": env_info | {"loadavg_after": loadavg()},
        "statements_per_operation": statements,
        "load": load,
        "server": server_figures(
            (stats_before, stats_after), (cpu_before, cpu_after), (machine_before, machine_after), others
        ),
        "typename": {"before": typename_before, "after": typename_after},
        "counts": {"before": counts_before, "after": counts_after},
        "app_check": app_check,
    }
    result["checks"] = checks(result)
    print_report(result)
    if not args.no_json:
        write_result(f"lifecycle-{database.split('+')[0]}", result)
    outcome = Outcome()
    for check in result["checks"]:
        name, value = check["name"], check["value"]
        if name == "errors":
            outcome.require(f"{value} errors in responses", ok=check["pass"])
        elif name.startswith("executions `completed`"):
            outcome.require(f"{value} executions completed, expected {check['target']}", ok=check["pass"])
        elif name == "`python -m app check`":
            outcome.require("`python -m app check` is not ok", ok=check["pass"])
        else:
            outcome.target(name, check["pass"])
    return outcome


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return kit_run.run("bench.lifecycle", lambda cleanup: bench(args, cleanup))


if __name__ == "__main__":
    sys.exit(main())
