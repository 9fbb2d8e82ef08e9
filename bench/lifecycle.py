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
import multiprocessing
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from common import (
    RESULTS_DIR,
    ROOT,
    _RawConnection,
    all_processes_cpu,
    base_env,
    command_line,
    environment,
    free_port,
    machine_cpu,
    migrate,
    percentile,
    process_cpu_seconds,
    raise_keyboard_interrupt,
    run_client,
    start_server,
    stop_server,
    tail,
    verdict,
    wait_healthy,
)

ADMIN = "bench-admin"
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


def documents() -> dict[str, str]:
    """The GraphQL documents, the mutations shared with the integration tests (tests/integration/lifecycle.py)."""
    from tests.integration import lifecycle as docs

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
        parts = urllib.parse.urlsplit(config["base_url"])
        self.address = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.documents = documents()
        self.prefix = {
            role: (
                f"POST /graphql HTTP/1.1\r\nHost: {parts.netloc}\r\nAuthorization: Bearer {token}\r\n"
                "Content-Type: application/json\r\nContent-Length: "
            ).encode()
            for role, token in (("admin", config["admin_token"]), ("runner", config["runner_token"]))
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
        self, connection: _RawConnection, operation: str, payload: dict[str, Any], role: str = "admin"
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
        except (OSError, EOFError, ValueError, TimeoutError, asyncio.IncompleteReadError) as error:
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

    async def lifecycle(self, connection: _RawConnection, index: int) -> None:
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
            connection, "approveExecutionStep", ids | {"stepId": steps[1], "approvedBy": ADMIN, "note": "Window open."}
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
            connection = _RawConnection(*self.address)
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


def latency_summary(values: list[float]) -> dict[str, Any]:
    ordered = sorted(values)
    p50, p99 = percentile(ordered, 0.50), percentile(ordered, 0.99)
    return {
        "count": len(ordered),
        "p50_ms": p50 * 1000,
        "p90_ms": percentile(ordered, 0.90) * 1000,
        "p99_ms": p99 * 1000,
        "max_ms": ordered[-1] * 1000 if ordered else math.nan,
        "mean_ms": sum(ordered) / len(ordered) * 1000 if ordered else math.nan,
        "p99_over_p50": p99 / p50 if ordered and p50 > 0 else math.nan,
    }


async def _load(config: dict[str, Any]) -> dict[str, Any]:
    driver = Driver(config)
    cpu = time.process_time()
    await driver.run(config["first"], config["executions"], config["concurrency"])
    result = driver.result()
    result["client_cpu_ms_per_req"] = (time.process_time() - cpu) * 1000 / max(1, driver.requests)
    return result


def _client_process(conn: Any, config: dict[str, Any]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent owns Ctrl-C and terminates this process
    try:
        try:
            import uvloop

            runner: Any = uvloop.run
        except ImportError:
            runner = asyncio.run
        message: tuple[str, Any] = ("ok", runner(_load(config)))
    except BaseException as error:
        message = ("error", f"{type(error).__name__}: {error}")
    try:
        conn.send(message)
    except (BrokenPipeError, OSError):
        pass
    finally:
        conn.close()


def run_lifecycles(config: dict[str, Any], timeout: float) -> dict[str, Any]:
    """The measured load, in a fresh process (as common.run_client)."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_client_process, args=(sender, config), name="bench-lifecycle")
    process.start()
    sender.close()
    finished = False
    try:
        if not receiver.poll(timeout):
            raise RuntimeError(f"the load generator did not report within {timeout:.0f} s")
        status, payload = receiver.recv()
        finished = True
        if status != "ok":
            raise RuntimeError(f"the load generator failed: {payload}")
        payload["client_pid"] = process.pid
        return payload  # type: ignore[no-any-return]
    finally:
        if not finished:
            process.terminate()
        process.join(timeout=5)
        if process.is_alive():
            process.kill()
            process.join(timeout=5)
        receiver.close()


# --------------------------------------------------------------------------------------------------
# Server helpers
# --------------------------------------------------------------------------------------------------


def mint(var_dir: Path, env: dict[str, str], sub: str, role: str) -> str:
    """A bearer token from the app's own CLI (`python -m app token`), with the server's JWT_SECRET."""
    completed = subprocess.run(
        [sys.executable, "-m", "app", "token", "--sub", sub, "--role", role, "--ttl", str(6 * 3600)],
        cwd=var_dir,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return completed.stdout.strip()


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


def typename_run(base_url: str, concurrency: int, duration: float, warmup: float) -> dict[str, Any]:
    config = {
        "target": "typename",
        "client": "raw",
        "concurrency": concurrency,
        "warmup": warmup,
        "duration": duration,
        "base_url": base_url,
        "token": "",
        "first_step": 0,
        "last_step": 0,
    }
    return run_client(config)


def busiest_others(before: dict[int, tuple[float, str]], known: set[int], count: int = 5) -> dict[str, int]:
    """CPU ms during the load of the busiest processes other than the server, the client and this one (PostgreSQL
    included: on a shared server its backends for other databases are other load too)."""
    used = sorted(
        ((seconds - before.get(pid, (0.0, ""))[0], pid, name) for pid, (seconds, name) in all_processes_cpu().items()),
        reverse=True,
    )
    others = [item for item in used if item[1] not in known and item[0] >= 0.05][:count]
    return {f"{pid} {command_line(pid)[:90] or f'[{name}]'}": round(seconds * 1000) for seconds, pid, name in others}


def preflight(config: dict[str, Any], base_url: str) -> dict[str, Any]:
    """One execution that succeeds and one that fails step 2 and is retried, one request at a time, reading the
    server's statement counter around each request: the statements of every operation, exactly."""
    driver = Driver(config | {"fail_every": PREFLIGHT}, probe=lambda: bench_stats(base_url)["statements"])
    asyncio.run(driver.run(0, PREFLIGHT, 1))
    if driver.errors or driver.completed != PREFLIGHT:
        raise RuntimeError(f"pre-flight lifecycle failed: {driver.error_samples}")
    return {name: sorted(set(counts)) for name, counts in driver.statements.items() if counts}


def run_check(var_dir: Path, env: dict[str, str], timeout: float = 600.0) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        completed = subprocess.run(
            [sys.executable, "-m", "app", "check"],
            cwd=var_dir,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )
        code, output = completed.returncode, (completed.stdout + completed.stderr).strip()
    except subprocess.TimeoutExpired:
        code, output = None, f"did not finish within {timeout:.0f} s"
    lines = output.splitlines()
    return {
        "exit_code": code,
        "ok": code == 0,
        "seconds": time.perf_counter() - started,
        "output": "\n".join(lines[:20] + ([f"... {len(lines) - 20} more lines"] if len(lines) > 20 else [])),
    }


# --------------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------------


def _fmt(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


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
        f"wall {load['elapsed_s']:.1f} s  machine busy {_fmt(server.get('machine_busy_pct'), 0)}%"
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
        f"{_fmt(server['statements_per_request']):>9}"
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
        f"errors {load['errors']}   server CPU {_fmt(server['cpu_ms_per_req'])} ms/req   "
        f"client CPU {_fmt(load['client_cpu_ms_per_req'])} ms/req"
    )
    print(
        f"mean SQL statements per request (server) {_fmt(server['statements_per_request'])}  "
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
    ratio = load["requests_per_s"] / typename if typename else math.nan
    completed = counts["after"]["completed"] - counts["before"]["completed"]
    created = counts["after"]["all"] - counts["before"]["all"]
    tail_ratio = load["overall"]["p99_over_p50"]
    return [
        {
            "name": f"lifecycle req/s ÷ {{ __typename }} req/s (c={config['concurrency']})",
            "value": ratio,
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
    parser.add_argument("--keep", action="store_true", help="keep the temporary VAR_DIR (database, server log)")
    parser.add_argument(
        "--no-json", action="store_true", help="do not write bench/results/lifecycle-<database>-<timestamp>.json"
    )
    args = parser.parse_args(argv)
    if args.executions < 1 or args.concurrency < 1 or args.fail_every < 0:
        parser.error("--executions and --concurrency must be positive, --fail-every not negative")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, raise_keyboard_interrupt)  # cleanup runs on SIGTERM as on Ctrl-C
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))  # app and tests.integration.lifecycle (inherited by the spawned client)
    env_info = environment(("asyncpg", "uvloop"))
    var_dir = Path(tempfile.mkdtemp(prefix="bench-lifecycle-"))
    server: subprocess.Popen[bytes] | None = None
    try:
        secret = secrets.token_urlsafe(48)
        env = base_env(var_dir, secret)
        if args.database_url:
            env["DATABASE_URL"] = args.database_url
        database = urllib.parse.urlsplit(args.database_url).scheme if args.database_url else "sqlite"
        migrate(var_dir, env)
        admin, runner = mint(var_dir, env, ADMIN, "admin"), mint(var_dir, env, RUNNER, "runner")

        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        log_path = var_dir / "server.log"
        server = start_server(var_dir, env, port, log_path)
        boot = wait_healthy(server, base_url, log_path)
        print(f"server pid {server.pid} on {base_url} ({database}) healthy after {boot:.1f} s")

        config = {
            "base_url": base_url,
            "admin_token": admin,
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

        stats_before, cpu_before, machine_before = bench_stats(base_url), process_cpu_seconds(server.pid), machine_cpu()
        everything_before = all_processes_cpu()
        load = run_lifecycles(config, args.timeout)
        stats_after, cpu_after, machine_after = bench_stats(base_url), process_cpu_seconds(server.pid), machine_cpu()
        others = busiest_others(everything_before, {server.pid, os.getpid(), load["client_pid"]})
        print(
            f"  lifecycle c={args.concurrency}: {load['executions_per_s']:.2f} executions/s, "
            f"{load['requests_per_s']:.1f} req/s, errors {load['errors']}"
        )
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with code {server.returncode}:\n{tail(log_path)}")

        typename_after = typename_run(base_url, args.concurrency, args.typename_duration, args.warmup)
        print(f"  {{ __typename }} c={args.concurrency}: {typename_after['throughput_rps']:.1f} req/s")
        counts_after = execution_counts(base_url, admin)
        stop_server(server)
        app_check = run_check(var_dir, env)

        served = stats_after["requests"] - stats_before["requests"]
        executed = stats_after["statements"] - stats_before["statements"]
        server_info: dict[str, Any] = {
            "statements": executed,
            "requests": served,
            "statements_per_request": executed / served if served else math.nan,
            "cpu_ms_per_req": (
                (cpu_after - cpu_before) * 1000 / served
                if cpu_before is not None and cpu_after is not None and served
                else None
            ),
        }
        server_info["other_processes_cpu_ms"] = others
        if machine_before and machine_after:
            busy, _steal, _irq, total = (
                after - before for after, before in zip(machine_after, machine_before, strict=True)
            )
            server_info["machine_busy_pct"] = busy / total * 100 if total else None
        result: dict[str, Any] = {
            "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
            "config": {
                "executions": args.executions,
                "concurrency": args.concurrency,
                "fail_every": args.fail_every,
                "database": database,
                "typename_duration": args.typename_duration,
                "server": "python -m app serve --no-seed (WORKERS=1, LOG_LEVEL=warning, BENCH_ENDPOINTS=1)",
                "client": "separate process, raw asyncio HTTP/1.1, one keep-alive connection per in-flight execution",
            },
            "environment": env_info | {"loadavg_after": [round(x, 2) for x in os.getloadavg()]},
            "statements_per_operation": statements,
            "load": load,
            "server": server_info,
            "typename": {"before": typename_before, "after": typename_after},
            "counts": {"before": counts_before, "after": counts_after},
            "app_check": app_check,
        }
        result["checks"] = checks(result)
        print_report(result)
        if not args.no_json:
            RESULTS_DIR.mkdir(parents=True, exist_ok=True)
            path = (
                RESULTS_DIR / f"lifecycle-{database.split('+')[0]}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
            )
            path.write_text(json.dumps(result, indent=2, allow_nan=True) + "\n")
            print(f"\nresults: {path.relative_to(ROOT)}")
        gating = ("errors", "executions `completed`", "`python -m app check`")  # the tail ratio only informs
        return 0 if all(c["pass"] for c in result["checks"] if c["name"].startswith(gating)) else 1
    except KeyboardInterrupt:
        print("\ninterrupted; cleaning up", file=sys.stderr)
        return 130
    except (RuntimeError, OSError, subprocess.CalledProcessError) as error:
        detail = f"\n{error.stderr}" if isinstance(error, subprocess.CalledProcessError) and error.stderr else ""
        print(f"error: {error}{detail}", file=sys.stderr)
        if server is not None:
            print(f"server log (last lines):\n{tail(var_dir / 'server.log')}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not interrupt the cleanup
        if server is not None:
            stop_server(server)
        if args.keep:
            print(f"kept {var_dir}", file=sys.stderr)
        else:
            shutil.rmtree(var_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
