"""The outermost ASGI middleware (pure ASGI, one wrapper of `send`): request id in and out, the
request record, security headers, one log line per request, metrics and the request span."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.observability.context import (
    INTERNAL,
    RequestRecord,
    close_request,
    open_request,
    request_id_from,
)
from app.observability.metrics import Metrics
from app.observability.tracing import Tracing

logger = logging.getLogger("app.request")  # the one line per request, nothing else
failures = logging.getLogger("app.unhandled")

Header = tuple[bytes, bytes]
_MASKED = "Internal server error."
_MAX_LOGGED = 200  # characters of a client-chosen path or operation name in a log line


class RequestObserver:
    def __init__(  # noqa: PLR0913 - keyword-only options of an ASGI middleware, as Starlette's own
        self,
        app: ASGIApp,
        *,
        headers: Sequence[Header] = (),
        html_headers: Sequence[Header] = (),
        replace_html_headers: bool = False,
        metrics: Metrics | None = None,
        tracing: Tracing | None = None,
        graphql_path: str = "/graphql",
        quiet_paths: frozenset[str] = frozenset(),
    ) -> None:
        """`headers` go on every response and `html_headers` on text/html ones, each unless the
        response sets it itself (a page with its own Content-Security-Policy keeps it), or replacing
        the response's own with `replace_html_headers`. Header names are lowercase. A successful
        request to one of `quiet_paths` (probes, scrapes) is logged at DEBUG instead of INFO."""
        self.app = app
        self.headers = list(headers)
        self.html_headers = list(html_headers)
        self.replace_html_headers = replace_html_headers
        self._html_names = {name for name, _ in html_headers}
        self.metrics = metrics
        self.tracing = tracing
        self.graphql_path = graphql_path
        self.quiet_paths = quiet_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started_at = time.perf_counter()
        request_id = request_id_from(_header(scope, b"x-request-id"))
        record = RequestRecord(request_id=request_id, method=scope["method"], path=scope["path"])
        token = open_request(record)
        is_graphql = record.path == self.graphql_path
        span = (
            self.tracing.start(record.method, record.path, scope["headers"])
            if self.tracing is not None and is_graphql
            else None
        )
        request_id_header = (b"x-request-id", request_id.encode("ascii"))
        status = 500
        response_started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                message = {**message, "headers": self._headers(list(message.get("headers", ())), request_id_header)}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            record.note_error(INTERNAL)
            failures.exception("unhandled error while serving %s %s", record.method, _clip(record.path))
            if response_started:
                raise
            await _internal_error(send_with_headers, request_id)
        finally:
            seconds = time.perf_counter() - started_at
            outcome = record.outcome(status)
            self._log(record, status, outcome, seconds)
            if is_graphql and self.metrics is not None and record.method in ("GET", "POST"):
                self.metrics.observe(record, outcome, seconds)
            if span is not None and self.tracing is not None:
                self.tracing.finish(span, record, status, outcome)
            close_request(token)

    def _headers(self, headers: list[Header], request_id: Header) -> list[Header]:
        present = {bytes(name).lower() for name, _ in headers}
        headers.append(request_id)
        headers.extend(header for header in self.headers if header[0] not in present)
        if self.html_headers and _is_html(headers):
            if self.replace_html_headers:
                headers = [header for header in headers if bytes(header[0]).lower() not in self._html_names]
                headers.extend(self.html_headers)
            else:
                headers.extend(header for header in self.html_headers if header[0] not in present)
        return headers

    def _log(self, record: RequestRecord, status: int, outcome: str, seconds: float) -> None:
        quiet = record.path in self.quiet_paths and status < 400
        level = logging.DEBUG if quiet else logging.INFO
        if not logger.isEnabledFor(level):
            return
        path = _clip(record.path)
        fields = {
            "method": record.method,
            "path": path,
            "status": status,
            "operation": _clip(record.operation_name) if record.operation_name else None,
            "contracts": record.contracts,
            "principal": record.principal_id,
            "workspace_grants": _grants(record),
            "outcome": outcome,
            "duration_ms": round(seconds * 1000, 2),
        }
        # makeRecord + handle = logger.log without its stack walk for the caller (a third of the cost).
        entry = logger.makeRecord(
            logger.name, level, __file__, 0, "%s %s %s %s", (record.method, path, status, outcome), None
        )
        entry.fields = fields
        logger.handle(entry)


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


def _is_html(headers: list[Header]) -> bool:
    return any(name.lower() == b"content-type" and value.startswith(b"text/html") for name, value in headers)


def _clip(value: str) -> str:
    return value if len(value) <= _MAX_LOGGED else value[:_MAX_LOGGED] + "…"


async def _internal_error(send: Send, request_id: str) -> None:
    body = json.dumps(
        {"errors": [{"message": _MASKED, "extensions": {"code": INTERNAL, "requestId": request_id}}]}
    ).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 500, "headers": headers})
    await send({"type": "http.response.body", "body": body})


__all__ = ["RequestObserver"]


def _grants(record: RequestRecord) -> int | str | None:
    """How many workspaces the caller holds (`*` for all); the ids and the token are never logged."""
    if record.principal_id is None:
        return None
    return "*" if record.workspace_grants is None else record.workspace_grants
