"""Benchmark the reject command through GraphQL against its bare baseline and an empty GraphQL query.

    .venv/bin/python bench/reject.py [--duration 8] [--warmup 1] [--concurrency 1,16] [--executions 30000]

It prepares a throw-away VAR_DIR (migrated, pre-seeded with one `awaiting_approval` step per execution),
starts the real server (`python -m app serve --no-seed`, BENCH_ENDPOINTS=1, one worker) and drives it from
a separate load-generator process (asyncio + one httpx.AsyncClient, connection limit = concurrency).
Targets, each for a fixed duration after an unmeasured warm-up, at each concurrency:

    reject    POST /graphql        rejectExecutionStep mutation (variables), a distinct step per request
    bare      POST /bench/reject   the same command through the executor, JSON in and out, no GraphQL
    typename  POST /graphql        { __typename }

It prints throughput, p50/p99 and errors, the ratios against their targets, and writes the whole result
to bench/results/reject-<timestamp>.json. The server and the temporary directory are removed on exit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import os
import platform
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"

SUBJECT = "bench-admin"  # the token's `sub`; the executor requires rejectedBy == the caller's id
REASON = "Rejected by bench/reject.py."
TARGETS = ("reject", "bare", "typename")
DISTINCT_TARGETS = ("reject", "bare")  # each request consumes one pre-seeded step
SANITY_STEPS = 2  # steps 0 and 1 are used by the pre-flight check, the runs start after them
SEED_CHUNK = 5_000  # executions per insert (SQLite caps the number of bound parameters)

MUTATION = (
    "mutation Reject($input: ControlPlaneExecutionRejectInput!) "
    "{ rejectExecutionStep(input: $input) { executionId stepId status rejectedAt } }"
)
TYPENAME_BODY = b'{"query":"{ __typename }"}'

# Targets printed next to the ratios measured in the same run.
TARGET_REJECT_VS_BARE = 0.60
TARGET_REJECT_VS_TYPENAME = 0.50
TARGET_TAIL_RATIO = 5.0
TAIL_CONCURRENCY = 16


def execution_id(index: int) -> str:
    return f"bx-{index:06d}"


def step_id(index: int) -> str:
    return f"bx-{index:06d}-s1"


# --------------------------------------------------------------------------------------------------
# Preparation: database, token, server
# --------------------------------------------------------------------------------------------------


def _settings_env_names() -> set[str]:
    from app.settings import Settings

    return {name.upper() for name in Settings.model_fields}


def base_env(var_dir: Path, secret: str) -> dict[str, str]:
    """The parent's environment without any setting of the app, then ours (so nothing leaks in)."""
    names = _settings_env_names()
    env = {key: value for key, value in os.environ.items() if key.upper() not in names}
    env |= {"VAR_DIR": str(var_dir), "JWT_SECRET": secret, "LOG_LEVEL": "warning", "PYTHONUNBUFFERED": "1"}
    return env


def migrate(var_dir: Path, env: dict[str, str]) -> None:
    # cwd = var_dir: the app reads `.env` from its working directory, and the bench must not.
    subprocess.run(
        [sys.executable, "-m", "app", "migrate"], cwd=var_dir, env=env, check=True, stdout=subprocess.DEVNULL
    )


async def _seed(var_dir: Path, count: int) -> int:
    from app.db.database import Database
    from app.services.seed import SeedDataset, SeedExecution, SeedStep, insert_executions
    from app.settings import Settings

    settings = Settings(var_dir=var_dir, database_url=None, _env_file=None)  # type: ignore[call-arg]
    database = Database(settings)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    added = 0
    try:
        async with database.unit_of_work(write=True) as session:
            for start in range(0, count, SEED_CHUNK):
                executions = [
                    SeedExecution(
                        id=execution_id(i),
                        workspace="ws-bench",
                        plan=f"plan-{execution_id(i)}",
                        run=f"run-{execution_id(i)}",
                        status="awaiting_approval",
                        risk_tier="high",
                        requires_approval=True,
                        created_at=at,
                        updated_at=at,
                        steps=[
                            SeedStep(
                                id=step_id(i),
                                key="deploy.production",
                                status="awaiting_approval",
                                risk_tier="high",
                                requires_approval=True,
                            )
                        ],
                    )
                    for i in range(start, min(count, start + SEED_CHUNK))
                ]
                added += await insert_executions(session, SeedDataset(executions=executions))
    finally:
        await database.dispose()
    return added


