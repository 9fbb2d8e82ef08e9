"""Subscriptions against real `python -m app serve` processes, with a real WebSocket client: gql's
websockets transport (as a Studio client would), and the `websockets` library itself where a test needs to
see close codes or to misbehave (a client that stops reading). On both databases; two server processes on
PostgreSQL (a decision on one reaches a subscriber of the other within a second)."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import websockets
from gql import Client, gql
from gql.transport.websockets import WebsocketsTransport
from websockets.typing import Subprotocol

from tests.e2e.conftest import ServerProcess, run_cli

pytestmark = pytest.mark.e2e

PROTOCOL = Subprotocol("graphql-transport-ws")
QUEUE = """subscription Queue($input: ControlPlaneApprovalStreamInput!) {
  approvalQueue(input: $input) { kind cursor item { executionId stepId approvalsGiven viewerCanDecide } }
}"""
EVENTS = """subscription Events($input: ControlPlaneEventStreamInput!) {
  events(input: $input) { cursor position key executionId }
}"""
EVENTS_PAGE = """query Page($input: ControlPlaneEventListInput!) {
  events(input: $input) { items { cursor position key executionId } endCursor hasMore }
}"""
PENDING = "{ pendingApprovals(input: {limit: 200}) { total items { executionId stepId viewerCanDecide } } }"
REJECT = """mutation Reject($input: ControlPlaneExecutionRejectInput!) {
  rejectExecutionStep(input: $input) { status }
}"""
SUBMIT = """mutation Submit($input: ControlPlaneIntentSubmitInput!) { submitIntent(input: $input) { executionId } }"""


def ws_url(server: ServerProcess) -> str:
    return f"ws://127.0.0.1:{server.port}/graphql"


def token(server: ServerProcess, sub: str = "admin", role: str = "admin", ttl: int = 3600) -> str:
    result = run_cli("token", "--sub", sub, "--role", role, "--workspace", "*", "--ttl", str(ttl), env=server.env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def graphql(server: ServerProcess, bearer: str, document: str, variables: dict[str, Any] | None = None) -> Any:
    response = httpx.post(
        server.graphql_url,
        json={"query": document, "variables": variables or {}},
        headers={"Authorization": f"Bearer {bearer}"},
        timeout=30,
    )
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


def decidable(server: ServerProcess, bearer: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = graphql(server, bearer, PENDING)["pendingApprovals"]["items"]
    return [item for item in items if item["viewerCanDecide"]]


def reject(server: ServerProcess, bearer: str, item: dict[str, Any], actor: str = "admin") -> None:
    variables = {
        "input": {"executionId": item["executionId"], "stepId": item["stepId"], "rejectedBy": actor, "reason": "no"}
    }
    assert graphql(server, bearer, REJECT, variables)["rejectExecutionStep"]["status"] == "rejected"


@asynccontextmanager
async def session(server: ServerProcess, bearer: str) -> AsyncIterator[Any]:
    transport = WebsocketsTransport(url=ws_url(server), init_payload={"Authorization": f"Bearer {bearer}"})
    async with Client(transport=transport) as client_session:
        yield client_session


async def close_of(
    server: ServerProcess, payload: dict[str, Any] | None, *after_ack: dict[str, Any], data: bool = False
) -> tuple[int, str]:
    """Connect, send connection_init (and, once acknowledged, `after_ack`), and return how the server closed;
    no data may come before the close unless `data`."""
    async with websockets.connect(ws_url(server), subprotocols=[PROTOCOL]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": payload or {}}))
        while True:
            try:
                message = json.loads(await asyncio.wait_for(ws.recv(), 15))
            except websockets.ConnectionClosed:
                break
            assert data or message["type"] != "next", f"data before the close: {message}"
            if message["type"] == "connection_ack":
                for item in after_ack:
                    await ws.send(json.dumps(item))
        assert ws.close_code is not None
        return ws.close_code, ws.close_reason or ""


async def closed_code(ws: Any, seconds: float = 30) -> int | None:
    """Read (and drop) messages until the server closes; its close code."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            await asyncio.wait_for(ws.recv(), seconds)
        except websockets.ConnectionClosed:
            code: int | None = ws.close_code
            return code
    return None


def request(document: str, variables: dict[str, Any]) -> Any:
    """A gql request with its variables (gql 4 keeps them on the request)."""
    prepared = gql(document)
    prepared.variable_values = variables
    return prepared


