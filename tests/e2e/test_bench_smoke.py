"""Every benchmark's smoke mode (`python -m bench.<name> --smoke`: about a second of load on tiny data), run the
way `make bench*` runs it, so that a benchmark that breaks fails the suite instead of a user's first try.

Each runs once per `make test`: the SQLite benchmarks in the `--db sqlite` pass, bench.scale (PostgreSQL and
SQLite) in the `--db postgresql` pass, which runs only where PostgreSQL answers. A smoke run must exit 0 (the
exit rule of bench/README.md: performance targets may MISS, but `python -m app check` must be ok, no response an
error, every server up), print its ratio lines and end with its verdict.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest

from tests.e2e.conftest import REPO_ROOT, describe

pytestmark = pytest.mark.e2e

NUM = r"(\d+\.\d+|nan)"
SMOKE_TIMEOUT = 240.0  # seconds; a smoke run takes 15-40 s on a busy 2-core machine
BENCHES = {
    # module: (the --db pass it runs in, the ratio lines its report must have)
    "bench.reject": (
        "sqlite",
        (
            rf"c=16\s+reject ÷ bare throughput\s+{NUM}\s+target ≥ 0\.60\s+(PASS|MISS)",
            rf"c=16\s+reject ÷ typename throughput\s+{NUM}\s+target ≥ 0\.50\s+(PASS|MISS)",
            rf"c=16\s+reject p99 ÷ p50\s+{NUM}, errors 0\s+target ≤ 5 with zero errors\s+(PASS|MISS)",
        ),
    ),
    "bench.lifecycle": (
        "sqlite",
        (
            rf"lifecycle req/s ÷ \{{ __typename \}} req/s \(c=\d+\)\s+{NUM}\s+\(info\)",
            rf"p99 ÷ p50, all requests \(c=\d+\)\s+{NUM}\s+≤ 5 \(as bench/reject\.py\)\s+(PASS|MISS)",
        ),
    ),
    "bench.approval": (
        "sqlite",
        (
            rf"quorum ÷ single, decisions/s\s+{NUM}\s+\(info: two votes per decision\)",
            rf"quorum ÷ single, votes/s\s+{NUM}\s+target ≥ 0\.80\s+(PASS|MISS)",
        ),
    ),
    "bench.reads": (
        "sqlite",
        (rf"pendingApprovals\s+{NUM}\s+{NUM}\s+{NUM}\s+(PASS|MISS)", r"RSS after [\d,]+ mixed requests"),
    ),
    "bench.live": (
        "sqlite",
        (
            rf"delivery p99, answered → receipt \(ms\)\s+{NUM}\s+target ≤ 250\s+(PASS|MISS)",
            rf"client CPU ÷ server CPU\s+{NUM}\s+\(info\)",
            rf"server memory per idle subscriber \(KB\)\s+{NUM}\s+target ≤ 50\s+(PASS|MISS)",
            rf"burst p99 ÷ baseline p50\s+{NUM}\s+\(info\)",
        ),
    ),
    "bench.webhooks": (
        "sqlite",
        (
            rf"capacity \(backlog drain\)\s+{NUM} deliveries/s, {NUM} per core",
            rf"delivered ÷ offered at the sustained rate\s+{NUM}\s+target ≥ 0\.95\s+(PASS|MISS)",
            rf"lag p99\s+{NUM} s\s+target ≤ 2 s\s+(PASS|MISS)",
        ),
    ),
    "bench.scale": (
        "postgresql",
        (
            rf"c=16\s+PG 2 processes, 2 ports ÷ PG 1 process\s+{NUM}\s+target ≥ 1\.60\s+(PASS|MISS)",
            rf"c=16\s+SQLite ÷ PG, 1 process each\s+{NUM}\s+\(info\)",
        ),
    ),
}


@pytest.mark.parametrize("module", list(BENCHES))
def test_the_smoke_mode_runs_green(module: str, request: pytest.FixtureRequest) -> None:
    database, ratio_lines = BENCHES[module]
    if request.config.getoption("--db") != database:
        pytest.skip(f"{module} --smoke runs once, in the --db {database} pass")
    env = {name: value for name, value in os.environ.items() if name != "DATABASE_URL"} | {"PYTHONUNBUFFERED": "1"}
    if "TEST_POSTGRES_URL" in os.environ:
        env["BENCH_PG_ADMIN_URL"] = os.environ["TEST_POSTGRES_URL"]
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", module, "--smoke"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=SMOKE_TIMEOUT,
        check=False,
    )
    seconds = time.perf_counter() - started
    output = result.stdout
    assert result.returncode == 0, describe(result)
    for pattern in ratio_lines:
        assert re.search(pattern, output), f"no line matching {pattern!r} in:\n{output}"
    assert re.search(r"`python -m app check` \(exit 0, ", output), output
    assert output.strip().splitlines()[-1].startswith(f"{module}: ok: targets "), output
    request.node.user_properties.append(("smoke_seconds", round(seconds, 1)))  # in junit XML; --durations shows it
