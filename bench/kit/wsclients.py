"""A lean graphql-transport-ws subscriber for the live fan-out benchmark (bench/live.py), and the client process
that runs many of them on its own event loop.

Lean, so that the load generator is not what limits the measurement: each socket is an `asyncio.Protocol` over
the sans-I/O `websockets` protocol (no task per socket, no keep-alive task); a message is recognised with bytes
operations (its kind, the `stepId` of a `removed` change), and only every `SAMPLE_EVERY`-th one is parsed as JSON
to check that the bytes tests read it right. A receipt's time is `time.perf_counter()` when its bytes came in —
CLOCK_MONOTONIC on Linux, the same clock in every process of the machine, so the parent compares it with its own.

As a process (`python -m bench.kit.wsclients`, the token in BENCH_TOKEN): connect `--sockets` subscribers, each
reads its snapshot, then print one JSON line `{"ready": ...}`; on the line `go` from stdin, record every
`removed` until each socket saw `--decisions` of them (or `--timeout`), then print `{"done": ...}` with the
receipts by step id and this process's CPU seconds from `go` to the last receipt.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from websockets.client import ClientProtocol
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.typing import Subprotocol
from websockets.uri import parse_uri

PROTOCOL = Subprotocol("graphql-transport-ws")
QUEUE = "subscription { approvalQueue(input: {}) { kind item { stepId } } }"
SAMPLE_EVERY = 97
"""Every this-many-th message of a client is parsed in full and checked against what the bytes tests found."""
CONNECT_BATCH = 50

_STEP = b'"stepId":"'


class Receipts:
    """What the sockets of one process saw: receipt times of `removed` changes by step id, counts, errors."""

    def __init__(self) -> None:
        self.removed: dict[str, list[float]] = {}
        self.messages = 0
        self.sampled = 0
        self.errors: list[str] = []
        self.on_removed: Callable[[str, float], None] | None = None

    def error(self, text: str) -> None:
        if len(self.errors) < 20:
            self.errors.append(text[:300])


class Subscriber(asyncio.Protocol):
    """One socket, one `approvalQueue` subscription (see the module docstring)."""

    def __init__(self, url: str, *, token: str, snapshot: int, receipts: Receipts, deflate: bool = True) -> None:
        self.conn = ClientProtocol(
            parse_uri(url),
            subprotocols=[PROTOCOL],
            extensions=[ClientPerMessageDeflateFactory()] if deflate else None,  # what browsers offer
            max_size=None,
        )
        self.token = token
        self.expected_snapshot = snapshot
        self.receipts = receipts
        self.snapshot = 0
        self.removed = 0
        self.all_removed = asyncio.Event()
        self.wanted_removed = 0
        """`all_removed` is set once this many `removed` came in (0: never)."""
        self.ready = asyncio.get_running_loop().create_future()
        self.closed = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment] # uvloop's TCPTransport is not a subclass
        self.conn.send_request(self.conn.connect())
        self._flush()

    def _flush(self) -> None:
        assert self.transport is not None
        for chunk in self.conn.data_to_send():
            if chunk:
                self.transport.write(chunk)
            elif self.transport.can_write_eof():
                self.transport.write_eof()

    def _send(self, message: dict[str, Any]) -> None:
        self.conn.send_text(json.dumps(message).encode())
        self._flush()

    def _set_ready(self, error: str | None = None) -> None:
        if error is not None:
            self.receipts.error(error)
        if not self.ready.done():
            self.ready.set_result(None)

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        self.conn.receive_data(data)
        for event in self.conn.events_received():
            if isinstance(event, Response):
                if self.conn.state is not State.OPEN:
                    self._set_ready(f"handshake failed: {event.status_code}")
                    continue
                self._send({"type": "connection_init", "payload": {"Authorization": f"Bearer {self.token}"}})
            elif isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                self._text(bytes(event.data), now)
            elif isinstance(event, Frame) and event.opcode is Opcode.CLOSE:
                self._set_ready(f"closed by the server: {bytes(event.data)[2:].decode(errors='replace')}")
        self._flush()

    def _text(self, data: bytes, now: float) -> None:
        receipts = self.receipts
        receipts.messages += 1
        if b'"removed"' in data:
            start = data.find(_STEP) + len(_STEP)
            step = data[start : data.find(b'"', start)].decode()
            self.removed += 1
            if self.removed == self.wanted_removed:
                self.all_removed.set()
            receipts.removed.setdefault(step, []).append(now)
            if receipts.on_removed is not None:
                receipts.on_removed(step, now)
        elif b'"snapshot"' in data:
            self.snapshot += 1
            if self.snapshot >= self.expected_snapshot:
                self._set_ready()
        elif b'"connection_ack"' in data:
            self._send({"id": "q", "type": "subscribe", "payload": {"query": QUEUE}})
            if self.expected_snapshot == 0:
                self._set_ready()
            return
        else:
            self._set_ready(f"unexpected message: {data[:200]!r}")
            return
        if receipts.messages % SAMPLE_EVERY == 0:
            self._check(data)

    def _check(self, data: bytes) -> None:
        """The full parse of a sample: a `next` of this subscription with the kind (and step) the bytes gave."""
        self.receipts.sampled += 1
        message = json.loads(data)
        change = message.get("payload", {}).get("data", {}).get("approvalQueue") or {}
        if (
            message.get("type") != "next"
            or message.get("id") != "q"
            or change.get("kind") not in ("snapshot", "removed")
        ):
            self.receipts.error(f"the sampled message is not what the bytes tests said: {data[:200]!r}")

    def connection_lost(self, exc: Exception | None) -> None:
        self._set_ready(f"connection lost: {exc}" if exc else None)
        if not self.closed.done():
            self.closed.set_result(None)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.abort()


async def connect(url: str, sockets: int, **options: Any) -> tuple[list[Subscriber], float]:
    """`sockets` subscribers, CONNECT_BATCH at a time, each having read its snapshot; and the seconds it took."""
    loop = asyncio.get_running_loop()
    host, _, port = url.split("//", 1)[1].split("/", 1)[0].partition(":")
    subscribers: list[Subscriber] = []
    started = time.perf_counter()
    for offset in range(0, sockets, CONNECT_BATCH):
        batch = [Subscriber(url, **options) for _ in range(min(CONNECT_BATCH, sockets - offset))]
        await asyncio.gather(*(loop.create_connection(lambda s=s: s, host, int(port)) for s in batch))  # type: ignore[misc]
        await asyncio.wait_for(asyncio.gather(*(s.ready for s in batch)), 300)
        subscribers.extend(batch)
    return subscribers, time.perf_counter() - started


def _print(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message, separators=(",", ":")) + "\n")
    sys.stdout.flush()


async def serve(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    receipts = Receipts()
    token = os.environ["BENCH_TOKEN"]
    subscribers, seconds = await connect(
        args.url, args.sockets, token=token, snapshot=args.snapshot, receipts=receipts, deflate=args.deflate
    )
    _print({"ready": True, "connect_seconds": seconds, "errors": receipts.errors, "pid": os.getpid()})
    for subscriber in subscribers:
        subscriber.wanted_removed = args.decisions
    line = await loop.run_in_executor(None, sys.stdin.readline)
    if line.strip() != "go":
        return
    cpu_before = time.process_time()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(args.timeout):
            await asyncio.gather(*(s.all_removed.wait() for s in subscribers))
    cpu = time.process_time() - cpu_before
    complete = all(s.removed >= args.decisions for s in subscribers)
    _print(
        {
            "done": True,
            "complete": complete,
            "cpu_seconds": cpu,
            "messages": receipts.messages,
            "sampled": receipts.sampled,
            "errors": receipts.errors,
            "removed": receipts.removed,
        }
    )
    for subscriber in subscribers:
        subscriber.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.kit.wsclients", description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--sockets", type=int, required=True)
    parser.add_argument("--snapshot", type=int, required=True, help="snapshot items each subscriber reads first")
    parser.add_argument("--decisions", type=int, required=True, help="`removed` changes each subscriber waits for")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--no-deflate", dest="deflate", action="store_false", help="do not offer permessage-deflate")
    args = parser.parse_args(argv)
    with contextlib.suppress(ImportError):
        import uvloop  # noqa: PLC0415 - optional, as for uvicorn

        uvloop.install()
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