def subscribe_message(operation_id: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    return {"id": operation_id, "type": "subscribe", "payload": {"query": query, "variables": variables}}


QUEUE_TEXT = "subscription { approvalQueue(input: {}) { kind item { stepId } } }"


# --- the approval queue ---------------------------------------------------------------------------------


async def test_the_approval_queue_starts_with_a_snapshot_and_shows_a_decision(server):
    bearer = server.admin_token
    waiting = graphql(server, bearer, PENDING)["pendingApprovals"]
    target = decidable(server, bearer)[0]
    async with session(server, bearer) as client:
        seen: list[dict[str, Any]] = []

        async def follow() -> None:
            async for result in client.subscribe(request(QUEUE, {"input": {}})):
                seen.append(result["approvalQueue"])
                if result["approvalQueue"]["kind"] == "removed":
                    return

        task = asyncio.create_task(follow())
        for _ in range(100):
            if len(seen) >= waiting["total"]:
                break
            await asyncio.sleep(0.1)
        assert [change["kind"] for change in seen] == ["snapshot"] * waiting["total"]
        assert {c["item"]["stepId"] for c in seen} == {i["stepId"] for i in waiting["items"]}
        decided_at = time.monotonic()
        await asyncio.to_thread(reject, server, bearer, target)
        await asyncio.wait_for(task, 10)
        latency = time.monotonic() - decided_at
    assert seen[-1]["kind"] == "removed"
    assert seen[-1]["item"]["stepId"] == target["stepId"]
    assert int(seen[-1]["cursor"]) > int(seen[0]["cursor"])
    assert latency < 5, latency


QUEUE_NARROW = """subscription Narrow($input: ControlPlaneApprovalStreamInput!) {
  approvalQueue(input: $input) { kind item { stepId } }
}"""


async def test_subscribers_sharing_a_change_each_get_their_own_selection_and_view(server):
    """A change is executed and encoded once per view class and document (app/graphql/shared_events.py):
    subscribers with another selection, other variables or another caller still get exactly theirs."""
    admin = server.admin_token
    other = token(server, sub="other-operator")
    target = decidable(server, admin)[0]
    expected_other = {
        item["stepId"]: item["viewerCanDecide"] for item in graphql(server, other, PENDING)["pendingApprovals"]["items"]
    }
    cases: list[tuple[str, str, str, dict[str, Any]]] = [
        ("wide-admin", admin, QUEUE, {"input": {}}),
        ("wide-admin-2", admin, QUEUE, {"input": {}}),
        ("narrow-admin", admin, QUEUE_NARROW, {"input": {}}),
        ("wide-other", other, QUEUE, {"input": {}}),
        ("mine-admin", admin, QUEUE, {"input": {"decidableByMe": True}}),
    ]
    seen: dict[str, list[dict[str, Any]]] = {name: [] for name, *_ in cases}

    async def follow(name: str, bearer: str, document: str, variables: dict[str, Any]) -> None:
        async with session(server, bearer) as client:
            async for result in client.subscribe(request(document, variables)):
                seen[name].append(result["approvalQueue"])
                if result["approvalQueue"]["kind"] == "removed":
                    return

    tasks = [asyncio.create_task(follow(*case)) for case in cases]
    for _ in range(200):
        if all(seen.values()) and all(len(v) >= len(seen["mine-admin"]) for v in seen.values()):
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)
    await asyncio.to_thread(reject, server, admin, target)
    await asyncio.wait_for(asyncio.gather(*tasks), 15)

    for name, changes in seen.items():
        removed = changes[-1]
        assert removed["kind"] == "removed", (name, removed)
        assert removed["item"]["stepId"] == target["stepId"], name
        assert all(change["kind"] == "snapshot" for change in changes[:-1]), name
    assert seen["wide-admin"] == seen["wide-admin-2"]
    assert set(seen["narrow-admin"][-1]) == {"kind", "item"}
    assert set(seen["narrow-admin"][-1]["item"]) == {"stepId"}
    assert set(seen["wide-admin"][-1]) == {"kind", "cursor", "item"}
    # Each caller's own viewerCanDecide, as pendingApprovals tells that caller.
    for change in seen["wide-other"]:
        assert change["item"]["viewerCanDecide"] == expected_other[change["item"]["stepId"]], change
    assert all(change["item"]["viewerCanDecide"] for change in seen["mine-admin"][:-1])


async def test_decidable_by_me_drops_a_step_when_its_viewer_votes_and_filters_by_tier(server):
    bearer = server.admin_token
    target = decidable(server, bearer)[0]
    async with session(server, bearer) as client:
        changes: list[dict[str, Any]] = []

        async def follow() -> None:
            async for result in client.subscribe(request(QUEUE, {"input": {"decidableByMe": True}})):
                changes.append(result["approvalQueue"])
                if result["approvalQueue"]["kind"] == "removed":
                    return

        task = asyncio.create_task(follow())
        await asyncio.sleep(1.5)
        snapshot = [c for c in changes if c["kind"] == "snapshot"]
        assert snapshot, "a decidable step is in the snapshot"
        assert all(c["item"]["viewerCanDecide"] for c in snapshot)
        await asyncio.to_thread(reject, server, bearer, target)
        await asyncio.wait_for(task, 10)
    assert changes[-1]["item"]["stepId"] == target["stepId"]


