"""The Starlette application: the composition root that wires store, services, executor and GraphQL."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute

from app import console
from app.auth import AuthLevel, TokenService, token_service_from_settings
from app.contracts.control_plane import build_registry
from app.contracts.executor import Executor
from app.contracts.registry import Registry
from app.db import migrate
from app.db.database import Database
from app.db.listener import listen_forever
from app.graphql.graphiql import ASSETS_URL, CONTENT_SECURITY_POLICY, assets_app, render_page
from app.graphql.http import GraphQLApp
from app.graphql.limits import QueryLimits
from app.graphql.schema import shared_schema
from app.graphql.ws import SocketLimits
from app.http_limits import BodySizeLimit
from app.http_security import SECURITY_HEADERS, cors_middleware, html_headers
from app.observability.metrics import Metrics
from app.observability.middleware import RequestObserver
from app.observability.tracing import build_tracing
from app.services.approval.sweeper import sweep_forever
from app.services.bindings import (
    bind_batch_handlers,
    bind_handlers,
    bind_prechecks,
    bind_stream_handlers,
    target_policy_from_settings,
)
from app.services.kernel.live import LogFeed
from app.services.lifecycle.state_machine import Action
from app.services.lifecycle.tally import fold_forever
from app.services.webhooks.dispatcher import DeliveryObserver, DeliveryPolicy, Dispatcher
from app.settings import Settings

logger = logging.getLogger("app.server")


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    registry: Registry
    database: Database
    tokens: TokenService
    executor: Executor[AsyncConnection]
    feed: LogFeed
    """This process's follower of the event log, which feeds every subscription (app/services/kernel/live.py)."""


def build_services(settings: Settings, database: Database | None = None) -> Services:
    tokens = token_service_from_settings(settings)
    registry = build_registry()
    database = database or Database(settings)
    handlers, prechecks = bind_handlers(registry, settings), bind_prechecks(registry, settings)
    feed = LogFeed(
        database.unit_of_work,
        poll_interval=settings.live_poll_interval_seconds,
        inbox_limit=settings.live_inbox_events,
    )
    database.on_events_committed(feed.wake)
    executor = Executor(
        registry,
        handlers,
        database.unit_of_work,
        prechecks,
        bind_batch_handlers(registry),
        stream_handlers=bind_stream_handlers(registry, feed),
    )
    return Services(settings, registry, database, tokens, executor, feed)


def _console_routes(settings: Settings) -> list[BaseRoute]:
    """The operator console (app/console.py): its page and modules, from this server; none when disabled."""
    if not settings.console_enabled:
        return []
    page = console.render_console(token=settings.console_prefilled_token)
    return [
        Route(console.CONSOLE_URL, page.endpoint, methods=["GET"]),
        Route(console.CONSOLE_URL + "/", page.endpoint, methods=["GET"]),
        Mount(console.ASSETS_URL, console.assets_app(), name="console-assets"),
    ]


def create_served_app() -> Starlette:
    """The app `python -m app serve` runs (uvicorn's factory): `create_app` whose process freezes the garbage
    collector's view of everything made at startup (see `freeze_gc_after_startup`)."""
    return create_app(freeze_gc_after_startup=True)


