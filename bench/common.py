"""What the benchmarks share: the throw-away database, the server processes, request bodies, the load generators
and the CPU accounting. Used by bench/reject.py and bench/scale.py (run them as scripts: `python bench/x.py`).

Two load generators, each run in its own process (`run_client`):

    httpx  asyncio + one httpx.AsyncClient per server (bench/reject.py's client, kept for comparability)
    raw    asyncio streams speaking just enough HTTP/1.1 (keep-alive, Content-Length or chunked), a few times
           cheaper per request than httpx: on a small machine the client competes with the server for the CPUs
"""

from __future__ import annotations

import asyncio
import json
import math
import multiprocessing
import os
import platform
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"

SUBJECT = "bench-admin"  # the token's `sub`; the executor requires rejectedBy == the caller's id
REASON = "Rejected by bench/reject.py."
DISTINCT_TARGETS = ("reject", "bare")  # each request consumes one pre-seeded step
SEED_CHUNK = 5_000  # executions per insert (SQLite caps the number of bound parameters)

MUTATION = (
    "mutation Reject($input: ControlPlaneExecutionRejectInput!) "
    "{ rejectExecutionStep(input: $input) { executionId stepId status rejectedAt } }"
)
TYPENAME_BODY = b'{"query":"{ __typename }"}'


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


async def _seed(var_dir: Path, count: int, database_url: str | None) -> int:
    from app.db.database import Database
    from app.seeding.bulk import SeedDataset, SeedExecution, SeedStep, insert_executions
    from app.settings import Settings

    settings = Settings(var_dir=var_dir, database_url=database_url, _env_file=None)  # type: ignore[call-arg]
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


def seed(var_dir: Path, count: int, database_url: str | None = None) -> int:
    """`count` executions with one awaiting step each, in batches (SQLite in VAR_DIR unless database_url)."""
    return asyncio.run(_seed(var_dir, count, database_url))


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


