"""Report helpers: percentiles, the PASS/MISS verdict of a target, the environment of a run, the JSON result."""

from __future__ import annotations

import json
import math
import os
import platform
import sqlite3
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RESULTS_DIR = ROOT / "bench" / "results"
PACKAGES = ("strawberry-graphql", "starlette", "uvicorn", "sqlalchemy", "aiosqlite", "pydantic", "httpx")


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


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


def verdict(passed: bool | None, /) -> str:  # noqa: FBT001 - reads as verdict(value >= target)
    """A target met or missed; a missed target is a goal, not a failure of the benchmark (bench/README.md)."""
    return "PASS" if passed else "MISS"


def fmt(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else math.nan


def git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def environment(extra_packages: tuple[str, ...] = ()) -> dict[str, Any]:
    versions = {}
    for package in PACKAGES + extra_packages:
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
        "git_commit": git("rev-parse", "--short", "HEAD") or None,
        "git_dirty": bool(git("status", "--porcelain", "--", "app")),
    }


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def timestamp() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def write_result(name: str, result: dict[str, Any]) -> None:
    """bench/results/<name>-<UTC timestamp>.json, and a line saying where."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(result, indent=2, allow_nan=True) + "\n")
    print(f"\nresults: {path.relative_to(ROOT)}")


def counts_line(check: dict[str, Any], label: str = "") -> str:
    """Rejected steps in the database against the rejects the load generator saw succeed."""
    agree = "consistent" if check["counts_agree"] else "MISMATCH"
    return (
        f"{label}rejected steps {check['rejected_steps']}, successful rejects {check['successful_rejects']}"
        f" (+{check['failed_rejects']} failed): {agree}"
    )
