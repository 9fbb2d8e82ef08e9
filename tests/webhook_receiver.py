"""A real local HTTP receiver for webhook tests: a threaded `http.server` on 127.0.0.1 that records every
request (headers, body bytes, when) and answers each path from a script of statuses (200 when the script is
spent), optionally after a delay. It runs on threads of its own, so async tests and subprocess servers alike
can deliver to it."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]


class Receiver:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: list[Received] = []
        self._scripts: dict[str, list[tuple[int, float]]] = defaultdict(list)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook-receiver", daemon=True)

    @property
    def port(self) -> int:
        port: int = self._server.server_address[1]
        return port

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, path: str, *statuses: int, delay: float = 0.0) -> None:
        """The next requests to `path` answer `statuses` in turn (then 200 at once), each after `delay` seconds."""
        with self._lock:
            self._scripts[path].extend((status, delay) for status in statuses)

    def received(self, path: str | None = None) -> list[Received]:
        with self._lock:
            return [request for request in self.requests if path is None or request.path == path]

    def wait_for(self, count: int, path: str | None = None, timeout: float = 30.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.received(path)
            if len(got) >= count:
                return got
            time.sleep(0.05)
        raise AssertionError(f"{len(self.received(path))} requests to {path or 'any path'}, expected {count}")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.requests.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body, time.time())
                    )
                    script = receiver._scripts[self.path]
                    status, delay = script.pop(0) if script else (200, 0.0)
                if delay:
                    time.sleep(delay)
                payload = b"ok"
                try:
                    self.send_response(status)
                    if 300 <= status < 400:
                        self.send_header("location", "http://127.0.0.1:1/elsewhere")
                    self.send_header("content-length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    self.close_connection = True  # the sender is gone (a test killed it mid-delivery)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class names it so
                pass

        return Handler

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()