def seed(var_dir: Path, count: int) -> int:
    return asyncio.run(_seed(var_dir, count))


def mint_token(secret: str, ttl: int = 4 * 3600) -> str:
    import jwt

    now = int(time.time())
    return jwt.encode({"sub": SUBJECT, "roles": ["admin"], "iat": now, "exp": now + ttl}, secret, algorithm="HS256")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the server gets SIGTERM if the benchmark dies without cleaning up (e.g. SIGKILL)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # best effort
        pass


def start_server(var_dir: Path, env: dict[str, str], port: int, log_path: Path) -> subprocess.Popen[bytes]:
    server_env = env | {"PORT": str(port), "HOST": "127.0.0.1", "BENCH_ENDPOINTS": "1", "WORKERS": "1"}
    log = log_path.open("wb")
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--no-seed"],
            cwd=var_dir,
            env=server_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the benchmark only; it stops the server itself
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
    finally:
        log.close()


def wait_healthy(proc: subprocess.Popen[bytes], base_url: str, log_path: Path, timeout: float = 60.0) -> float:
    started = time.perf_counter()
    deadline = started + timeout
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with code {proc.returncode}:\n{_tail(log_path)}")
        try:
            with urllib.request.urlopen(f"{base_url}/healthz", timeout=1) as response:
                if response.status == 200:
                    return time.perf_counter() - started
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the server did not answer /healthz within {timeout:.0f} s:\n{_tail(log_path)}")


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (all its threads), from /proc; None where unavailable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


# --------------------------------------------------------------------------------------------------
# Request bodies (shared by the pre-flight check and the load generator)
# --------------------------------------------------------------------------------------------------


def graphql_reject_body(index: int) -> bytes:
    variables = {
        "input": {"executionId": execution_id(index), "stepId": step_id(index), "rejectedBy": SUBJECT, "reason": REASON}
    }
    return json.dumps({"query": MUTATION, "variables": variables}, separators=(",", ":")).encode()


def bare_reject_body(index: int) -> bytes:
    body = {"execution_id": execution_id(index), "step_id": step_id(index), "rejected_by": SUBJECT, "reason": REASON}
    return json.dumps(body, separators=(",", ":")).encode()


def target_path(target: str) -> str:
    return "/bench/reject" if target == "bare" else "/graphql"


def response_error(target: str, status: int, content: bytes) -> str | None:
    """None when the response is a success, else a short description."""
    if status != 200:
        return f"HTTP {status}: {content[:200]!r}"
    try:
        document = json.loads(content)
    except ValueError:
        return f"not JSON: {content[:200]!r}"
    key = "error" if target == "bare" else "errors"
    if not isinstance(document, dict) or key in document:
        return f"{key}: {json.dumps(document)[:300]}"
    return None