# --- the events subscription ----------------------------------------------------------------------------


def committed_log(server: ServerProcess, bearer: str, after: str) -> list[dict[str, Any]]:
    """The log after `after`, paged with the `events` query (what is committed)."""
    found: list[dict[str, Any]] = []
    cursor: str | None = after
    while True:
        page = graphql(server, bearer, EVENTS_PAGE, {"input": {"after": cursor, "limit": 500}})["events"]
        found.extend(page["items"])
        cursor = page["endCursor"]
        if not page["hasMore"]:
            return found


async def test_events_replay_then_live_without_gap_or_duplicate_while_writers_append(server):
    bearer = server.admin_token
    start = committed_log(server, bearer, "0")
    resume_from = start[len(start) // 2]["cursor"]
    writes = 40

    async def writer(name: str) -> None:
        async with httpx.AsyncClient(timeout=30) as http:
            for index in range(writes):
                response = await http.post(
                    server.graphql_url,
                    headers={"Authorization": f"Bearer {bearer}"},
                    json={
                        "query": SUBMIT,
                        "variables": {"input": {"workspaceId": "ws-acme", "text": f"Report {name} {index}"}},
                    },
                )
                assert "errors" not in response.json(), response.text

    writers = [asyncio.create_task(writer(name)) for name in ("a", "b")]
    received: list[dict[str, Any]] = []
    async with session(server, bearer) as client:

        async def follow() -> None:
            async for result in client.subscribe(request(EVENTS, {"input": {"after": resume_from}})):
                received.append(result["events"])  # noqa: PERF401 - seen as they arrive, not when the stream ends

        task = asyncio.create_task(follow())
        await asyncio.sleep(0.3)  # the subscription starts while the writers write
        await asyncio.gather(*writers)
        expected = await asyncio.to_thread(committed_log, server, bearer, resume_from)
        for _ in range(100):  # at most 10 s for the last ones to arrive
            if len(received) >= len(expected):
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)  # anything extra (a duplicate) would arrive now
        task.cancel()
    assert len(expected) >= 2 * writes
    assert [e["position"] for e in received] == [e["position"] for e in expected]
    assert received == expected


async def test_events_without_a_cursor_show_only_what_commits_from_now_on(server):
    bearer = server.admin_token
    head = committed_log(server, bearer, "0")[-1]["position"]
    async with session(server, bearer) as client:
        received: list[dict[str, Any]] = []

        async def follow() -> None:
            async for result in client.subscribe(
                request(EVENTS, {"input": {"eventKeys": ["controlPlane.execution.failed"]}})
            ):
                received.append(result["events"])
                return

        task = asyncio.create_task(follow())
        await asyncio.sleep(1.0)
        await asyncio.to_thread(reject, server, bearer, decidable(server, bearer)[0])
        await asyncio.wait_for(task, 10)
    assert received[0]["key"] == "controlPlane.execution.failed"
    assert int(received[0]["position"]) > int(head)


# --- authentication, expiry and limits ------------------------------------------------------------------


async def test_a_missing_or_bad_token_closes_4401_and_a_low_role_4403_before_any_data(server):
    assert (await close_of(server, None, subscribe_message("1", QUEUE_TEXT, {})))[0] == 4401
    assert (await close_of(server, {"Authorization": "Bearer not-a-jwt"}))[0] == 4401
    assert (await close_of(server, {"Authorization": "Basic abc"}))[0] == 4401
    user = await asyncio.to_thread(token, server, "uma", "user")
    code, reason = await close_of(server, {"Authorization": f"Bearer {user}"})
    assert code == 4403, reason
    # subscribing before connection_init is answered 4401 too (the protocol's rule)
    async with websockets.connect(ws_url(server), subprotocols=[PROTOCOL]) as ws:
        await ws.send(json.dumps(subscribe_message("1", QUEUE_TEXT, {})))
        assert await closed_code(ws, 15) == 4401


async def test_the_server_closes_4401_when_the_token_expires(server):
    short = await asyncio.to_thread(token, server, "admin", "admin", 3)
    started = time.monotonic()
    code, reason = await close_of(
        server, {"Authorization": f"Bearer {short}"}, subscribe_message("1", QUEUE_TEXT, {}), data=True
    )
    assert code == 4401, reason
    assert "expired" in reason
    assert 1 <= time.monotonic() - started < 10


