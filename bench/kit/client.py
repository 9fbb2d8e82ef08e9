"""The load generators, each run in a fresh process (`run_in_process`, `run_client`):

httpx  asyncio + one httpx.AsyncClient per server (bench/reject.py's client, kept for comparability)
raw    asyncio streams speaking just enough HTTP/1.1 (keep-alive, Content-Length or chunked), a few times
       cheaper per request than httpx: on a small machine the client competes with the server for the CPUs
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import signal
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import Any

from bench.kit.bodies import DISTINCT_TARGETS, response_error, target_bodies, target_path
from bench.kit.report import percentile

Load = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


class Recorder:
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


async def httpx_load(config: dict[str, Any]) -> dict[str, Any]:
    """httpx client: one AsyncClient per server; worker i uses server i mod n (an even split)."""
    import httpx  # noqa: PLC0415 - only the httpx client's process pays for it

    base_urls = _base_urls(config)
    recorder = Recorder(config, len(base_urls))
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


class RawConnection:
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


RAW_ERRORS = (OSError, EOFError, ValueError, TimeoutError, asyncio.IncompleteReadError)
"""What a raw exchange raises when the connection or the answer is broken."""


def request_prefix(base_url: str, path: str, token: str) -> bytes:
    """The head of a POST request up to `Content-Length: ` (the length, CRLF CRLF and the body follow)."""
    netloc = urllib.parse.urlsplit(base_url).netloc
    return (
        f"POST {path} HTTP/1.1\r\nHost: {netloc}\r\nAuthorization: Bearer {token}\r\n"
        "Content-Type: application/json\r\nContent-Length: "
    ).encode()


def address(base_url: str) -> tuple[str, int]:
    parts = urllib.parse.urlsplit(base_url)
    return parts.hostname or "127.0.0.1", parts.port or 80


async def raw_load(config: dict[str, Any]) -> dict[str, Any]:
    """Raw client: one keep-alive connection per worker; worker i uses server i mod n (an even split)."""
    base_urls = _base_urls(config)
    recorder = Recorder(config, len(base_urls))
    target: str = config["target"]
    prefixes = [request_prefix(url, target_path(target), config["token"]) for url in base_urls]
    addresses = [address(url) for url in base_urls]
    clock = time.perf_counter
    recorder.start(config)

    async def worker(index: int) -> None:
        server = index % len(base_urls)
        prefix = prefixes[server]
        connection = RawConnection(*addresses[server])
        try:
            while (body := recorder.next_body()) is not None:
                started = clock()
                try:
                    async with asyncio.timeout(30):
                        status, content = await connection.exchange(
                            prefix + str(len(body)).encode() + b"\r\n\r\n" + body
                        )
                    problem = response_error(target, status, content)
                except RAW_ERRORS as error:
                    connection.close()
                    problem = f"{type(error).__name__}: {error}"
                recorder.record(started, clock(), problem, server)
        finally:
            connection.close()

    await asyncio.gather(*(worker(i) for i in range(config["concurrency"])))
    return recorder.result()


async def client_load(config: dict[str, Any]) -> dict[str, Any]:
    return await (raw_load if config.get("client") == "raw" else httpx_load)(config)


def _child(conn: Any, load: Load, config: dict[str, Any]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent owns Ctrl-C and terminates this process
    try:
        try:
            import uvloop  # noqa: PLC0415 - optional

            runner: Any = uvloop.run
        except ImportError:
            runner = asyncio.run
        message: tuple[str, Any] = ("ok", runner(load(config)))
    except BaseException as error:  # noqa: BLE001 - whatever it was, the parent reports it (and the run fails)
        message = ("error", f"{type(error).__name__}: {error}")
    try:
        conn.send(message)
    except (BrokenPipeError, OSError):
        pass  # the parent is gone or gave up
    finally:
        conn.close()


def run_in_process(load: Load, config: dict[str, Any], timeout: float, name: str) -> dict[str, Any]:
    """Runs `load(config)` (a module-level coroutine function) in a fresh process and returns its result, with
    `client_pid`; RuntimeError when it fails or does not report within `timeout` seconds."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(sender, load, config), name=name)
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
        if not finished:  # interrupted or timed out: stop it now rather than let it finish its run
            process.terminate()
        process.join(timeout=5)
        if process.is_alive():
            process.kill()
            process.join(timeout=5)
        receiver.close()


def run_client(config: dict[str, Any]) -> dict[str, Any]:
    """One load (config: target, concurrency, warmup, duration, base_url or base_urls, token, first_step,
    last_step, and client = "httpx" (default) or "raw") in a fresh process; returns its result."""
    limit = config["warmup"] + config["duration"] + 120
    return run_in_process(client_load, config, limit, f"bench-{config['target']}")


def typename_run(base_url: str, concurrency: int, duration: float, warmup: float) -> dict[str, Any]:
    """`{ __typename }` through the raw client."""
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
