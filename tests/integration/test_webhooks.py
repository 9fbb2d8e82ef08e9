"""Webhooks end to end inside one process: the contracts over GraphQL, and the dispatcher delivering to a
real local HTTP receiver (tests/webhook_receiver.py), verified with the `standardwebhooks` package exactly as
a receiver would. Time is an injected clock, so retries and the 24 h of a rotation need no sleeping."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from standardwebhooks import Webhook

from app.db.database import Database
from app.db.tables import webhook_delivery_table, webhook_endpoint_table
from app.server import create_app
from app.services.webhooks.dispatcher import DeliveryPolicy, Dispatcher
from app.services.webhooks.targets import TargetPolicy
from app.settings import Settings
from app.testing.documents import (
    CREATE_WEBHOOK,
    DISABLE_WEBHOOK,
    REDELIVER_WEBHOOK,
    ROTATE_WEBHOOK_SECRET,
    SUBMIT,
    WEBHOOK_DELIVERIES,
    WEBHOOK_ENDPOINTS,
)
from tests.conftest import make_settings
from tests.integration.helpers import contract, failing, fetch
from tests.webhook_receiver import Received, Receiver, running_receiver

INTENT = "controlPlane.intent.received"
CREATE_CONTRACT = contract("controlPlane.webhook.create")


class Clock:
    """The dispatcher's time: starts now, moves only when told."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url, webhook_allow_http=True, webhook_allow_private_networks=True)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


@pytest.fixture
def clock() -> Clock:
    return Clock()


LOCAL = TargetPolicy(allow_http=True, allow_private_networks=True)


@pytest.fixture
async def dispatcher(database: Database, clock: Clock) -> AsyncIterator[Dispatcher]:
    running = Dispatcher(
        database.unit_of_work, policy=DeliveryPolicy(timeout=2.0, retry_delays=(5, 30)), targets=LOCAL, clock=clock
    )
    yield running
    await running.aclose()


async def create(execute, url: str, **fields: Any) -> dict[str, Any]:
    values = {"url": url, "eventKeys": [INTENT], "workspaceId": "ws-acme", "createdBy": "dana", **fields}
    data = await execute(CREATE_WEBHOOK, {"input": values})
    created: dict[str, Any] = data["createWebhookEndpoint"]
    return created


async def submit(execute, text: str = "Rotate the API keys.", workspace: str = "ws-acme") -> str:
    data = await execute(SUBMIT, {"input": {"workspaceId": workspace, "text": text}})
    execution_id: str = data["submitIntent"]["executionId"]
    return execution_id


async def deliveries(execute, endpoint_id: str, **filters: Any) -> list[dict[str, Any]]:
    data = await execute(WEBHOOK_DELIVERIES, {"input": {"endpointId": endpoint_id, **filters}})
    items: list[dict[str, Any]] = data["webhookDeliveries"]["items"]
    return items


async def endpoint(execute, endpoint_id: str) -> dict[str, Any]:
    data = await execute(WEBHOOK_ENDPOINTS, {"input": {"limit": 200}})
    (found,) = [item for item in data["webhookEndpoints"]["items"] if item["endpointId"] == endpoint_id]
    assert isinstance(found, dict)
    return found


def verified(secret: str, request: Received) -> dict[str, Any]:
    """What a receiver does: verify the signature over the exact body with the `standardwebhooks` package."""
    document = Webhook(secret).verify(request.body, request.headers)
    assert isinstance(document, dict)
    return document


def signed_by(secret: str, request: Received) -> bool:
    """Whether one of the request's signatures is the secret's (without the 5-minute timestamp window)."""
    at = datetime.fromtimestamp(int(request.headers["webhook-timestamp"]), UTC)
    expected = Webhook(secret).sign(request.webhook_id, at, request.body.decode())
    return expected in request.headers["webhook-signature"].split(" ")


# --- the contracts ---------------------------------------------------------------------------------------