def start_server(
    var_dir: Path,
    env: dict[str, str],
    port: int,
    log_path: Path,
    *,
    workers: int = 1,
    bench_endpoints: bool = True,
    extra_env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    server_env = env | {
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "BENCH_ENDPOINTS": "1" if bench_endpoints else "0",
        "WORKERS": str(workers),
    }
    server_env |= extra_env or {}
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
            raise RuntimeError(f"the server exited with code {proc.returncode}:\n{tail(log_path)}")
        try:
            with urllib.request.urlopen(f"{base_url}/healthz", timeout=1) as response:
                if response.status == 200:
                    return time.perf_counter() - started
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the server did not answer /healthz within {timeout:.0f} s:\n{tail(log_path)}")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


# --------------------------------------------------------------------------------------------------
# CPU accounting (Linux /proc; None or empty where unavailable)
# --------------------------------------------------------------------------------------------------


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
                    link = os.readlink(fd)
                except OSError:
                    continue
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    count += 1
        except OSError:
            continue
        counts[pid] = count
    return counts


# --------------------------------------------------------------------------------------------------
# Request bodies (shared by the pre-flight checks and the load generators)
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


def target_bodies(target: str, first: int, last: int) -> list[bytes]:
    if target == "reject":
        return [graphql_reject_body(i) for i in range(first, last)]
    if target == "bare":
        return [bare_reject_body(i) for i in range(first, last)]
    return [TYPENAME_BODY]


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


def post(url: str, body: bytes, token: str, timeout: float = 10.0) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url,
        data=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


# --------------------------------------------------------------------------------------------------
# Load generators (each runs in its own process)
# --------------------------------------------------------------------------------------------------


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


class _Recorder:
    """Latencies and errors of one run, split into warm-up and measured parts; hands out distinct steps."""

    def __init__(self, config: dict[str, Any], servers: int) -> None:
        self.target: str = config["target"]
        self.concurrency: int = config["concurrency"]
        self.distinct = self.target in DISTINCT_TARGETS
        self.bodies = target_bodies(self.target, config["first_step"], config["last_step"])
        self.latencies: list[float] = []
        self.per_server = [0] * servers
        self.errors = 0
        self.warmup_requests = 0
        self.warmup_errors = 0
        self.error_samples: list[str] = []
        self.cursor = 0
        self.exhausted = False
        self.last_finish = 0.0
        self.measure_start = 0.0
        self.end = 0.0
        self.cpu_start = 0.0

    def start(self, config: dict[str, Any]) -> None:
        self.cpu_start = time.process_time()
        self.measure_start = time.perf_counter() + config["warmup"]
        self.end = self.measure_start + config["duration"]

    def next_body(self) -> bytes | None:
        """The next request's body; None when the run is over (time is up or the steps ran out)."""
        if time.perf_counter() >= self.end:
            return None
        if not self.distinct:
            return self.bodies[0]
        if self.cursor >= len(self.bodies):
            self.exhausted = True
            return None
        body = self.bodies[self.cursor]
        self.cursor += 1
        return body

    def record(self, started: float, finished: float, problem: str | None, server: int = 0) -> None:
        if started >= self.measure_start:
            self.latencies.append(finished - started)
            self.per_server[server] += 1
            self.last_finish = max(self.last_finish, finished)
            if problem is not None:
                self.errors += 1
        else:
            self.warmup_requests += 1
            if problem is not None:
                self.warmup_errors += 1
        if problem is not None and len(self.error_samples) < 5:
            self.error_samples.append(problem)

    def result(self) -> dict[str, Any]:
        client_cpu = time.process_time() - self.cpu_start
        latencies = self.latencies
        elapsed = max(self.last_finish - self.measure_start, 1e-9)
        latencies.sort()
        p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
        result = {
            "target": self.target,
            "concurrency": self.concurrency,
            "requests": len(latencies),
            "errors": self.errors,
            "elapsed_s": elapsed,
            "throughput_rps": len(latencies) / elapsed if latencies else 0.0,
            "p50_ms": p50 * 1000,
            "p90_ms": percentile(latencies, 0.90) * 1000,
            "p99_ms": p99 * 1000,
            "max_ms": (latencies[-1] * 1000) if latencies else math.nan,
            "mean_ms": (sum(latencies) / len(latencies) * 1000) if latencies else math.nan,
            "p99_over_p50": p99 / p50 if latencies and p50 > 0 else math.nan,
            "warmup_requests": self.warmup_requests,
            "warmup_errors": self.warmup_errors,
            "client_cpu_ms_per_req": client_cpu * 1000 / max(1, len(latencies) + self.warmup_requests),
            "steps_used": self.cursor if self.distinct else 0,
            "exhausted": self.exhausted,
            "error_samples": self.error_samples,
        }
        if len(self.per_server) > 1:
            result["requests_per_server"] = self.per_server
        return result


def _base_urls(config: dict[str, Any]) -> list[str]:
    return list(config.get("base_urls") or [config["base_url"]])


async def _load(config: dict[str, Any]) -> dict[str, Any]:
    """httpx client: one AsyncClient per server; worker i uses server i mod n (an even split)."""
    import httpx

    base_urls = _base_urls(config)
    recorder = _Recorder(config, len(base_urls))
    concurrency: int = config["concurrency"]
    target: str = config["target"]
    path = target_path(target)
    headers = {"Authorization": f"Bearer {config['token']}", "Content-Type": "application/json"}
    per_server = math.ceil(concurrency / len(base_urls))
    limits = httpx.Limits(max_connections=per_server, max_keepalive_connections=per_server)
    timeout = httpx.Timeout(30.0)
    clients = [
        httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=timeout, trust_env=False)
        for url in base_urls
    ]
    try:
        clock = time.perf_counter
        recorder.start(config)

        async def worker(index: int) -> None:
            server = index % len(clients)
            post = clients[server].post
            while (body := recorder.next_body()) is not None:
                started = clock()
                try:
                    response = await post(path, content=body)
                    problem = response_error(target, response.status_code, response.content)
                except httpx.HTTPError as error:
                    problem = f"{type(error).__name__}: {error}"
                recorder.record(started, clock(), problem, server)

        await asyncio.gather(*(worker(i) for i in range(concurrency)))
    finally:
        for client in clients:
            await client.aclose()
    return recorder.result()


