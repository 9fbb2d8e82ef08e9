"""Production mode: introspection off unless enabled, masked errors with a request id the log
lines of that failure carry, CORS for configured origins only, security headers, no secrets in logs."""

from __future__ import annotations

import gc
import logging
import re

import pytest
from pydantic import ValidationError

from app.graphql import http as graphql_http
from app.server import create_app
from app.testing.documents import REJECT
from tests.conftest import TEST_SECRET, make_settings
from tests.integration.helpers import DEPLOY, raise_after_append
from tests.integration.observed import GQL, bearer, build_app, capture_log, client, graphql

__all__ = ["build_app", "capture_log"]  # fixtures

INTROSPECTION = "{ __schema { queryType { name } } }"
TYPE_QUERY = '{ __type(name: "Query") { name } }'
STUDIO = "https://studio.example.com"
OPS = "https://ops.example.com"


def reject_input(reason: str = "Deploy freeze until Monday.") -> dict[str, object]:
    return {"input": {**DEPLOY, "rejectedBy": "dana", "reason": reason}}


# --- introspection ----------------------------------------------------------------------------------


@pytest.mark.parametrize("query", [INTROSPECTION, TYPE_QUERY])
async def test_introspection_is_refused_in_production(build_app, query):
    app = build_app(app_env="production")

    response = await graphql(app, query, headers={"Accept": GQL})

    assert response.status_code == 400
    body = response.json()
    assert "data" not in body
    error = body["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "introspection is disabled" in error["message"]
    assert "GRAPHQL_INTROSPECTION" in error["message"]


async def test_typename_still_answers_in_production(build_app):
    app = build_app(app_env="production")

    response = await graphql(app, "{ __typename }", headers={"Accept": GQL})

    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_introspection_can_be_enabled_in_production(build_app):
    app = build_app(app_env="production", graphql_introspection=True)

    response = await graphql(app, INTROSPECTION, headers={"Accept": GQL})

    assert response.status_code == 200
    assert response.json() == {"data": {"__schema": {"queryType": {"name": "Query"}}}}


async def test_introspection_is_on_in_development_and_can_be_turned_off(build_app):
    development = await graphql(build_app(), INTROSPECTION, headers={"Accept": GQL})
    turned_off = await graphql(build_app(graphql_introspection=False), INTROSPECTION, headers={"Accept": GQL})

    assert development.status_code == 200
    assert turned_off.status_code == 400
    assert turned_off.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_graphiql_is_off_in_production(build_app):
    app = build_app(app_env="production")
    async with client(app, {"Accept": "text/html"}) as http:
        response = await http.get("/graphql")

    assert response.status_code == 404
    assert not response.headers["content-type"].startswith("text/html")


# --- masked errors -----------------------------------------------------------------------------------


async def test_an_unexpected_failure_is_masked_with_a_request_id_found_in_the_log(build_app, capture_log, monkeypatch):
    secret = "database exploded: row 42 is haunted"
    raise_after_append(monkeypatch, secret)
    app = build_app(app_env="production")

    with capture_log(app) as log:
        response = await graphql(app, REJECT, reject_input(), headers=bearer(app))

    (error,) = response.json()["errors"]
    assert error["message"] == "Internal server error."
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    request_id = error["extensions"]["requestId"]
    assert request_id == response.headers["x-request-id"]
    assert secret not in response.text
    lines = log.of_request(request_id)
    failure = [line for line in lines if line["level"] == "ERROR"]
    assert failure, log.text
    assert any(secret in line.get("exception", "") for line in failure)
    (request_line,) = [line for line in lines if line["logger"] == "app.request"]
    assert request_line["outcome"] == "INTERNAL_SERVER_ERROR"
    assert request_line["contracts"] == ["controlPlane.execution.reject"]


async def test_a_failure_outside_graphql_is_a_masked_500_with_the_request_id(build_app, capture_log, monkeypatch):
    async def broken(self, request):
        raise RuntimeError("the transport itself failed")

    monkeypatch.setattr(graphql_http.GraphQLApp, "respond", broken)
    app = build_app(app_env="production")

    with capture_log(app) as log:
        response = await graphql(app, "{ __typename }", headers={"X-Request-ID": "ops-ticket-7"})

    assert response.status_code == 500
    assert response.headers["x-request-id"] == "ops-ticket-7"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.json() == {
        "errors": [
            {
                "message": "Internal server error.",
                "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": "ops-ticket-7"},
            }
        ]
    }
    assert "the transport itself failed" not in response.text
    lines = log.of_request("ops-ticket-7")
    assert any("the transport itself failed" in line.get("exception", "") for line in lines)
    assert [line["status"] for line in lines if line["logger"] == "app.request"] == [500]


# --- CORS --------------------------------------------------------------------------------------------


def preflight_headers(origin: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type, x-request-id",
    }