def preflight(base_url: str, token: str) -> None:
    """One request of each target, so a broken setup fails loudly before any measurement."""
    checks = [
        ("reject", graphql_reject_body(0), '"status":"rejected"'),
        ("bare", bare_reject_body(1), '"status":"rejected"'),
        ("typename", TYPENAME_BODY, '"__typename":"Query"'),
    ]
    for target, body, expected in checks:
        request = urllib.request.Request(
            base_url + target_path(target),
            data=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, content = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, content = error.code, error.read()
        problem = response_error(target, status, content)
        if problem is None and expected not in content.decode(errors="replace").replace(" ", ""):
            problem = f"unexpected answer: {content[:300]!r}"
        if problem is not None:
            raise RuntimeError(f"pre-flight {target} failed: {problem}")


# --------------------------------------------------------------------------------------------------
# Load generator (runs in its own process)
# --------------------------------------------------------------------------------------------------


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


async def _load(config: dict[str, Any]) -> dict[str, Any]:
    import httpx

    target: str = config["target"]
    concurrency: int = config["concurrency"]
    distinct = target in DISTINCT_TARGETS
    first, last = config["first_step"], config["last_step"]
    if target == "reject":
        bodies = [graphql_reject_body(i) for i in range(first, last)]
    elif target == "bare":
        bodies = [bare_reject_body(i) for i in range(first, last)]
    else:
        bodies = [TYPENAME_BODY]
    path = target_path(target)
    headers = {"Authorization": f"Bearer {config['token']}", "Content-Type": "application/json"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    timeout = httpx.Timeout(30.0)

    latencies: list[float] = []
    errors = 0
    warmup_requests = 0
    warmup_errors = 0
    error_samples: list[str] = []
    cursor = 0
    exhausted = False
    last_finish = 0.0

    async with httpx.AsyncClient(
        base_url=config["base_url"], headers=headers, limits=limits, timeout=timeout, trust_env=False
    ) as client:
        post = client.post
        clock = time.perf_counter
        cpu_start = time.process_time()
        measure_start = clock() + config["warmup"]
        end = measure_start + config["duration"]

        async def worker() -> None:
            nonlocal cursor, errors, warmup_requests, warmup_errors, exhausted, last_finish
            body = bodies[0]
            while True:
                started = clock()
                if started >= end:
                    return
                if distinct:
                    if cursor >= len(bodies):
                        exhausted = True
                        return
                    body = bodies[cursor]
                    cursor += 1
                try:
                    response = await post(path, content=body)
                    problem = response_error(target, response.status_code, response.content)
                except httpx.HTTPError as error:
                    problem = f"{type(error).__name__}: {error}"
                finished = clock()
                if started >= measure_start:
                    latencies.append(finished - started)
                    last_finish = max(last_finish, finished)
                    if problem is not None:
                        errors += 1
                else:
                    warmup_requests += 1
                    if problem is not None:
                        warmup_errors += 1
                if problem is not None and len(error_samples) < 5:
                    error_samples.append(problem)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        client_cpu = time.process_time() - cpu_start

    elapsed = max(last_finish - measure_start, 1e-9)
    latencies.sort()
    p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
    return {
        "target": target,
        "concurrency": concurrency,
        "requests": len(latencies),
        "errors": errors,
        "elapsed_s": elapsed,
        "throughput_rps": len(latencies) / elapsed if latencies else 0.0,
        "p50_ms": p50 * 1000,
        "p90_ms": percentile(latencies, 0.90) * 1000,
        "p99_ms": p99 * 1000,
        "max_ms": (latencies[-1] * 1000) if latencies else math.nan,
        "mean_ms": (sum(latencies) / len(latencies) * 1000) if latencies else math.nan,
        "p99_over_p50": p99 / p50 if latencies and p50 > 0 else math.nan,
        "warmup_requests": warmup_requests,
        "warmup_errors": warmup_errors,
        "client_cpu_ms_per_req": client_cpu * 1000 / max(1, len(latencies) + warmup_requests),
        "steps_used": cursor if distinct else 0,
        "exhausted": exhausted,
        "error_samples": error_samples,
    }


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
        pass  # the parent is gone or gave up
    finally:
        conn.close()


def run_client(config: dict[str, Any]) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_client_process, args=(sender, config), name=f"bench-{config['target']}")
    process.start()
    sender.close()
    finished = False
    try:
        limit = config["warmup"] + config["duration"] + 120
        if not receiver.poll(limit):
            raise RuntimeError(f"the load generator did not report within {limit:.0f} s")
        status, payload = receiver.recv()
        finished = True
        if status != "ok":
            raise RuntimeError(f"the load generator failed: {payload}")
        return payload  # type: ignore[no-any-return]
    finally:
        if not finished:  # interrupted or timed out: stop it now rather than let it finish its run
            process.terminate()
        process.join(timeout=5)
        if process.is_alive():
            process.kill()
            process.join(timeout=5)
        receiver.close()


# --------------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------------


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


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
            f"target {check['target']:<24} {_verdict(check['pass'])}"
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


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def environment() -> dict[str, Any]:
    versions = {}
    for package in ("strawberry-graphql", "starlette", "uvicorn", "sqlalchemy", "aiosqlite", "pydantic", "httpx"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "loadavg_before": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
        "packages": versions,
        "git_commit": _git("rev-parse", "--short", "HEAD") or None,
        "git_dirty": bool(_git("status", "--porcelain", "--", "app")),
    }


# --------------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=8.0, help="measured seconds per run (default 8)")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before each run (default 1)")
    parser.add_argument("--concurrency", default="1,16", help="comma-separated concurrency levels (default 1,16)")
    parser.add_argument(
        "--executions", type=int, default=30_000, help="pre-seeded executions, one awaiting step each (default 30000)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary VAR_DIR (database, server log)")
    parser.add_argument("--no-json", action="store_true", help="do not write bench/results/reject-<timestamp>.json")
    args = parser.parse_args(argv)
    args.concurrencies = [int(part) for part in args.concurrency.split(",") if part.strip()]
    if not args.concurrencies or min(args.concurrencies) < 1:
        parser.error("--concurrency needs positive integers")
    if args.executions <= SANITY_STEPS:
        parser.error(f"--executions must be more than {SANITY_STEPS}")
    return args


def _raise_keyboard_interrupt(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)  # cleanup runs on SIGTERM as on Ctrl-C
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    env_info = environment()
    var_dir = Path(tempfile.mkdtemp(prefix="bench-reject-"))
    server: subprocess.Popen[bytes] | None = None
    try:
        secret = secrets.token_urlsafe(48)
        env = base_env(var_dir, secret)
        started = time.perf_counter()
        migrate(var_dir, env)
        added = seed(var_dir, args.executions)
        print(f"prepared {var_dir}: migrated and seeded {added} executions in {time.perf_counter() - started:.1f} s")

        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        log_path = var_dir / "server.log"
        server = start_server(var_dir, env, port, log_path)
        boot = wait_healthy(server, base_url, log_path)
        print(f"server pid {server.pid} on {base_url} healthy after {boot:.1f} s")
        token = mint_token(secret)
        preflight(base_url, token)

        runs: list[dict[str, Any]] = []
        cursor = SANITY_STEPS
        for concurrency in args.concurrencies:
            for target in TARGETS:
                config = {
                    "target": target,
                    "concurrency": concurrency,
                    "warmup": args.warmup,
                    "duration": args.duration,
                    "base_url": base_url,
                    "token": token,
                    "first_step": cursor,
                    "last_step": args.executions,
                }
                cpu_before = process_cpu_seconds(server.pid)
                run = run_client(config)
                cpu_after = process_cpu_seconds(server.pid)
                # Server CPU per request (warm-up included: the server is idle between runs). Less sensitive
                # than req/s to other load on a shared machine.
                served = run["requests"] + run["warmup_requests"]
                run["server_cpu_ms_per_req"] = (
                    (cpu_after - cpu_before) * 1000 / served
                    if cpu_before is not None and cpu_after is not None and served
                    else None
                )
                cursor += run["steps_used"]
                runs.append(run)
                print(
                    f"  {target:<9} c={concurrency:<3} {run['throughput_rps']:8.1f} req/s  "
                    f"p50 {run['p50_ms']:7.2f} ms  p99 {run['p99_ms']:7.2f} ms  errors {run['errors']}"
                    + ("  STEPS EXHAUSTED: raise --executions" if run["exhausted"] else "")
                )
                if server.poll() is not None:
                    raise RuntimeError(f"the server exited with code {server.returncode}:\n{_tail(log_path)}")

        result = {
            "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
            "config": {
                "duration": args.duration,
                "warmup": args.warmup,
                "concurrencies": args.concurrencies,
                "executions": args.executions,
                "steps_consumed": cursor,
                "server": "python -m app serve --no-seed (WORKERS=1, LOG_LEVEL=warning, BENCH_ENDPOINTS=1)",
                "client": "separate process, asyncio + httpx.AsyncClient, connection limit = concurrency",
            },
            "environment": env_info,
            "runs": runs,
            "ratios": ratios(runs, args.concurrencies),
        }
        print_report(result)
        if not args.no_json:
            RESULTS_DIR.mkdir(parents=True, exist_ok=True)
            path = RESULTS_DIR / f"reject-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
            path.write_text(json.dumps(result, indent=2, allow_nan=True) + "\n")
            print(f"\nresults: {path.relative_to(ROOT)}")
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted; cleaning up", file=sys.stderr)
        return 130
    except (RuntimeError, subprocess.CalledProcessError) as error:
        print(f"error: {error}", file=sys.stderr)
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