async def test_bad_input_is_an_error_message_not_a_close(server):
    async with websockets.connect(ws_url(server), subprotocols=[PROTOCOL]) as ws:
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {server.admin_token}"}})
        )
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        query = 'subscription { events(input: {after: "not a cursor"}) { cursor } }'
        await ws.send(json.dumps(subscribe_message("1", query, {})))
        message = json.loads(await asyncio.wait_for(ws.recv(), 15))
    assert message["type"] == "error", message
    assert message["payload"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_limits_per_connection_per_principal_and_message_size(serve):
    server = serve(
        WS_MAX_SUBSCRIPTIONS_PER_CONNECTION="1", WS_MAX_CONNECTIONS_PER_PRINCIPAL="1", WS_MAX_MESSAGE_BYTES="4096"
    )
    credentials = {"Authorization": f"Bearer {server.admin_token}"}
    init = {"type": "connection_init", "payload": credentials}
    async with websockets.connect(ws_url(server), subprotocols=[PROTOCOL]) as ws:
        await ws.send(json.dumps(init))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(json.dumps(subscribe_message("1", QUEUE_TEXT, {})))
        await ws.send(json.dumps(subscribe_message("2", QUEUE_TEXT, {})))
        errors: list[dict[str, Any]] = []
        deadline = time.monotonic() + 10
        while not errors and time.monotonic() < deadline:
            message = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if message["type"] == "error":
                errors.append(message)
        assert errors[0]["id"] == "2"
        assert "limit" in errors[0]["payload"][0]["message"].lower()
        # a second socket of the same principal
        code, reason = await close_of(server, credentials)
        assert code == 4429, reason
        # a message over the size limit
        await ws.send(json.dumps({"type": "ping", "payload": {"pad": "x" * 10_000}}))
        assert await closed_code(ws) == 1009


async def test_a_slow_consumer_is_dropped_with_4008(serve):
    server = serve(WS_SEND_TIMEOUT_SECONDS="1", GRAPHQL_MAX_ALIASES="40")
    bearer = server.admin_token

    def writes() -> None:  # enough events that the socket's buffers fill up
        with httpx.Client(timeout=30) as http:
            for index in range(300):
                http.post(
                    server.graphql_url,
                    headers={"Authorization": f"Bearer {bearer}"},
                    json={
                        "query": SUBMIT,
                        "variables": {
                            "input": {"workspaceId": "ws-acme", "text": f"Report number {index} " + "x" * 1500}
                        },
                    },
                )

    await asyncio.to_thread(writes)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.port))
    ws = await websockets.connect(ws_url(server), sock=sock, subprotocols=[PROTOCOL], max_queue=1, max_size=None)
    try:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {bearer}"}}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        # Each event's payload thirty times (aliases), twenty replays of the whole log: far more than the
        # kernel's socket buffers hold (loopback takes a few megabytes before a send has to wait).
        copies = " ".join(f"p{index}: payload" for index in range(30))
        query = f'subscription {{ events(input: {{after: "0"}}) {{ cursor position key {copies} }} }}'
        for operation in range(20):
            await ws.send(json.dumps(subscribe_message(str(operation), query, {})))
        await asyncio.sleep(4)  # read nothing: the socket's buffers fill up and a send waits over a second
        assert await closed_code(ws) == 4008
    finally:
        await ws.close()
    assert "dropping a slow WebSocket consumer" in server.output()


# --- two server processes on PostgreSQL -----------------------------------------------------------------


async def test_a_decision_on_one_process_reaches_a_subscriber_of_another_within_a_second(serve, postgresql_only):
    first = serve()
    second = serve(APPROVAL_SWEEPER_ENABLED="0")
    bearer = first.admin_token or token(first)
    target = decidable(first, bearer)[0]
    async with session(second, bearer) as client:
        changes: list[dict[str, Any]] = []
        arrived = asyncio.Event()

        async def follow() -> None:
            async for result in client.subscribe(request(QUEUE, {"input": {}})):
                changes.append(result["approvalQueue"])
                if result["approvalQueue"]["kind"] == "removed":
                    arrived.set()
                    return

        task = asyncio.create_task(follow())
        await asyncio.sleep(1.5)
        async with httpx.AsyncClient(timeout=30) as http:
            variables = {
                "input": {
                    "executionId": target["executionId"],
                    "stepId": target["stepId"],
                    "rejectedBy": "admin",
                    "reason": "no",
                }
            }
            response = await http.post(
                first.graphql_url,
                headers={"Authorization": f"Bearer {bearer}"},
                json={"query": REJECT, "variables": variables},
            )
            committed = time.monotonic()
            assert "errors" not in response.json(), response.text
        await asyncio.wait_for(arrived.wait(), 5)
        latency = time.monotonic() - committed
        await task
    assert changes[-1]["item"]["stepId"] == target["stepId"]
    assert latency < 1.0, f"{latency:.3f} s from the commit on one process to the subscriber on the other"