def create_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    migrate_on_start: bool = True,
    freeze_gc_after_startup: bool = False,
) -> Starlette:
    """`freeze_gc_after_startup`: once started, move the objects of the startup (the schema, the contracts, the
    modules: ~170,000) out of the collector's generations (`gc.freeze()`). A full collection otherwise walks them
    all — 140-160 ms here, a pause every request in flight waits out, and the tail of every latency figure. Only for
    a process that starts once (a test making many apps would keep each one's garbage cycles forever)."""
    settings = settings or Settings()
    services = build_services(settings, database)
    limits = QueryLimits(
        max_depth=settings.graphql_max_depth,
        max_aliases=settings.graphql_max_aliases,
        max_tokens=settings.graphql_max_tokens,
        max_directives=settings.graphql_max_directives,
        introspection=settings.introspection_enabled,
    )
    schema = shared_schema(services.registry, cache_size=settings.graphql_cache_size, limits=limits)
    graphql = GraphQLApp(
        schema,
        executor=services.executor,
        tokens=services.tokens,
        graphiql=render_page(token=settings.graphiql_prefilled_token) if settings.graphiql_enabled else None,
        allow_queries_via_get=True,
        socket_limits=SocketLimits(
            max_subscriptions_per_connection=settings.ws_max_subscriptions_per_connection,
            max_connections_per_principal=settings.ws_max_connections_per_principal,
            send_timeout=settings.ws_send_timeout_seconds,
            minimum_level=min((spec.auth for spec in services.registry.subscriptions), default=AuthLevel.ADMIN),
        ),
        connection_init_wait_timeout=timedelta(seconds=settings.ws_connection_init_timeout_seconds),
        allowed_origins=settings.cors_origin_list,
    )

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        try:
            await services.database.ping()
        except Exception:
            logger.exception("readiness check: the database does not answer")
            return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
        return JSONResponse({"status": "ready", "database": "ok"})

    routes: list[BaseRoute] = [
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),  # subscriptions: graphql-transport-ws (app/graphql/ws.py)
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
    ]
    if settings.graphiql_enabled:  # GraphiQL's page, scripts and styles: all from this server
        routes.append(Mount(ASSETS_URL, assets_app(), name="graphiql-assets"))
    routes.extend(_console_routes(settings))
    bench = None
    if settings.bench_endpoints:  # benchmark-only routes and counters (app/bench_endpoints.py); absent otherwise
        from app.bench_endpoints import BenchEndpoints  # noqa: PLC0415 - a normal server never imports it

        bench = BenchEndpoints(services.executor, services.tokens, services.database.engine)
        routes.extend(bench.routes())
    metrics = _metrics(services) if settings.metrics_enabled else None
    if metrics is not None:
        scrape_token = settings.metrics_bearer_token.get_secret_value() if settings.metrics_bearer_token else None
        endpoint = metrics.protected_endpoint(scrape_token) if scrape_token else metrics.endpoint
        routes.append(Route("/metrics", endpoint, methods=["GET"]))
    tracing = build_tracing(settings.otel_exporter_otlp_endpoint)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        if migrate_on_start:
            await migrate.upgrade(services.database.engine)
        async with _live_tasks(services), _background_tasks(services, metrics):
            _started(freeze_gc=freeze_gc_after_startup)
            yield
        if tracing is not None:
            tracing.shutdown()
        await services.database.dispose()

    # Outermost: request id, security headers, log line, metrics and span for every response, 413s and
    # CORS preflights included. BodySizeLimit stays inside Starlette's error middleware, so a body
    # refused while streaming answers 413, not 500.
    middleware = [
        Middleware(
            RequestObserver,
            headers=SECURITY_HEADERS,
            html_headers=html_headers(settings.content_security_policy or CONTENT_SECURITY_POLICY),
            replace_html_headers=settings.content_security_policy is not None,
            metrics=metrics,
            tracing=tracing,
            quiet_paths=frozenset({"/healthz", "/readyz", "/metrics"}),
        )
    ]
    cors = cors_middleware(settings.cors_origin_list)
    if cors is not None:
        middleware.append(cors)
    middleware.append(Middleware(BodySizeLimit, max_bytes=settings.max_request_bytes))
    if bench is not None:
        middleware.append(Middleware(bench.stats.middleware))
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.services = services
    return app


def webhook_dispatcher(settings: Settings, database: Database, observer: DeliveryObserver | None = None) -> Dispatcher:
    """The webhook delivery of one process, configured from the settings."""
    policy = DeliveryPolicy(
        timeout=settings.webhook_timeout_seconds,
        retry_delays=settings.webhook_retry_delays,
        max_in_flight=settings.webhook_max_in_flight,
    )
    return Dispatcher(
        database.unit_of_work, policy=policy, targets=target_policy_from_settings(settings), observer=observer
    )


@asynccontextmanager
async def _live_tasks(services: Services) -> AsyncIterator[None]:
    """The log feed of this process, and (PostgreSQL) the one LISTEN connection that wakes it when another
    process commits events."""
    tasks = [asyncio.create_task(services.feed.run(), name="live-event-feed")]
    if not services.database.is_sqlite:
        tasks.append(
            asyncio.create_task(
                listen_forever(services.settings.resolved_database_url, services.feed.wake), name="live-pg-listener"
            )
        )
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with suppress(asyncio.CancelledError):
                await task


def _started(*, freeze_gc: bool) -> None:
    if freeze_gc:
        gc.collect()
        gc.freeze()


@asynccontextmanager
async def _background_tasks(services: Services, observer: DeliveryObserver | None = None) -> AsyncIterator[None]:
    """What runs beside the requests in every server process: the approval deadline sweeper, webhook delivery
    (app/services/webhooks/dispatcher.py) and the execution tally's fold (app/services/lifecycle/tally.py)."""
    settings = services.settings
    webhooks = (
        asyncio.create_task(
            webhook_dispatcher(settings, services.database, observer).run_forever(
                settings.webhook_poll_interval_seconds
            ),
            name="webhook-delivery",
        )
        if settings.webhook_delivery_enabled
        else None
    )
    sweeper = (
        asyncio.create_task(
            sweep_forever(services.database.unit_of_work, settings.approval_sweep_interval_seconds),
            name="approval-deadline-sweeper",
        )
        if settings.approval_sweeper_enabled
        else None
    )
    tally = asyncio.create_task(
        fold_forever(services.database.unit_of_work, settings.tally_fold_interval_seconds), name="execution-tally-fold"
    )
    try:
        yield
    finally:
        for task in (tally, sweeper, webhooks):
            if task is not None:
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task


def _metrics(services: Services) -> Metrics:
    """Decisions and lifecycle transitions are counted by contract key, from the specs' field names."""
    decisions = {"controlPlane.execution.approve": "approve", "controlPlane.execution.reject": "reject"}
    operations = services.registry.operations
    decided = {spec.field_name for spec in operations if spec.key in decisions}
    lifecycle = {action.value for action in Action} | decided
    return Metrics(
        decisions=decisions,
        transitions={spec.key: spec.field_name for spec in operations if spec.field_name in lifecycle},
        pool=lambda: services.database.engine.pool,
    )
