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
import json
import math
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from common import (
    RESULTS_DIR,
    ROOT,
    TYPENAME_BODY,
    bare_reject_body,
    base_env,
    environment,
    free_port,
    graphql_reject_body,
    migrate,
    mint_token,
    post,
    process_cpu_seconds,
    raise_keyboard_interrupt,
    response_error,
    run_client,
    seed,
    start_server,
    stop_server,
    tail,
    target_path,
    verdict,
    wait_healthy,
)

TARGETS = ("reject", "bare", "typename")
SANITY_STEPS = 2  # steps 0 and 1 are used by the pre-flight check, the runs start after them

# Targets printed next to the ratios measured in the same run.
TARGET_REJECT_VS_BARE = 0.60
TARGET_REJECT_VS_TYPENAME = 0.50
TARGET_TAIL_RATIO = 5.0
TAIL_CONCURRENCY = 16


# --------------------------------------------------------------------------------------------------
# Pre-flight check
# --------------------------------------------------------------------------------------------------


def preflight(base_url: str, token: str) -> None:
    """One request of each target, so a broken setup fails loudly before any measurement."""
    checks = [
        ("reject", graphql_reject_body(0), '"status":"rejected"'),
        ("bare", bare_reject_body(1), '"status":"rejected"'),
        ("typename", TYPENAME_BODY, '"__typename":"Query"'),
    ]
    for target, body, expected in checks:
        status, content = post(base_url + target_path(target), body, token)
        problem = response_error(target, status, content)
        if problem is None and expected not in content.decode(errors="replace").replace(" ", ""):
            problem = f"unexpected answer: {content[:300]!r}"
        if problem is not None:
            raise RuntimeError(f"pre-flight {target} failed: {problem}")


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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, raise_keyboard_interrupt)  # cleanup runs on SIGTERM as on Ctrl-C
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
                    raise RuntimeError(f"the server exited with code {server.returncode}:\n{tail(log_path)}")

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
