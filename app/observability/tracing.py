"""Optional OpenTelemetry tracing: one span per GraphQL request (one operation: batching is off),
exported over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set and the `otel` extra is installed
(`pip install 'control-plane[otel]'`). Without the packages the server logs one warning and runs
untraced. The packages are imported by name at run time, so nothing here needs them to type-check.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable, Iterable
from typing import Any

from app.observability.context import INTERNAL, RequestRecord

logger = logging.getLogger("app.observability")

SERVICE_NAME = "control-plane"


class Tracing:
    """Starts and ends the request spans; `provider` is an SDK TracerProvider (shut down at exit)."""

    def __init__(self, provider: Any) -> None:
        self.provider = provider
        self._tracer = provider.get_tracer("control-plane")
        api = importlib.import_module("opentelemetry.trace")
        self._server_kind = api.SpanKind.SERVER
        self._error = api.Status(api.StatusCode.ERROR)
        self._extract: Callable[..., Any] = importlib.import_module("opentelemetry.propagate").extract

    def start(self, method: str, path: str, headers: Iterable[tuple[bytes, bytes]]) -> Any:
        carrier = {name.decode("latin-1"): value.decode("latin-1") for name, value in headers}
        return self._tracer.start_span(
            f"{method} {path}",
            context=self._extract(carrier),
            kind=self._server_kind,
            attributes={"http.request.method": method, "url.path": path},
        )

    def finish(self, span: Any, record: RequestRecord, status: int, outcome: str) -> None:
        if record.operation_name:
            span.update_name(f"graphql {record.operation_name}")
            span.set_attribute("graphql.operation.name", record.operation_name)
        contracts = record.contracts
        span.set_attribute("control_plane.contract.keys", contracts)
        if len(contracts) == 1:
            span.set_attribute("control_plane.contract.key", contracts[0])
        if record.principal_id is not None:
            span.set_attribute("enduser.id", record.principal_id)
        span.set_attribute("control_plane.request_id", record.request_id)
        span.set_attribute("control_plane.outcome", outcome)
        span.set_attribute("http.response.status_code", status)
        if outcome == INTERNAL:
            span.set_status(self._error)
        span.end()

    def shutdown(self) -> None:
        self.provider.shutdown()


def _span_exporter(endpoint: str) -> Any:
    """The OTLP/HTTP exporter; like the OTel SDK does for the variable, traces go to <endpoint>/v1/traces."""
    module = importlib.import_module("opentelemetry.exporter.otlp.proto.http.trace_exporter")
    return module.OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces")


def build_tracing(endpoint: str | None) -> Tracing | None:
    """Tracing when an endpoint is configured and the packages import; otherwise None."""
    if not endpoint:
        return None
    try:
        sdk = importlib.import_module("opentelemetry.sdk.trace")
        export = importlib.import_module("opentelemetry.sdk.trace.export")
        resources = importlib.import_module("opentelemetry.sdk.resources")
        exporter = _span_exporter(endpoint)
    except ImportError as error:
        logger.warning(
            "OTEL_EXPORTER_OTLP_ENDPOINT is set but the OpenTelemetry packages are not installed (%s); "
            "tracing is off. Install them with: pip install 'control-plane[otel]'",
            error.name or error,
        )
        return None
    # OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES are honoured by Resource.create.
    attributes = {} if os.environ.get("OTEL_SERVICE_NAME") else {"service.name": SERVICE_NAME}
    provider = sdk.TracerProvider(resource=resources.Resource.create(attributes))
    provider.add_span_processor(export.BatchSpanProcessor(exporter))
    return Tracing(provider)


__all__ = ["SERVICE_NAME", "Tracing", "build_tracing"]