async def test_create_shows_the_secret_once_and_lists_the_endpoint(execute, receiver):
    created = await create(execute, receiver.url("/a"), description="Paging")
    assert created["secret"].startswith("whsec_")
    assert len(base64.b64decode(created["secret"].removeprefix("whsec_"))) == 32
    listed = await endpoint(execute, created["endpointId"])
    assert listed["status"] == "active"
    assert (listed["url"], listed["eventKeys"], listed["workspaceId"]) == (receiver.url("/a"), [INTENT], "ws-acme")
    assert (listed["createdBy"], listed["consecutiveFailures"], listed["lastSuccessAt"]) == ("dana", 0, None)
    assert "secret" not in json.dumps(listed)


async def test_lists_only_the_callers_workspaces(execute, token, receiver):
    acme = await create(execute, receiver.url("/acme"))
    every = await create(execute, receiver.url("/all"), workspaceId=None, eventKeys=["*"])
    mine = await execute(WEBHOOK_ENDPOINTS, {"input": {}}, bearer=token("gus", workspaces=["ws-acme"]))
    ids = {item["endpointId"] for item in mine["webhookEndpoints"]["items"]}
    assert acme["endpointId"] in ids
    assert every["endpointId"] not in ids  # an endpoint of every workspace needs `*` to be seen
    other = await execute(WEBHOOK_ENDPOINTS, {"input": {}}, bearer=token("gus", workspaces=["ws-globex"]))
    assert other["webhookEndpoints"] == {"total": 0, "items": []}


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"eventKeys": ["controlPlane.nothing.happened"]}, "eventKeys.0"),
        ({"eventKeys": ["*", INTENT]}, "eventKeys"),
        ({"eventKeys": []}, "eventKeys"),
        ({"url": "  "}, "url"),
        ({"url": "ftp://127.0.0.1/x"}, "url"),
        ({"url": "http://user:pw@127.0.0.1/x"}, "url"),
        ({"description": "x" * 1001}, "description"),
        ({"workspaceId": "no spaces allowed"}, "workspaceId"),
    ],
)
async def test_invalid_input_is_refused_with_the_field(execute, database, receiver, fields, field):
    values = {"url": receiver.url("/a"), "eventKeys": [INTENT], "workspaceId": "ws-acme", "createdBy": "dana", **fields}
    error = await failing(execute, database, CREATE_WEBHOOK, {"input": values}, expect_contract=CREATE_CONTRACT)
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert field in error["extensions"]["fields"], error


async def test_actor_and_grants_are_checked(execute, database, token, receiver):
    base = {"url": receiver.url("/a"), "eventKeys": [INTENT], "workspaceId": "ws-acme", "createdBy": "dana"}
    error = await failing(execute, database, CREATE_WEBHOOK, {"input": {**base, "createdBy": "erin"}})
    assert error["extensions"]["code"] == "FORBIDDEN"
    acme_only = token("dana", workspaces=["ws-acme"])
    error = await failing(execute, database, CREATE_WEBHOOK, {"input": {**base, "workspaceId": None}}, bearer=acme_only)
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert "'*'" in error["message"]
    globex = token("dana", workspaces=["ws-globex"])
    error = await failing(execute, database, CREATE_WEBHOOK, {"input": base}, bearer=globex)
    assert error["extensions"]["code"] == "FORBIDDEN"
    runner = token("dana", "runner", workspaces=["*"])
    error = await failing(execute, database, CREATE_WEBHOOK, {"input": base}, bearer=runner)
    assert error["extensions"]["code"] == "FORBIDDEN"


async def test_an_endpoint_outside_the_grants_is_not_found(execute, database, token, receiver):
    created = await create(execute, receiver.url("/a"))
    globex = token("dana", workspaces=["ws-globex"])
    endpoint_id = created["endpointId"]
    for document, values in [
        (DISABLE_WEBHOOK, {"endpointId": endpoint_id, "disabledBy": "dana"}),
        (ROTATE_WEBHOOK_SECRET, {"endpointId": endpoint_id, "rotatedBy": "dana"}),
        (WEBHOOK_DELIVERIES, {"endpointId": endpoint_id}),
        (DISABLE_WEBHOOK, {"endpointId": "whk_does_not_exist", "disabledBy": "dana"}),
        (REDELIVER_WEBHOOK, {"deliveryId": "msg_does_not_exist", "requestedBy": "dana"}),
    ]:
        error = await failing(execute, database, document, {"input": values}, bearer=globex)
        assert error["extensions"]["code"] == "NOT_FOUND", (document, error)