async def test_cors_preflight_from_a_configured_origin(build_app):
    app = build_app(app_env="production", cors_origins=f"{STUDIO}, {OPS}/")
    async with client(app) as http:
        response = await http.options("/graphql", headers=preflight_headers(OPS))

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == OPS
    assert response.headers["access-control-allow-credentials"] == "true"
    assert "POST" in response.headers["access-control-allow-methods"]
    allowed = {name.strip().lower() for name in response.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type", "x-request-id"} <= allowed
    assert "x-request-id" in response.headers  # the preflight has its request id too


async def test_cors_request_from_a_configured_origin(build_app):
    app = build_app(app_env="production", cors_origins=STUDIO)

    response = await graphql(app, "{ __typename }", headers={"Origin": STUDIO})

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == STUDIO
    assert response.headers["access-control-allow-credentials"] == "true"
    assert response.headers["access-control-expose-headers"].lower() == "x-request-id"


async def test_cors_other_origins_get_no_cors_headers(build_app):
    app = build_app(app_env="production", cors_origins=STUDIO)

    response = await graphql(app, "{ __typename }", headers={"Origin": "https://evil.example"})
    async with client(app) as http:
        preflight = await http.options("/graphql", headers=preflight_headers("https://evil.example"))

    assert response.status_code == 200  # the browser, not the server, withholds the answer
    assert not [name for name in response.headers if name.startswith("access-control-")]
    assert preflight.status_code == 400
    assert "access-control-allow-origin" not in preflight.headers


async def test_no_cors_without_configured_origins(build_app):
    app = build_app(app_env="production")

    response = await graphql(app, "{ __typename }", headers={"Origin": STUDIO})
    async with client(app) as http:
        preflight = await http.options("/graphql", headers=preflight_headers(STUDIO))

    assert not [name for name in response.headers if name.startswith("access-control-")]
    assert preflight.status_code == 405
    assert not [name for name in preflight.headers if name.startswith("access-control-")]


def test_a_wildcard_origin_is_refused(tmp_path):
    with pytest.raises(ValidationError, match="CORS_ORIGINS"):
        make_settings(tmp_path, cors_origins="*")


# --- security headers ----------------------------------------------------------------------------------

SECURITY_HEADERS = {"x-content-type-options": "nosniff", "x-frame-options": "DENY", "referrer-policy": "no-referrer"}


def assert_security_headers(response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get_list(name) == [value], (response.request.url, name)
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


async def test_every_response_has_the_security_headers(build_app):
    app = build_app(app_env="production", max_request_bytes=1000)
    async with client(app, bearer(app)) as http:
        responses = [
            await http.post("/graphql", json={"query": "{ __typename }"}),
            await http.post("/graphql", content=b"{}", headers={"Content-Type": "text/plain"}),  # 415
            await http.post("/graphql", content=b" " * 2000, headers={"Content-Type": "application/json"}),  # 413
            await http.get("/healthz"),
            await http.get("/metrics"),
            await http.get("/no/such/path"),
        ]

    assert [r.status_code for r in responses] == [200, 415, 413, 200, 200, 404]
    for response in responses:
        assert_security_headers(response)
        assert "content-security-policy" not in response.headers  # not an HTML page


async def test_the_graphiql_page_has_a_same_origin_content_security_policy(build_app):
    app = build_app()  # development: GraphiQL on
    async with client(app, {"Accept": "text/html"}) as http:
        response = await http.get("/graphql")

    assert response.headers["content-type"].startswith("text/html")
    assert_security_headers(response)
    (policy,) = response.headers.get_list("content-security-policy")
    directives = dict(item.strip().split(" ", 1) for item in policy.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"


async def test_the_content_security_policy_setting_replaces_the_pages_own(build_app):
    policy = "default-src 'self'; report-uri /csp"
    app = build_app(content_security_policy=policy)
    async with client(app, {"Accept": "text/html"}) as http:
        response = await http.get("/graphql")

    assert response.headers.get_list("content-security-policy") == [policy]


# --- secrets never logged ------------------------------------------------------------------------------


@pytest.mark.parametrize("log_format", ["json", "text"])
async def test_tokens_and_secrets_never_appear_in_logs(build_app, capture_log, monkeypatch, log_format):
    app = build_app(app_env="production", log_format=log_format)
    token = bearer(app)["Authorization"].removeprefix("Bearer ")
    expired = app.state.services.tokens.mint("dana", ["admin"], ["*"], -60)

    with capture_log(app, log_format) as log:
        assert (await graphql(app, "{ __typename }", headers={"Authorization": f"Bearer {token}"})).status_code == 200
        await graphql(app, REJECT, reject_input(), headers={"Authorization": f"Bearer {expired}"})
        await graphql(app, REJECT, reject_input(), headers={"Authorization": f"Bearer {token}x"})
        await graphql(app, REJECT, reject_input(), headers={"Authorization": f"Token {token}"})
        raise_after_append(monkeypatch, f"failed for Bearer {token} with key {TEST_SECRET}")  # a careless message
        masked = await graphql(app, REJECT, reject_input(), headers={"Authorization": f"Bearer {token}"})
        logging.getLogger("app.test").info("settings: %r", app.state.services.settings)  # SecretStr hides them

    assert masked.json()["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    output = log.text
    assert output.count("\n") >= 6, output  # five request lines, the failure, the settings
    for secret in (token, expired, TEST_SECRET):
        assert secret not in output
    assert "[redacted]" in output  # the failure was logged, with the secrets scrubbed


async def test_the_served_app_freezes_what_its_startup_made_and_a_test_app_does_not(settings):
    """`python -m app serve` runs create_served_app: after startup the collector no longer walks the startup's
    objects (a full collection of them was a 140-160 ms pause); apps made by tests leave the collector alone."""
    gc.unfreeze()
    plain = create_app(settings)
    async with plain.router.lifespan_context(plain):
        assert gc.get_freeze_count() == 0
    served = create_app(settings, freeze_gc_after_startup=True)
    try:
        async with served.router.lifespan_context(served):
            assert gc.get_freeze_count() > 50_000
    finally:
        gc.unfreeze()