class _RawConnection:
    """One keep-alive HTTP/1.1 connection; just enough protocol for this server's answers."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        reader, writer = self.reader, self.writer
        assert reader is not None
        writer.write(request)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        lowered = head.lower()
        start = lowered.find(b"\r\ncontent-length:")
        if start >= 0:
            start += 17
            content = await reader.readexactly(int(lowered[start : lowered.index(b"\r\n", start)]))
        elif b"\r\ntransfer-encoding: chunked" in lowered:
            parts = []
            while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
                parts.append(await reader.readexactly(size))
                await reader.readexactly(2)
            await reader.readuntil(b"\r\n")  # no trailers from this server: the empty line
            content = b"".join(parts)
        else:
            content = await reader.read()
            self.close()
        if b"\r\nconnection: close" in lowered:
            self.close()
        return status, content

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def _raw_load(config: dict[str, Any]) -> dict[str, Any]:
    """Raw client: one keep-alive connection per worker; worker i uses server i mod n (an even split)."""
    base_urls = _base_urls(config)
    recorder = _Recorder(config, len(base_urls))
    target: str = config["target"]
    path = target_path(target)
    prefixes = []
    for url in base_urls:
        netloc = urllib.parse.urlsplit(url).netloc
        prefixes.append(
            f"POST {path} HTTP/1.1\r\nHost: {netloc}\r\nAuthorization: Bearer {config['token']}\r\n"
            "Content-Type: application/json\r\nContent-Length: ".encode()
        )
    addresses = [(parts.hostname or "127.0.0.1", parts.port or 80) for parts in map(urllib.parse.urlsplit, base_urls)]
    clock = time.perf_counter
    recorder.start(config)

    async def worker(index: int) -> None:
        server = index % len(base_urls)
        prefix = prefixes[server]
        connection = _RawConnection(*addresses[server])
        try:
            while (body := recorder.next_body()) is not None:
                started = clock()
                try:
                    async with asyncio.timeout(30):
                        status, content = await connection.exchange(
                            prefix + str(len(body)).encode() + b"\r\n\r\n" + body
                        )
                    problem = response_error(target, status, content)
                except (OSError, EOFError, ValueError, TimeoutError, asyncio.IncompleteReadError) as error:
                    connection.close()
                    problem = f"{type(error).__name__}: {error}"
                recorder.record(started, clock(), problem, server)
        finally:
            connection.close()

    await asyncio.gather(*(worker(i) for i in range(config["concurrency"])))
    return recorder.result()


def _client_process(conn: Any, config: dict[str, Any]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent owns Ctrl-C and terminates this process
    load = _raw_load if config.get("client") == "raw" else _load
    try:
        try:
            import uvloop

            runner: Any = uvloop.run
        except ImportError:
            runner = asyncio.run
        message: tuple[str, Any] = ("ok", runner(load(config)))
    except BaseException as error:
        message = ("error", f"{type(error).__name__}: {error}")
    try:
        conn.send(message)
    except (BrokenPipeError, OSError):
        pass  # the parent is gone or gave up
    finally:
        conn.close()


def run_client(config: dict[str, Any]) -> dict[str, Any]:
    """Runs one load (config: target, concurrency, warmup, duration, base_url or base_urls, token, first_step,
    last_step, and client = "httpx" (default) or "raw") in a fresh process and returns its result."""
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
# Report helpers
# --------------------------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def environment(extra_packages: tuple[str, ...] = ()) -> dict[str, Any]:
    versions = {}
    packages = ("strawberry-graphql", "starlette", "uvicorn", "sqlalchemy", "aiosqlite", "pydantic", "httpx")
    for package in packages + extra_packages:
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


def raise_keyboard_interrupt(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt
