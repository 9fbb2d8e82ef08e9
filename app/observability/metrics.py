"""Prometheus metrics of one application, in a registry of its own (never the global one, so that
many apps in one process — the tests — do not collide). Served at `GET /metrics`.

Label values are bounded: `operation` is the contract key a GraphQL request ran (`none` when it ran
no contract, `multiple` when it ran several), never the client's operation name; `outcome` is `ok`
or an `extensions.code`. The pool gauges are read at scrape time, so requests pay nothing for them.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

from app.observability.context import OK, RequestRecord

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0, 3600.0, 21600.0)
WEBHOOK_OUTCOMES = ("succeeded", "failed_attempt", "failed", "gone", "refused")
"""An attempt's outcome: delivered; failed and retried later; failed for good (schedule spent); the receiver
answered 410 (the endpoint is disabled); refused by the SSRF rules (retried like a failure)."""


class PoolCollector(Collector):
    """SQLAlchemy queue-pool gauges, read when Prometheus scrapes. `pool` returns the engine's
    current pool (dispose() replaces it); a pool without these counters (NullPool) yields nothing."""

    def __init__(self, pool: Callable[[], Any]) -> None:
        self._pool = pool

    def collect(self) -> Iterator[Metric]:
        pool = self._pool()
        if not all(hasattr(pool, name) for name in ("size", "checkedout", "checkedin", "overflow")):
            return
        yield GaugeMetricFamily("control_plane_db_pool_size", "Configured size of the connection pool.", pool.size())
        yield GaugeMetricFamily(
            "control_plane_db_pool_checked_out", "Connections currently in use by a request.", pool.checkedout()
        )
        yield GaugeMetricFamily(
            "control_plane_db_pool_checked_in", "Open connections idle in the pool.", pool.checkedin()
        )
        # QueuePool counts overflow from -size up: only connections beyond the pool size are overflow.
        yield GaugeMetricFamily(
            "control_plane_db_pool_overflow", "Connections open beyond the pool size.", max(pool.overflow(), 0)
        )


class Metrics:
    def __init__(
        self,
        *,
        decisions: Mapping[str, str],
        transitions: Mapping[str, str],
        pool: Callable[[], Any] | None = None,
    ) -> None:
        """`decisions`: contract key -> decision label (approve, reject); `transitions`: contract key ->
        lifecycle action label (the GraphQL field name)."""
        self.registry = CollectorRegistry()
        self._decision_of = dict(decisions)
        self._action_of = dict(transitions)
        self._children: dict[tuple[str, str], tuple[Counter, Histogram]] = {}
        self.requests = Counter(
            "control_plane_graphql_requests",
            "GraphQL requests by operation (the contract run) and outcome (ok or extensions.code).",
            ["operation", "outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "control_plane_graphql_request_duration_seconds",
            "GraphQL request latency, from the first byte received to the last byte sent.",
            ["operation"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.decisions = Counter(
            "control_plane_decisions", "Successful approve and reject decisions.", ["decision"], registry=self.registry
        )
        self.transitions = Counter(
            "control_plane_lifecycle_transitions",
            "Successful lifecycle commands and runner reports by action (an idempotent replay counts again).",
            ["action"],
            registry=self.registry,
        )
        for decision in sorted(set(self._decision_of.values())):
            self.decisions.labels(decision)
        self.webhook_deliveries = Counter(
            "control_plane_webhook_deliveries",
            "Webhook delivery attempts by outcome (succeeded, failed_attempt, failed, gone, refused).",
            ["outcome"],
            registry=self.registry,
        )
        for outcome in WEBHOOK_OUTCOMES:
            self.webhook_deliveries.labels(outcome)
        self.webhook_lag = Histogram(
            "control_plane_webhook_delivery_lag_seconds",
            "From an event's occurrence to its successful delivery (retries included).",
            buckets=LAG_BUCKETS,
            registry=self.registry,
        )
        self.webhook_queue_depth = Gauge(
            "control_plane_webhook_queue_depth",
            "Webhook deliveries waiting (pending or retrying) for endpoints that are not disabled, as this process "
            "last counted them.",
            registry=self.registry,
        )
        if pool is not None:
            self.registry.register(PoolCollector(pool))

    def observe(self, record: RequestRecord, outcome: str, seconds: float) -> None:
        contracts = record.contracts
        operation = contracts[0] if len(contracts) == 1 else ("none" if not contracts else "multiple")
        children = self._children.get((operation, outcome))
        if children is None:  # label lookups once per (operation, outcome): both sets are small
            children = self._children[(operation, outcome)] = (
                self.requests.labels(operation, outcome),
                self.latency.labels(operation),
            )
        children[0].inc()
        children[1].observe(seconds)
        for key, result in record.calls:
            if result != OK:
                continue
            decision = self._decision_of.get(key)
            if decision is not None:
                self.decisions.labels(decision).inc()
            action = self._action_of.get(key)
            if action is not None:
                self.transitions.labels(action).inc()

    # The webhook dispatcher's observer (app/services/webhooks/dispatcher.py, DeliveryObserver).
    def webhook_attempted(self, outcome: str) -> None:
        self.webhook_deliveries.labels(outcome).inc()

    def webhook_delivered(self, lag_seconds: float) -> None:
        self.webhook_lag.observe(lag_seconds)

    def webhook_queue(self, depth: int) -> None:
        self.webhook_queue_depth.set(depth)

    async def endpoint(self, _: Request) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)

    def protected_endpoint(self, bearer_token: str) -> Callable[[Request], Awaitable[Response]]:
        """The endpoint behind `Authorization: Bearer <bearer_token>` (compared in constant time)."""
        expected = f"Bearer {bearer_token}".encode()

        async def endpoint(request: Request) -> Response:
            given = request.headers.get("authorization", "").encode()
            if not hmac.compare_digest(given, expected):
                return Response(
                    "metrics need a bearer token\n",
                    status_code=401,
                    media_type="text/plain",
                    headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
                )
            return await self.endpoint(request)

        return endpoint


__all__ = ["LATENCY_BUCKETS", "Metrics", "PoolCollector"]
