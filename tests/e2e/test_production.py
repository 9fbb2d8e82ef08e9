"""`APP_ENV=production` end to end: a real `python -m app serve` refuses to start without a token
key, and with one serves without GraphiQL or introspection, logging JSON lines with no secrets."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import (
    E2EDatabase,
    Serve,
    app_env,
    describe,
    free_port,
    port_is_listening,
    run_cli,
)

# Named on purpose: the test finds the operation name in the request log.
PENDING_NAMED = "query Pending { pendingApprovals(input: {}) { total } }"

pytestmark = pytest.mark.e2e

SECRET = "production-secret-" + "k" * 40
GQL = "application/graphql-response+json"


def json_lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_production_without_a_key_exits_non_zero_with_the_reason(e2e_database: E2EDatabase) -> None:
    port = free_port()
    env = app_env(e2e_database.var_dir, APP_ENV="production", PORT=str(port), **e2e_database.env)

    result = run_cli("serve", env=env, timeout=90.0)

    assert result.returncode == 2, describe(result)
    assert (
        "error: APP_ENV=production needs a token key: set JWT_SECRET (HS256), JWT_PUBLIC_KEY (RS256/ES256) "
        "or JWT_JWKS_URL (an identity provider's keys)." in result.stderr
    ), describe(result)
    assert not port_is_listening(port)


def test_production_with_a_key_serves_without_graphiql_or_introspection(serve: Serve, cli_env: dict[str, str]) -> None:
    server = serve(APP_ENV="production", JWT_SECRET=SECRET)
    minted = run_cli(
        "token", "--sub", "dana", "--role", "admin", "--workspace", "*", env={**cli_env, "JWT_SECRET": SECRET}
    )
    assert minted.returncode == 0, describe(minted)
    token = minted.stdout.strip()

    with httpx.Client(base_url=server.base_url, timeout=30.0) as client:
        page = client.get("/graphql", headers={"Accept": "text/html"})
        introspection = client.post(
            "/graphql", json={"query": "{ __schema { types { name } } }"}, headers={"Accept": GQL}
        )
        pending = client.post(
            "/graphql",
            json={"query": PENDING_NAMED},
            headers={"Authorization": f"Bearer {token}", "X-Request-ID": "e2e-prod-1"},
        )
        metrics = client.get("/metrics")

    assert page.status_code == 404, page.text[:300]
    assert not page.headers["content-type"].startswith("text/html")
    assert introspection.status_code == 400
    assert introspection.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert pending.status_code == 200, pending.text
    assert pending.json() == {"data": {"pendingApprovals": {"total": 0}}}  # production seeds nothing
    assert pending.headers["x-request-id"] == "e2e-prod-1"
    assert pending.headers["x-content-type-options"] == "nosniff"
    assert 'operation="controlPlane.approval.list",outcome="ok"' in metrics.text

    deadline = time.monotonic() + 10
    while "e2e-prod-1" not in server.output() and time.monotonic() < deadline:
        time.sleep(0.1)
    output = server.output()
    assert "Admin token" not in output
    assert "GraphiQL" not in output
    (line,) = [entry for entry in json_lines(output) if entry.get("request_id") == "e2e-prod-1"]
    assert line["logger"] == "app.request"
    assert line["operation"] == "Pending"
    assert line["contracts"] == ["controlPlane.approval.list"]
    assert line["principal"] == "dana"
    assert line["outcome"] == "ok"
    assert any(entry["logger"].startswith("uvicorn") for entry in json_lines(output)), output  # one format
    assert SECRET not in output
    assert token not in output
