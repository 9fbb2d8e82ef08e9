"""Observability: X-Request-ID in and out, one structured log line per request, Prometheus metrics
at /metrics (in a registry per app), and the optional OpenTelemetry spans."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Sequence

import pytest

import app.server as server_module
from app.observability import tracing as tracing_module
from app.testing.documents import APPROVE, PENDING_TOTAL, REJECT
from tests.integration.helpers import DEPLOY, MIGRATE_SCHEMA, PAYOUT
from tests.integration.observed import (
    GQL,
    bearer,
    build_app,
    capture_log,
    client,
    graphql,
    metric_samples,
    sample,
)

__all__ = ["build_app", "capture_log"]  # fixtures

GENERATED = re.compile(r"[0-9a-f]{32}")
REJECT_KEY = "controlPlane.execution.reject"
APPROVE_KEY = "controlPlane.execution.approve"


def reject_input(step: dict[str, str] = DEPLOY, reason: str = "Deploy freeze until Monday.") -> dict[str, object]:
    return {"input": {**step, "rejectedBy": "dana", "reason": reason}}


def approve_input(step: dict[str, str] = MIGRATE_SCHEMA) -> dict[str, object]:
    return {"input": {**step, "approvedBy": "dana", "note": "Reviewed the migration plan."}}


# --- request ids -----------------------------------------------------------------------------------


@pytest.mark.parametrize("request_id", ["a", "req-42", "01HZX.trace:span_7-b", "x" * 128])
async def test_a_valid_request_id_is_kept_and_logged(build_app, capture_log, request_id):
    app = build_app()
    with capture_log(app) as log:
        response = await graphql(app, "{ __typename }", headers={"X-Request-ID": request_id})

    assert response.headers["x-request-id"] == request_id
    (line,) = log.requests()
    assert line["request_id"] == request_id


async def test_a_request_id_is_generated_when_none_is_sent(build_app):
    app = build_app()
    first = await graphql(app, "{ __typename }")
    second = await graphql(app, "{ __typename }")

    assert GENERATED.fullmatch(first.headers["x-request-id"])
    assert GENERATED.fullmatch(second.headers["x-request-id"])
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


@pytest.mark.parametrize(
    "request_id",
    ["", "has space", "x" * 129, "semi;colon", "slash/x", "<script>", "tab\tx"],
    ids=["empty", "space", "too-long", "semicolon", "slash", "markup", "tab"],
)
async def test_an_invalid_request_id_is_replaced(build_app, request_id):
    app = build_app()

    response = await graphql(app, "{ __typename }", headers={"X-Request-ID": request_id})

    assert response.status_code == 200
    assert GENERATED.fullmatch(response.headers["x-request-id"])


async def test_every_response_carries_the_request_id(build_app):
    app = build_app(max_request_bytes=1000)
    sent = {"X-Request-ID": "same-id"}
    async with client(app, sent) as http:
        responses = [
            await http.get("/healthz"),
            await http.get("/readyz"),
            await http.get("/metrics"),
            await http.get("/nowhere"),
            await http.get("/graphql", params={"query": "mutation { __typename }"}),  # 405
            await http.post("/graphql", content=b" " * 2000, headers={"Content-Type": "application/json"}),  # 413
        ]

    assert [r.status_code for r in responses] == [200, 200, 200, 404, 405, 413]
    assert {r.headers["x-request-id"] for r in responses} == {"same-id"}


# --- the log line ------------------------------------------------------------------------------------


async def test_the_log_line_of_a_successful_mutation(build_app, capture_log):
    app = build_app(log_format="json")
    with capture_log(app) as log:
        response = await graphql(
            app, REJECT, reject_input(), headers={**bearer(app), "X-Request-ID": "rq-1"}, operation_name="Reject"
        )

    assert response.json()["data"]["rejectExecutionStep"]["status"] == "rejected"
    (line,) = log.requests()
    assert set(line) == {
        "time",
        "level",
        "logger",
        "message",
        "request_id",
        "method",
        "path",
        "status",
        "operation",
        "contracts",
        "principal",
        "workspace_grants",
        "outcome",
        "duration_ms",
    }
    assert line | {"time": None, "duration_ms": None} == {
        "time": None,
        "level": "INFO",
        "logger": "app.request",
        "message": "POST /graphql 200 ok",
        "request_id": "rq-1",
        "method": "POST",
        "path": "/graphql",
        "status": 200,
        "operation": "Reject",
        "contracts": [REJECT_KEY],
        "principal": "dana",
        "workspace_grants": "*",
        "outcome": "ok",
        "duration_ms": None,
    }
    assert isinstance(line["duration_ms"], float)
    assert line["duration_ms"] > 0


async def test_the_log_line_of_a_conflict(build_app, capture_log):
    app = build_app(log_format="json")
    with capture_log(app) as log:  # the seed rejected PAYOUT with another reason
        response = await graphql(app, REJECT, reject_input(PAYOUT, "Not this way."), headers=bearer(app))

    assert response.json()["errors"][0]["extensions"]["code"] == "CONFLICT"
    (line,) = log.requests()
    assert line["status"] == 200
    assert line["operation"] == "Reject"  # named in the document
    assert line["contracts"] == [REJECT_KEY]
    assert line["principal"] == "dana"
    assert line["workspace_grants"] == "*"  # how many workspaces, never which nor the token
    assert line["outcome"] == "CONFLICT"
    assert line["message"] == "POST /graphql 200 CONFLICT"


async def test_the_log_line_of_refusals_before_graphql(build_app, capture_log):
    app = build_app(log_format="json")
    with capture_log(app) as log:
        await graphql(app, PENDING_TOTAL)  # no token
        await graphql(app, "{ nope", headers={"Accept": GQL})  # syntax error
        await graphql(app, "{ nope")  # the same, answered 200 to a legacy client
        await graphql(app, "{ unknownField }")  # a validation error
        async with client(app) as http:
            await http.post("/graphql", content=b"{}", headers={"Content-Type": "text/plain"})

    assert [(line["status"], line["outcome"], line["principal"]) for line in log.requests()] == [
        (200, "UNAUTHENTICATED", None),
        (400, "BAD_USER_INPUT", None),
        (200, "BAD_USER_INPUT", None),
        (200, "BAD_USER_INPUT", None),
        (415, "BAD_USER_INPUT", None),
    ]


async def test_the_text_log_line(build_app, capture_log):
    app = build_app(log_format="text")
    with capture_log(app, "text") as log:
        await graphql(app, REJECT, reject_input(), headers={**bearer(app), "X-Request-ID": "rq-2"})

    (line,) = [text for text in log.text.splitlines() if " app.request: " in text]
    assert line.split(" INFO app.request: ")[1].startswith("POST /graphql 200 ok request_id=rq-2 method=POST")
    assert f'contracts={REJECT_KEY} principal=dana workspace_grants="*" outcome=ok duration_ms=' in line


async def test_probes_are_logged_at_debug(build_app, capture_log):
    app = build_app()
    with capture_log(app) as log:
        async with client(app) as http:
            await http.get("/healthz")
            await http.get("/metrics")
            await http.get("/nowhere")

    assert [(line["path"], line["level"]) for line in log.requests()] == [
        ("/healthz", "DEBUG"),
        ("/metrics", "DEBUG"),
        ("/nowhere", "INFO"),
    ]


# --- metrics ------------------------------------------------------------------------------------------


async def test_metrics_after_a_reject_and_an_approve(build_app, settings):
    app = build_app()
    admin = bearer(app)
    assert (await graphql(app, REJECT, reject_input(), headers=admin)).json()["data"]
    assert (await graphql(app, APPROVE, approve_input(), headers=admin)).json()["data"]
    conflict = await graphql(app, REJECT, reject_input(reason="Another reason."), headers=admin)  # decided already
    assert conflict.json()["errors"][0]["extensions"]["code"] == "CONFLICT"

    samples = await metric_samples(app)

    assert sample(samples, "control_plane_decisions_total", decision="reject") == 1
    assert sample(samples, "control_plane_decisions_total", decision="approve") == 1
    assert sample(samples, "control_plane_graphql_requests_total", operation=REJECT_KEY, outcome="ok") == 1
    assert sample(samples, "control_plane_graphql_requests_total", operation=REJECT_KEY, outcome="CONFLICT") == 1
    assert sample(samples, "control_plane_graphql_requests_total", operation=APPROVE_KEY, outcome="ok") == 1
    assert sample(samples, "control_plane_graphql_request_duration_seconds_count", operation=REJECT_KEY) == 2
    latency = "control_plane_graphql_request_duration_seconds"
    assert sample(samples, f"{latency}_bucket", operation=REJECT_KEY, le="+Inf") == 2
    assert sample(samples, "control_plane_lifecycle_transitions_total", action="rejectExecutionStep") == 1
    assert sample(samples, "control_plane_lifecycle_transitions_total", action="approveExecutionStep") == 1
    assert sample(samples, "control_plane_db_pool_size") == settings.db_pool_size
    checked_out = sample(samples, "control_plane_db_pool_checked_out")
    assert checked_out is not None
    assert checked_out == 0  # every request has returned its connection
    assert sample(samples, "control_plane_db_pool_overflow") == 0
    assert (sample(samples, "control_plane_db_pool_checked_in") or 0) >= 1


async def test_lifecycle_transitions_and_failed_requests_are_counted(build_app):
    app = build_app()
    await graphql(app, PENDING_TOTAL)  # UNAUTHENTICATED
    await graphql(app, "{ nope", headers={"Accept": GQL})  # a request error, no contract ran

    samples = await metric_samples(app)

    key = "controlPlane.approval.list"
    assert sample(samples, "control_plane_graphql_requests_total", operation=key, outcome="UNAUTHENTICATED") == 1
    assert sample(samples, "control_plane_graphql_requests_total", operation="none", outcome="BAD_USER_INPUT") == 1
    assert sample(samples, "control_plane_decisions_total", decision="reject") == 0


async def test_metrics_content_type(build_app):
    app = build_app()
    async with client(app) as http:
        response = await http.get("/metrics")

    assert response.headers["content-type"].startswith("text/plain; version=")
    assert "# TYPE control_plane_graphql_requests_total counter" in response.text


async def test_each_app_has_its_own_registry(build_app):
    first, second = build_app(), build_app()
    await graphql(first, REJECT, reject_input(), headers=bearer(first))

    assert sample(await metric_samples(first), "control_plane_decisions_total", decision="reject") == 1
    assert sample(await metric_samples(second), "control_plane_decisions_total", decision="reject") == 0


async def test_metrics_disabled(build_app):
    app = build_app(metrics_enabled=False)
    async with client(app) as http:
        response = await http.get("/metrics")

    assert response.status_code == 404
    assert (await graphql(app, "{ __typename }")).status_code == 200


# --- tracing ------------------------------------------------------------------------------------------


async def test_without_the_opentelemetry_packages_one_warning_and_no_tracing(build_app, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "opentelemetry", None)  # `import opentelemetry...` now fails
    caplog.set_level(logging.WARNING, logger="app.observability")

    app = build_app(otel_exporter_otlp_endpoint="http://127.0.0.1:4318")

    warnings = [r for r in caplog.records if r.name == "app.observability"]
    assert len(warnings) == 1
    assert "OTEL_EXPORTER_OTLP_ENDPOINT is set but the OpenTelemetry packages are not installed" in warnings[0].message
    assert "pip install 'control-plane[otel]'" in warnings[0].message
    assert (await graphql(app, "{ __typename }")).status_code == 200


async def test_no_tracing_without_an_endpoint(build_app, monkeypatch):
    built: list[str | None] = []
    monkeypatch.setattr(server_module, "build_tracing", built.append)
    build_app()
    assert built == [None]
    assert tracing_module.build_tracing(None) is None


async def test_a_span_per_graphql_request_with_the_contract_keys(build_app, monkeypatch):
    pytest.importorskip("opentelemetry.sdk.trace")
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: PLC0415 - optional extra

    exporter = InMemorySpanExporter()
    endpoints: list[str] = []

    def exporter_for(endpoint: str) -> InMemorySpanExporter:
        endpoints.append(endpoint)
        return exporter

    monkeypatch.setattr(tracing_module, "_span_exporter", exporter_for)
    built: list[tracing_module.Tracing | None] = []
    real_build = tracing_module.build_tracing

    def build_and_keep(endpoint: str | None) -> tracing_module.Tracing | None:
        built.append(real_build(endpoint))
        return built[0]

    monkeypatch.setattr(server_module, "build_tracing", build_and_keep)
    app = build_app(otel_exporter_otlp_endpoint="http://collector.invalid:4318")
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

    await graphql(
        app,
        REJECT,
        reject_input(),
        headers={**bearer(app), "X-Request-ID": "traced-1", "traceparent": parent},
        operation_name="Reject",
    )
    async with client(app) as http:
        await http.get("/healthz")  # not a GraphQL request: no span
    (tracing,) = built
    assert tracing is not None
    tracing.provider.force_flush()

    assert endpoints == ["http://collector.invalid:4318"]
    (span,) = exporter.get_finished_spans()
    assert span.name == "graphql Reject"
    attributes = span.attributes
    assert attributes is not None
    assert attributes["control_plane.contract.key"] == REJECT_KEY
    keys = attributes["control_plane.contract.keys"]
    assert isinstance(keys, Sequence)
    assert tuple(keys) == (REJECT_KEY,)
    assert attributes["graphql.operation.name"] == "Reject"
    assert attributes["control_plane.request_id"] == "traced-1"
    assert attributes["control_plane.outcome"] == "ok"
    assert attributes["http.response.status_code"] == 200
    assert attributes["enduser.id"] == "dana"
    assert format(span.context.trace_id, "032x") == "0af7651916cd43dd8448eb211c80319c"  # continues the caller's trace
    tracing.shutdown()


def test_the_traces_url_follows_the_otlp_convention():
    pytest.importorskip("opentelemetry.exporter.otlp.proto.http.trace_exporter")
    exporter = tracing_module._span_exporter("http://collector:4318/")
    assert exporter._endpoint == "http://collector:4318/v1/traces"
    exporter.shutdown()
