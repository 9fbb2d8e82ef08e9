"""Benchmark-only counters (BENCH_ENDPOINTS=1): SQL statements executed and GraphQL requests served.

Nothing here is imported or registered unless `settings.bench_endpoints` is on (see app/server.py),
so a normal server pays nothing. `GET /bench/stats` answers the running totals of this process
(`{"statements": n, "requests": m}`); a benchmark reads them before and after its load and divides
the differences. A statement is one `before_cursor_execute` of the engine: every statement SQLAlchemy
sends, `executemany` counting once, on SQLite including the explicit `BEGIN` (COMMIT is not counted).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send


class BenchStats:
    """The counters of one server process; the event loop is single-threaded, plain ints suffice."""

    def __init__(self, counted_path: str = "/graphql") -> None:
        self.statements = 0
        self.requests = 0
        self.counted_path = counted_path

    def attach(self, engine: AsyncEngine) -> None:
        event.listen(engine.sync_engine, "before_cursor_execute", self._on_statement)

    def _on_statement(self, *_: Any) -> None:
        self.statements += 1

    def middleware(self, app: ASGIApp) -> ASGIApp:
        """ASGI middleware counting the HTTP requests to `counted_path`."""

        async def counting(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http" and scope["path"] == self.counted_path:
                self.requests += 1
            await app(scope, receive, send)

        return counting

    async def endpoint(self, _: Request) -> Response:
        return JSONResponse({"statements": self.statements, "requests": self.requests})
