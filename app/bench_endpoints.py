"""Benchmark-only HTTP endpoints (BENCH_ENDPOINTS=1); nothing here is imported or registered otherwise
(see app/server.py), so a normal server pays nothing.

- `POST /bench/reject`: the reject command through the same executor and service, with JSON in and
  out, but no GraphQL parsing, validation or execution (the baseline of bench/reject.py).
- `GET /bench/memory?mark=1&top=N`: with tracemalloc tracing (PYTHONTRACEMALLOC=1), the Python allocations
  grown since the last mark, the top N by source line (`mark=1` also takes a new mark); bench/live.py.
- `GET /bench/stats`: the running totals of this process, SQL statements executed and GraphQL
  requests served (`{"statements": n, "requests": m}`); a benchmark reads them before and after its
  load and divides the differences. A statement is one `before_cursor_execute` of the engine: every statement SQLAlchemy
sends, `executemany` counting once, on SQLite including the explicit `BEGIN` (COMMIT is not counted).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from app.auth import Principal, TokenService
from app.contracts.executor import Executor
from app.contracts.model import OperationSpec
from app.errors import AppError


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


class BenchEndpoints:
    """The benchmark routes of one server process and the middleware that counts its requests."""

    def __init__(self, executor: Executor[Any], tokens: TokenService, engine: AsyncEngine) -> None:
        self.executor = executor
        self.tokens = tokens
        self.stats = BenchStats()
        self.stats.attach(engine)
        reject = executor.registry.get("controlPlane.execution.reject")
        assert isinstance(reject, OperationSpec)
        self.reject_spec = reject
        self._memory_mark: Any = None

    def routes(self) -> list[Route]:
        return [
            Route("/bench/reject", self.reject, methods=["POST"]),
            Route("/bench/stats", self.stats.endpoint, methods=["GET"]),
            Route("/bench/memory", self.memory, methods=["GET"]),
        ]

    async def memory(self, request: Request) -> Response:
        import gc  # noqa: PLC0415 - benchmark-only
        import tracemalloc  # noqa: PLC0415

        if not tracemalloc.is_tracing():
            return JSONResponse({"error": "tracemalloc is not tracing (PYTHONTRACEMALLOC=1)"}, status_code=409)
        gc.collect()
        snapshot = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(inclusive=False, filename_pattern=tracemalloc.__file__)]
        )
        top: list[dict[str, Any]] = []
        top_packages: list[dict[str, Any]] = []
        grown = 0
        if self._memory_mark is not None:
            stats = snapshot.compare_to(self._memory_mark, "lineno")
            grown = sum(stat.size_diff for stat in stats)
            for stat in stats[: int(request.query_params.get("top", "12"))]:
                frame = stat.traceback[0]
                where = f"{'/'.join(frame.filename.split('/')[-3:])}:{frame.lineno}"
                top.append({"where": where, "size": stat.size_diff, "count": stat.count_diff})
            by_package: dict[str, list[int]] = {}
            for stat in snapshot.compare_to(self._memory_mark, "filename"):
                package = _package(stat.traceback[0].filename)
                sizes = by_package.setdefault(package, [0, 0])
                sizes[0] += stat.size_diff
                sizes[1] += stat.count_diff
            packages = sorted(by_package.items(), key=lambda item: -item[1][0])
            top_packages = [{"where": name, "size": size, "count": count} for name, (size, count) in packages[:12]]
        if request.query_params.get("mark") == "1":
            self._memory_mark = snapshot
        return JSONResponse({"grown_bytes": grown, "top": top, "packages": top_packages})

    async def reject(self, request: Request) -> Response:
        body = await request.json()

        async def authenticate() -> Principal:
            return await self.tokens.authenticate(request.headers.get("authorization"))

        try:
            result = await self.executor.execute(self.reject_spec, body, authenticate)
        except AppError as error:
            return JSONResponse({"error": {"message": error.message, **error.extensions}}, status_code=200)
        return Response(result.model_dump_json(by_alias=True), media_type="application/json")


def _package(filename: str) -> str:
    """What a source file belongs to: `site-packages/<package>`, `asyncio` (and the rest of the standard
    library by module), `app/<package>`."""
    parts = filename.replace("\\", "/").split("/")
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1].removesuffix(".py")
    if "app" in parts:
        index = len(parts) - 1 - parts[::-1].index("app")
        return "/".join(parts[index : index + 3 if len(parts) > index + 3 else index + 2])
    for index, part in enumerate(parts):
        if part.startswith("python3"):
            return "stdlib " + parts[index + 1].removesuffix(".py") if index + 1 < len(parts) else part
    return parts[-1]
