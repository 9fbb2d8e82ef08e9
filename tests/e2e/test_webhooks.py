"""Webhooks from real `python -m app serve` processes to a real local receiver: `serve` delivers with nothing
else running, a SIGKILL mid-delivery is delivered after the restart, and two processes on one PostgreSQL
database never send one attempt of one event twice."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from app.testing.documents import CREATE_WEBHOOK, SUBMIT
from tests.e2e.conftest import Serve, ServerProcess
from tests.webhook_receiver import Receiver, running_receiver

pytestmark = pytest.mark.e2e

LOCAL = {"WEBHOOK_ALLOW_HTTP": "1", "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "1", "WEBHOOK_POLL_INTERVAL_SECONDS": "0.2"}


@pytest.fixture
def receiver():
    with running_receiver() as running:
        yield running


def graphql(server: ServerProcess, document: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(
        server.graphql_url,
        json={"query": document, "variables": variables},
        headers={"Authorization": f"Bearer {server.admin_token}"},
        timeout=30.0,
    )
    body = response.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


def create_endpoint(server: ServerProcess, url: str) -> dict[str, Any]:
    values = {"url": url, "eventKeys": ["controlPlane.intent.received"], "workspaceId": "ws-acme", "createdBy": "admin"}
    created: dict[str, Any] = graphql(server, CREATE_WEBHOOK, {"input": values})["createWebhookEndpoint"]
    return created


def submit(server: ServerProcess, text: str) -> str:
    data = graphql(server, SUBMIT, {"input": {"workspaceId": "ws-acme", "text": text}})
    execution_id: str = data["submitIntent"]["executionId"]
    return execution_id


def test_serve_delivers_webhooks_with_nothing_else_running(serve: Serve, receiver: Receiver):
    server = serve(**LOCAL)
    created = create_endpoint(server, receiver.url("/serve"))
    execution_id = submit(server, "Rotate the API keys.")
    (request,) = receiver.wait_for(1, "/serve")
    document = Webhook(created["secret"]).verify(request.body, request.headers)
    assert document["type"] == "controlPlane.intent.received"
    assert document["data"]["executionId"] == execution_id
    metrics = httpx.get(f"{server.base_url}/metrics", timeout=10.0).text
    assert 'control_plane_webhook_deliveries_total{outcome="succeeded"} 1.0' in metrics
    assert "control_plane_webhook_delivery_lag_seconds_count 1.0" in metrics
    assert "control_plane_webhook_queue_depth" in metrics


def test_a_server_killed_mid_delivery_delivers_after_the_restart(serve: Serve, receiver: Receiver):
    """The receiver holds the first attempt while the server is SIGKILLed; the restarted server finds the
    claim lapsed (its lease is the timeout plus 5 s) and delivers the event again, with the same webhook-id."""
    env = {**LOCAL, "WEBHOOK_TIMEOUT_SECONDS": "2"}
    server = serve(**env)
    created = create_endpoint(server, receiver.url("/crash"))
    receiver.answer("/crash", 200, delay=20.0)
    submit(server, "Ship release 43.")
    (held,) = receiver.wait_for(1, "/crash")
    server.kill()
    killed_at = time.monotonic()
    restarted = serve(**env)
    first, again = receiver.wait_for(2, "/crash", timeout=60.0)
    assert time.monotonic() - killed_at >= 5  # not before the killed process's lease lapsed
    assert first.webhook_id == again.webhook_id == held.webhook_id
    assert first.body == again.body
    Webhook(created["secret"]).verify(again.body, again.headers)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        rows = restarted.query("SELECT status, attempts FROM webhook_delivery")
        if rows == [("succeeded", 2)]:
            break
        time.sleep(0.2)
    assert rows == [("succeeded", 2)]


def test_two_processes_on_postgresql_never_send_one_attempt_twice(
    postgresql_only: None, serve: Serve, receiver: Receiver
):
    first = serve(**LOCAL)
    second = serve(**LOCAL)
    create_endpoint(first, receiver.url("/pair"))
    count = 40
    for index in range(count):
        submit(first if index % 2 else second, f"Intent {index}.")
    requests = receiver.wait_for(count, "/pair", timeout=60.0)
    time.sleep(1.0)  # anything sent twice would have arrived by now
    requests = receiver.received("/pair")
    assert len(requests) == count
    assert len({request.webhook_id for request in requests}) == count
    rows = first.query("SELECT status, attempts FROM webhook_delivery")
    assert sorted(set(rows)) == [("succeeded", 1)]
    assert len(rows) == count
