"""CPU accounting from Linux /proc (None or empty where unavailable)."""

from __future__ import annotations

import os
from pathlib import Path


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (all its threads), from /proc; None where unavailable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def process_tree(pid: int) -> list[int]:
    """The process and its descendants (uvicorn's supervisor and its workers)."""
    pids, pending = [], [pid]
    while pending:
        current = pending.pop()
        pids.append(current)
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                pending.extend(int(child) for child in (task / "children").read_text().split())
        except OSError:
            continue
    return pids


def all_processes_cpu() -> dict[int, tuple[float, str]]:
    """CPU seconds and name of every process on the machine (to tell what else was running). Not the children a
    process reaped: their whole lifetime would count, not just the part inside the window."""
    snapshot = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            head, _, rest = (entry / "stat").read_text().rpartition(")")
            fields = rest.split()
            seconds = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
            snapshot[int(entry.name)] = (seconds, head.partition("(")[2])
        except (OSError, ValueError, IndexError):
            continue
    return snapshot


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def busiest_others(before: dict[int, tuple[float, str]], known: set[int], count: int = 5) -> dict[str, int]:
    """CPU ms since `before` of the busiest processes not in `known` (PostgreSQL included: on a shared server
    its backends for other databases are other load too), by pid and command line."""
    used = sorted(
        ((seconds - before.get(pid, (0.0, ""))[0], pid, name) for pid, (seconds, name) in all_processes_cpu().items()),
        reverse=True,
    )
    others = [item for item in used if item[1] not in known and item[0] >= 0.05][:count]
    return {f"{pid} {command_line(pid)[:90] or f'[{name}]'}": round(seconds * 1000) for seconds, pid, name in others}


def cpu_snapshot(pids: list[int]) -> dict[int, float]:
    snapshot = {}
    for pid in pids:
        seconds = process_cpu_seconds(pid)
        if seconds is not None:
            snapshot[pid] = seconds
    return snapshot


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds used between two snapshots; a process absent from `before` started in between."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def machine_cpu() -> tuple[float, float, float, float] | None:
    """(busy, steal, interrupts, total) jiffies of all CPUs since boot, from /proc/stat."""
    try:
        fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return None
    idle, iowait, irq, softirq, steal = fields[3], fields[4], fields[5], fields[6], fields[7]
    total = float(sum(fields))
    return total - idle - iowait, float(steal), float(irq + softirq), total


def machine_busy(
    before: tuple[float, float, float, float] | None, after: tuple[float, float, float, float] | None
) -> tuple[float, float, float, float] | None:
    """(busy, steal, interrupts, total) jiffies between two `machine_cpu` readings."""
    if before is None or after is None:
        return None
    busy, steal, interrupts, total = (end - start for end, start in zip(after, before, strict=True))
    return busy, steal, interrupts, total


def established_connections(pids: list[int], port: int) -> dict[int, int]:
    """How many established TCP connections to local `port` each process holds (by socket inode)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == "01" and int(fields[1].rpartition(":")[2], 16) == port:
                inodes.add(fields[9])
    counts = {}
    for pid in pids:
        count = 0
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                try:
                    link = str(fd.readlink())
                except OSError:
                    continue
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    count += 1
        except OSError:
            continue
        counts[pid] = count
    return counts
