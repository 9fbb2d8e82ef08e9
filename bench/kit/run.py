"""The run of a benchmark: arguments shared by all (`--smoke`, `--keep`, `--no-json`), signals, clean-up, and
the exit rule of bench/README.md:

- exit 1, the reason in the last line, when the benchmark could not measure what it claims: `python -m app check`
  is not ok on its database, a response was an error, a server is missing or died, the load generator failed;
- exit 0 otherwise, also when a performance target is missed: the report says MISS (a target is a goal, not a
  failure of the tool), and the last line counts the PASS and MISS;
- exit 130 when interrupted (Ctrl-C, SIGTERM), after cleaning up.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Outcome:
    """What decides the exit status: failures (exit 1) and the targets (PASS/MISS, exit 0 either way)."""

    failures: list[str] = field(default_factory=list)
    passed: int = 0
    missed: list[str] = field(default_factory=list)

    def target(self, name: str, passed: bool | None) -> None:  # noqa: FBT001 - target(name, value >= goal)
        """A performance target: None is information only."""
        if passed is None:
            return
        if passed:
            self.passed += 1
        else:
            self.missed.append(name)

    def require(self, reason: str, *, ok: bool) -> None:
        """A condition of a valid run: when not `ok`, `reason` is why the benchmark fails."""
        if not ok:
            self.failures.append(reason)

    def last_line(self, name: str) -> str:
        if self.failures:
            return f"{name}: FAILED: {'; '.join(self.failures)}"
        missed = f", {len(self.missed)} MISS ({', '.join(self.missed)})" if self.missed else ", 0 MISS"
        return f"{name}: ok: targets {self.passed} PASS{missed}"


def raise_keyboard_interrupt(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def add_load_arguments(parser: argparse.ArgumentParser, *, concurrency: str, executions: int, per: str = "") -> None:
    """--duration, --warmup, --concurrency (comma-separated levels) and --executions, as the reject
    benches take them; `per` names what the executions are seeded into ("per database")."""
    parser.add_argument("--duration", type=float, default=8.0, help="measured seconds per run (default 8)")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before each run (default 1)")
    parser.add_argument(
        "--concurrency", default=concurrency, help=f"comma-separated concurrency levels (default {concurrency})"
    )
    parser.add_argument(
        "--executions",
        type=int,
        default=executions,
        help=f"pre-seeded executions{' ' + per if per else ''}, one awaiting step each (default {executions})",
    )


def concurrency_levels(parser: argparse.ArgumentParser, text: str) -> list[int]:
    levels = [int(part) for part in text.split(",") if part.strip()]
    if not levels or min(levels) < 1:
        parser.error("--concurrency needs positive integers")
    return levels


def add_standard_arguments(parser: argparse.ArgumentParser, results: str) -> None:
    parser.add_argument(
        "--smoke", action="store_true", help="about a second of load on tiny data, no JSON (what `make test` runs)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (database, server logs)")
    parser.add_argument("--no-json", action="store_true", help=f"do not write bench/results/{results}")


def parse(parser: argparse.ArgumentParser, argv: list[str] | None, smoke: dict[str, Any]) -> argparse.Namespace:
    """Parses the arguments; with `--smoke`, `smoke` replaces the defaults (explicit arguments still win)."""
    first, _ = parser.parse_known_args(argv)
    if first.smoke:
        parser.set_defaults(**smoke, no_json=True)
    return parser.parse_args(argv)


def run(name: str, body: Callable[[ExitStack], Outcome]) -> int:
    """Runs `body` with a clean-up stack (unwound on exit, Ctrl-C or SIGTERM, a second Ctrl-C ignored), then
    prints the verdict as the last line and returns the exit status."""
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if reconfigure is not None:
        reconfigure(line_buffering=True)  # the verdict must come last also when stdout and stderr share a pipe
    signal.signal(signal.SIGTERM, raise_keyboard_interrupt)
    outcome, code = Outcome(), 0
    cleanup = ExitStack()
    try:
        try:
            outcome = body(cleanup)
            code = 1 if outcome.failures else 0
        finally:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not interrupt the cleanup
            cleanup.close()
    except KeyboardInterrupt:
        print("\ninterrupted; cleaned up", file=sys.stderr)
        outcome.failures = ["interrupted"]
        code = 130
    except (RuntimeError, OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
        detail = getattr(error, "stderr", None)
        print(f"error: {error}" + (f"\n{detail.strip()}" if detail else ""), file=sys.stderr)
        outcome.failures = [str(error).splitlines()[0] if str(error) else type(error).__name__]
        code = 1
    sys.stderr.flush()
    print(outcome.last_line(name), file=sys.stderr if code else sys.stdout)
    return code