async def test_disable_is_idempotent_and_rotation_of_a_disabled_endpoint_conflicts(execute, database, receiver):
    created = await create(execute, receiver.url("/a"))
    values = {"endpointId": created["endpointId"], "disabledBy": "dana"}
    first = (await execute(DISABLE_WEBHOOK, {"input": values}))["disableWebhookEndpoint"]
    again = (await execute(DISABLE_WEBHOOK, {"input": values}))["disableWebhookEndpoint"]
    assert first == again
    assert first["status"] == "disabled"
    rotate = {"endpointId": created["endpointId"], "rotatedBy": "dana"}
    error = await failing(execute, database, ROTATE_WEBHOOK_SECRET, {"input": rotate})
    assert (error["extensions"]["code"], error["extensions"]["currentStatus"]) == ("CONFLICT", "disabled")
    assert (await endpoint(execute, created["endpointId"]))["status"] == "disabled"


# --- SSRF ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.example.com/x", "https"),
        ("https://127.0.0.1/x", "loopback"),
        ("https://localhost:8443/x", "loopback"),
        ("https://10.1.2.3/x", "private"),
        ("https://192.168.0.10/x", "private"),
        ("https://172.16.5.4/x", "private"),
        ("https://169.254.169.254/latest/meta-data", "metadata"),
        ("https://100.64.0.1/x", "private"),
        ("https://[::1]/x", "loopback"),
        ("https://[fd00::1]/x", "private"),
        ("https://[::ffff:127.0.0.1]/x", "loopback"),
        ("https://0.0.0.0/x", "reserved"),
        ("https://host.invalid/x", "does not resolve"),
    ],
)
async def test_ssrf_targets_are_refused_at_create_time(tmp_path, database_url, url, reason):
    """On a strict server (the defaults: no http, no private networks)."""
    strict = create_app(make_settings(tmp_path / "strict", database_url), migrate_on_start=False)
    database = strict.state.services.database
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=strict), base_url="http://testserver") as client:
            values = {"url": url, "eventKeys": [INTENT], "workspaceId": "ws-acme", "createdBy": "dana"}
            headers = {"Authorization": f"Bearer {strict.state.services.tokens.mint('dana', ['admin'], ['*'], 600)}"}
            response = await client.post(
                "/graphql", json={"query": CREATE_WEBHOOK, "variables": {"input": values}}, headers=headers
            )
        (error,) = response.json()["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT", error
        assert reason in error["extensions"]["fields"]["url"], error
        async with database.unit_of_work(write=False) as session:
            assert (await session.execute(select(webhook_endpoint_table))).all() == []
    finally:
        await database.dispose()


async def test_ssrf_is_checked_again_at_delivery_time(execute, database, receiver, clock):
    """Created while private networks were allowed; a process that does not allow them refuses to connect
    (the same as a name that resolved to a public address at creation and to 127.0.0.1 later)."""
    created = await create(execute, receiver.url("/a"))
    await submit(execute)
    strict = Dispatcher(database.unit_of_work, targets=TargetPolicy(allow_http=True), clock=clock)
    try:
        await strict.run_once()
    finally:
        await strict.aclose()
    assert receiver.received() == []
    (delivery,) = await deliveries(execute, created["endpointId"])
    assert delivery["status"] == "retrying"
    assert delivery["lastError"].startswith("refused: host 127.0.0.1 resolves to a loopback"), delivery


async def test_redirects_are_not_followed(execute, receiver, dispatcher):
    created = await create(execute, receiver.url("/moved"))
    receiver.answer("/moved", 302)
    await submit(execute)
    await dispatcher.run_once()
    assert len(receiver.received()) == 1
    (delivery,) = await deliveries(execute, created["endpointId"])
    assert (delivery["status"], delivery["lastStatusCode"]) == ("retrying", 302)
    assert "redirects are not followed" in delivery["lastError"]


# --- delivery --------------------------------------------------------------------------------------------


async def test_a_delivery_is_signed_as_standard_webhooks_and_verifies(execute, receiver, dispatcher, database):
    created = await create(execute, receiver.url("/a"))
    execution_id = await submit(execute)
    assert await dispatcher.run_once() == 1
    (request,) = receiver.received("/a")
    document = verified(created["secret"], request)
    assert document["type"] == INTENT
    data = document["data"]
    assert (data["executionId"], data["workspaceId"], data["version"]) == (execution_id, "ws-acme", "1.0.0")
    assert data["cursor"]
    assert data["intentId"]
    assert "receivedAt" in data
    assert document["timestamp"].endswith("Z")
    assert request.headers["webhook-signature"].startswith("v1,")
    assert request.headers["content-type"] == "application/json"
    (delivery,) = await deliveries(execute, created["endpointId"])
    assert (delivery["status"], delivery["attempts"], delivery["lastStatusCode"]) == ("succeeded", 1, 200)
    assert delivery["deliveryId"] == request.webhook_id
    assert delivery["eventCursor"] == data["cursor"]
    listed = await endpoint(execute, created["endpointId"])
    assert listed["lastSuccessAt"] is not None
    assert await dispatcher.run_once() == 0  # nothing new: nothing sent again
    assert len(receiver.received()) == 1


async def test_only_events_after_creation_of_its_workspace_and_keys(execute, receiver, dispatcher):
    await submit(execute, "Before the endpoint existed.")
    created = await create(execute, receiver.url("/acme"))
    everything = await create(execute, receiver.url("/all"), workspaceId=None, eventKeys=["*"])
    await submit(execute, "In another workspace.", workspace="ws-globex")
    await dispatcher.run_once()
    assert receiver.received("/acme") == []
    (request,) = receiver.received("/all")
    assert verified(everything["secret"], request)["data"]["workspaceId"] == "ws-globex"
    assert await deliveries(execute, created["endpointId"]) == []


async def test_a_receiver_failing_twice_gets_the_event_three_times_with_one_webhook_id(
    execute, receiver, dispatcher, clock
):
    created = await create(execute, receiver.url("/flaky"))
    receiver.answer("/flaky", 500, 503)
    await submit(execute)
    await dispatcher.run_once()
    (delivery,) = await deliveries(execute, created["endpointId"])
    assert (delivery["status"], delivery["attempts"], delivery["lastStatusCode"]) == ("retrying", 1, 500)
    wait = datetime.fromisoformat(delivery["nextAttemptAt"]) - clock.now
    assert timedelta(seconds=4.5) <= wait <= timedelta(seconds=5.5), wait  # 5 s ± 10 % jitter
    failing_endpoint = await endpoint(execute, created["endpointId"])
    assert (failing_endpoint["status"], failing_endpoint["consecutiveFailures"]) == ("failing", 1)

    await dispatcher.run_once()  # not due yet: nothing sent
    assert len(receiver.received()) == 1
    clock.advance(6)
    await dispatcher.run_once()
    (delivery,) = await deliveries(execute, created["endpointId"])
    assert (delivery["status"], delivery["attempts"], delivery["lastStatusCode"]) == ("retrying", 2, 503)
    clock.advance(34)
    await dispatcher.run_once()

    requests = receiver.received("/flaky")
    assert len(requests) == 3
    assert len({request.webhook_id for request in requests}) == 1
    assert len({request.body for request in requests}) == 1
    for request in requests:
        verified(created["secret"], request)
    (delivery,) = await deliveries(execute, created["endpointId"])
    assert (delivery["status"], delivery["attempts"], delivery["lastStatusCode"]) == ("succeeded", 3, 200)
    healthy = await endpoint(execute, created["endpointId"])
    assert (healthy["status"], healthy["consecutiveFailures"]) == ("active", 0)


async def test_after_the_last_retry_the_delivery_fails_and_the_next_one_goes(execute, receiver, dispatcher, clock):
    created = await create(execute, receiver.url("/down"))
    receiver.answer("/down", 500, 500, 500)
    first = await submit(execute, "First.")
    second = await submit(execute, "Second.")
    await dispatcher.run_once()
    for wait in (6, 34):
        clock.advance(wait)
        await dispatcher.run_once()
    statuses = {
        item["eventCursor"]: (item["status"], item["attempts"])
        for item in await deliveries(execute, created["endpointId"])
    }
    assert sorted(statuses.values()) == [("failed", 3), ("succeeded", 1)], statuses
    sent = [json.loads(request.body)["data"]["executionId"] for request in receiver.received("/down")]
    assert sent == [first, first, first, second]


async def test_deliveries_reach_an_endpoint_in_the_logs_order_a_retry_holding_up_later_ones(
    execute, receiver, dispatcher, clock
):
    created = await create(execute, receiver.url("/ordered"))
    receiver.answer("/ordered", 500)
    executions = [await submit(execute, f"Intent {index}.") for index in range(5)]
    await dispatcher.run_once()
    assert len(receiver.received()) == 1  # the head failed: the later events wait behind it
    clock.advance(6)
    await dispatcher.run_once()
    requests = receiver.received("/ordered")
    sent = [json.loads(request.body)["data"] for request in requests]
    assert [item["executionId"] for item in sent] == [executions[0], *executions]
    cursors = [int(item["cursor"]) for item in sent[1:]]
    assert cursors == sorted(cursors)
    assert {item["status"] for item in await deliveries(execute, created["endpointId"])} == {"succeeded"}


async def test_a_failing_endpoint_does_not_delay_a_healthy_one(execute, receiver, database, clock):
    slow = await create(execute, receiver.url("/slow"))
    healthy = await create(execute, receiver.url("/healthy"))
    receiver.answer("/slow", 200, 200, 200, delay=3.0)  # longer than the timeout: every attempt times out
    for index in range(3):
        await submit(execute, f"Intent {index}.")
    dispatcher = Dispatcher(
        database.unit_of_work, policy=DeliveryPolicy(timeout=1.0, retry_delays=(0.0,)), targets=LOCAL, clock=clock
    )
    try:
        await dispatcher.queue()
        await dispatcher.send_due()
        loop = asyncio.get_running_loop()
        started = loop.time()
        while len(receiver.received("/healthy")) < 3 and loop.time() - started < 5:  # noqa: ASYNC110 - a thread fills it
            await asyncio.sleep(0.02)
        healthy_took = loop.time() - started
        assert len(receiver.received("/healthy")) == 3
        assert healthy_took < 0.9, healthy_took  # before the slow endpoint's first attempt even timed out
        assert len(receiver.received("/slow")) == 1
        while {item["status"] for item in await deliveries(execute, healthy["endpointId"])} != {"succeeded"}:
            assert loop.time() - started < 5, await deliveries(execute, healthy["endpointId"])
            await asyncio.sleep(0.02)
    finally:
        await dispatcher.aclose()
    (head, *_) = sorted(await deliveries(execute, slow["endpointId"]), key=lambda item: int(item["eventCursor"]))
    assert head["status"] in ("pending", "retrying")


async def test_410_disables_the_endpoint(execute, receiver, dispatcher):
    created = await create(execute, receiver.url("/gone"))
    receiver.answer("/gone", 410)
    await submit(execute, "First.")
    await submit(execute, "Second.")
    await dispatcher.run_once()
    gone = await endpoint(execute, created["endpointId"])
    assert (gone["status"], gone["consecutiveFailures"]) == ("disabled", 1)
    await submit(execute, "Third.")
    await dispatcher.run_once()
    assert len(receiver.received("/gone")) == 1
    items = await deliveries(execute, created["endpointId"])
    assert sorted(item["status"] for item in items) == ["failed", "pending"]  # the third is never queued
    assert any(item["lastStatusCode"] == 410 for item in items)


async def test_rotation_signs_with_both_secrets_for_24_hours_then_only_the_new(execute, receiver, dispatcher, clock):
    created = await create(execute, receiver.url("/rotating"))
    rotated = (
        await execute(ROTATE_WEBHOOK_SECRET, {"input": {"endpointId": created["endpointId"], "rotatedBy": "dana"}})
    )["rotateWebhookSecret"]
    assert rotated["secret"] != created["secret"]
    valid_until = datetime.fromisoformat(rotated["previousSecretValidUntil"])
    assert timedelta(hours=23, minutes=59) < valid_until - datetime.now(UTC) <= timedelta(hours=24)
    await submit(execute, "During the rotation.")
    await dispatcher.run_once()
    (during,) = receiver.received()
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    verified(created["secret"], during)  # a receiver that still holds the old secret
    verified(rotated["secret"], during)  # and one that has the new one

    clock.now = valid_until + timedelta(seconds=1)
    await submit(execute, "After the rotation.")
    await dispatcher.run_once()
    after = receiver.received()[1]
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    assert signed_by(rotated["secret"], after)
    assert not signed_by(created["secret"], after)


async def test_redeliver_sends_a_delivery_again_with_the_same_webhook_id(
    execute, database, receiver, dispatcher, clock
):
    created = await create(execute, receiver.url("/again"))
    await submit(execute)
    await dispatcher.run_once()
    (delivery,) = await deliveries(execute, created["endpointId"])
    values = {"deliveryId": delivery["deliveryId"], "requestedBy": "dana"}
    queued = (await execute(REDELIVER_WEBHOOK, {"input": values}))["redeliverWebhook"]
    assert (queued["deliveryId"], queued["status"]) == (delivery["deliveryId"], "pending")
    error = await failing(execute, database, REDELIVER_WEBHOOK, {"input": values})  # already queued
    assert (error["extensions"]["code"], error["extensions"]["currentStatus"]) == ("CONFLICT", "pending")
    clock.now = datetime.now(UTC) + timedelta(seconds=1)  # queued again at the real time: due on the next pass
    await dispatcher.run_once()
    first, second = receiver.received("/again")
    assert first.webhook_id == second.webhook_id == delivery["deliveryId"]
    assert first.body == second.body
    error = await failing(
        execute, database, REDELIVER_WEBHOOK, {"input": {**values, "requestedBy": "erin"}}
    )  # in another person's name
    assert error["extensions"]["code"] == "FORBIDDEN"
    await execute(DISABLE_WEBHOOK, {"input": {"endpointId": created["endpointId"], "disabledBy": "dana"}})
    error = await failing(execute, database, REDELIVER_WEBHOOK, {"input": values})
    assert (error["extensions"]["code"], error["extensions"]["currentStatus"]) == ("CONFLICT", "endpoint_disabled")


async def test_two_dispatchers_never_send_one_attempt_twice(execute, receiver, settings, database, clock):
    """Two dispatchers on two engines (as two processes would have) race over the same deliveries: every
    event reaches the endpoint exactly once (one queued delivery, one attempt)."""
    created = await create(execute, receiver.url("/race"))
    for index in range(30):
        await submit(execute, f"Intent {index}.")
    other = Database(settings)
    first = Dispatcher(database.unit_of_work, targets=LOCAL, clock=clock)
    second = Dispatcher(other.unit_of_work, targets=LOCAL, clock=clock)
    try:
        for _ in range(3):
            await asyncio.gather(first.run_once(), second.run_once())
    finally:
        await first.aclose()
        await second.aclose()
        await other.dispose()
    requests = receiver.received("/race")
    assert len(requests) == 30
    assert len({request.webhook_id for request in requests}) == 30
    rows = await fetch(database, select(webhook_delivery_table.c.attempts, webhook_delivery_table.c.status))
    assert {(row["attempts"], row["status"]) for row in rows} == {(1, "succeeded")}
    assert len(rows) == 30
    assert created
