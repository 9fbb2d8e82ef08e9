"""Racing deciders against real uvicorn processes: twenty admins decide the same step at the same
moment over HTTP (and forty across two separate server processes sharing one database). Exactly
one wins; the others get CONFLICT; the database holds exactly one decision and one set of events,
and the event sequence stays gap-free. Runs on the database of `--db`.

Only outcomes are asserted, never timings: the machine may be slow and noisy.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest

from app.testing.documents import APPROVE, REJECT
from tests.e2e.conftest import E2EDatabase, Serve, ServerProcess

pytestmark = pytest.mark.e2e

RACERS = 20
HTTP_TIMEOUT = 120.0

BLOCKED = "controlPlane.execution.step.blocked"
FAILED = "controlPlane.execution.failed"
APPROVED = "controlPlane.execution.step.approved"
RECORDED = "controlPlane.execution.step.approvalRecorded"
"""The winning vote, recorded before the approval it completes (a one-approval rule: the first vote)."""
DECIDED = {"reject": "rejected", "approve": "approved"}  # the step status each action leads to


@dataclass(frozen=True)
class Decider:
    sub: str
    action: str  # "reject" or "approve"

    @property
    def decided(self) -> str:
        return DECIDED[self.action]

    @property
    def note(self) -> str:
        return f"{self.decided.capitalize()} by {self.sub} in the race."


@dataclass(frozen=True)
class Outcome:
    decider: Decider
    port: int  # the server process that answered
    status_code: int
    body: dict[str, Any]

    @property
    def succeeded(self) -> bool:
        return not self.body.get("errors") and bool(self.body.get("data"))

    @property
    def error(self) -> dict[str, Any]:
        errors = self.body.get("errors") or []
        assert len(errors) == 1, self.body
        error: dict[str, Any] = errors[0]
        return error


def mint(server: ServerProcess, sub: str) -> str:
    """An admin token signed with the development secret the server created under var/."""
    secret = (server.var_dir / "jwt-secret").read_text().strip()
    now = int(time.time())
    claims = {"sub": sub, "roles": ["admin"], "workspaces": ["*"], "iat": now, "exp": now + 3600}
    return jwt.encode(claims, secret, algorithm="HS256")


def payload(decider: Decider, execution_id: str, step_id: str) -> dict[str, Any]:
    if decider.action == "reject":
        document, fields = REJECT, {"rejectedBy": decider.sub, "reason": decider.note}
    else:
        document, fields = APPROVE, {"approvedBy": decider.sub, "note": decider.note}
    return {"query": document, "variables": {"input": {"executionId": execution_id, "stepId": step_id, **fields}}}


async def race(
    servers: Sequence[ServerProcess], deciders: list[Decider], execution_id: str, step_id: str
) -> list[Outcome]:
    """One client (own connection, own token) per decider, the deciders dealt round-robin to
    `servers`; each opens its connection first, then all wait at one gate and send their mutation
    together."""
    gate = asyncio.Event()
    ready = 0
    all_ready = asyncio.Event()

    async def decide(decider: Decider, server: ServerProcess) -> Outcome:
        nonlocal ready
        headers = {"Authorization": f"Bearer {mint(server, decider.sub)}"}
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(
            base_url=server.base_url, headers=headers, timeout=HTTP_TIMEOUT, limits=limits
        ) as client:
            warm = await client.get("/healthz")  # the connection is open before the gate opens
            assert warm.status_code == 200
            ready += 1
            if ready == len(deciders):
                all_ready.set()
            await gate.wait()
            response = await client.post("/graphql", json=payload(decider, execution_id, step_id))
            return Outcome(decider, server.port, response.status_code, response.json())

    tasks = [
        asyncio.ensure_future(decide(decider, servers[index % len(servers)])) for index, decider in enumerate(deciders)
    ]
    try:
        await asyncio.wait_for(all_ready.wait(), timeout=HTTP_TIMEOUT)
    finally:
        gate.set()
    return list(await asyncio.gather(*tasks))


def assert_one_winner(outcomes: list[Outcome], expected_status: str) -> Outcome:
    winners = [outcome for outcome in outcomes if outcome.succeeded]
    losers = [outcome for outcome in outcomes if not outcome.succeeded]
    summary = [(o.decider.sub, o.port, o.status_code, o.body) for o in outcomes]
    assert len(winners) == 1, summary
    assert len(losers) == len(outcomes) - 1, summary
    for loser in losers:
        error = loser.error
        assert error["extensions"]["code"] == "CONFLICT", loser.body
        assert error["extensions"]["currentStatus"] == expected_status, loser.body
        assert loser.body.get("data") is None, loser.body
    return winners[0]


def assert_event_sequence_gap_free(database: E2EDatabase) -> None:
    """Every execution's stream versions are 1..n in position order (positions are unique: the primary key);
    on SQLite, positions are 1..N without a hole."""
    rows = database.query("SELECT sequence, execution_id, stream_version FROM execution_event ORDER BY sequence")
    streams: dict[str, list[int]] = {}
    for _, execution, version in rows:
        if execution is not None:
            streams.setdefault(str(execution), []).append(int(str(version)))
    assert all(versions == list(range(1, len(versions) + 1)) for versions in streams.values()), streams
    if database.is_sqlite:
        assert [row[0] for row in rows] == list(range(1, len(rows) + 1))


def deciders(action: str, count: int = RACERS) -> list[Decider]:
    return [Decider(sub=f"admin-{action}-{index:02d}", action=action) for index in range(count)]


def event_count(database: E2EDatabase) -> int:
    return database.count("SELECT count(*) FROM execution_event")


def last_position(database: E2EDatabase) -> int:
    """The newest event's position: what a test reads after (positions are not counts on PostgreSQL)."""
    return database.count("SELECT coalesce(max(sequence), 0) FROM execution_event")


async def check_race(
    servers: Sequence[ServerProcess],
    action: str,
    execution_id: str,
    step_id: str,
    *,
    execution_status: str,
    event_keys: tuple[str, ...],
    skipped_step_id: str | None = None,
    racers: int = RACERS,
) -> list[Outcome]:
    """`racers` admins send `action` on one step at once (spread over `servers`, which share one
    database): one wins, the rest conflict, and the database holds exactly the winner's decision
    and events."""
    database = servers[0].database
    assert all(server.database == database for server in servers)
    after = last_position(database)

    outcomes = await race(servers, deciders(action, racers), execution_id, step_id)

    decided = DECIDED[action]
    winner = assert_one_winner(outcomes, decided)
    result = winner.body["data"][f"{action}ExecutionStep"]
    assert result == {**result, "executionId": execution_id, "stepId": step_id, "status": decided}

    decisions = database.query("SELECT decision, actor, note FROM approval_decision WHERE step_id = ?", (step_id,))
    assert decisions == [(decided, winner.decider.sub, winner.decider.note)]
    step = database.query("SELECT status, decided_by FROM execution_step WHERE id = ?", (step_id,))
    assert step == [(decided, winner.decider.sub)]
    execution = database.query("SELECT status FROM execution WHERE id = ?", (execution_id,))
    assert execution == [(execution_status,)]
    if skipped_step_id is not None:
        later = database.query("SELECT status FROM execution_step WHERE id = ?", (skipped_step_id,))
        assert later == [("skipped",)]

    events = database.query(
        "SELECT event_key, actor FROM execution_event WHERE sequence > ? ORDER BY sequence", (after,)
    )
    assert events == [(key, winner.decider.sub) for key in event_keys]
    for key in event_keys:
        count = database.query(
            "SELECT count(*) FROM execution_event WHERE event_key = ? AND step_id = ?", (key, step_id)
        )
        assert count == [(1,)], (key, count)
    assert_event_sequence_gap_free(database)
    return outcomes


async def check_reject_race(
    servers: Sequence[ServerProcess], execution_id: str, step_id: str, later_step_id: str, *, racers: int = RACERS
) -> list[Outcome]:
    return await check_race(
        servers,
        "reject",
        execution_id,
        step_id,
        execution_status="rejected",
        event_keys=(BLOCKED, FAILED),
        skipped_step_id=later_step_id,
        racers=racers,
    )


async def test_twenty_admins_reject_the_same_step(server: ServerProcess) -> None:
    await check_reject_race([server], "exec-acme-deploy-42", "step-acme-deploy-42-3", "step-acme-deploy-42-4")


async def test_reject_race_across_two_worker_processes(serve: Serve) -> None:
    """Two uvicorn workers of one server share the database: the conditional update still lets one through."""
    server = serve(WORKERS="2")
    await check_reject_race([server], "exec-globex-cleanup-3", "step-globex-cleanup-3-2", "step-globex-cleanup-3-3")


async def test_reject_race_across_two_separate_servers(serve: Serve) -> None:
    """Two independent `python -m app serve` processes on two ports share one database (as two
    replicas behind a load balancer would): forty admins, twenty on each, reject the same step at
    once. The first server migrates and seeds the empty database; the second finds it seeded and
    keeps it, and reads the same development secret from the shared var/."""
    first = serve()
    assert "database seeded" in first.output(), first.output()
    second = serve()
    assert "database kept" in second.output(), second.output()
    assert first.port != second.port
    assert first.process.pid != second.process.pid

    outcomes = await check_reject_race(
        [first, second],
        "exec-acme-deploy-42",
        "step-acme-deploy-42-3",
        "step-acme-deploy-42-4",
        racers=2 * RACERS,
    )

    answered = {server.port: 0 for server in (first, second)}
    for outcome in outcomes:
        assert outcome.status_code == 200, (outcome.port, outcome.status_code, outcome.body)
        answered[outcome.port] += 1
    assert answered == {first.port: RACERS, second.port: RACERS}, answered
    # Both processes are still up: each answered its own twenty requests, none was a survivor's.
    assert first.process.poll() is None
    assert second.process.poll() is None


async def test_one_admin_retrying_twenty_times_gets_one_decision(server: ServerProcess) -> None:
    """The same actor with the same reason, twenty times at once: a retried request is safe, so
    every request answers the original result and only one decision and one set of events exist."""
    execution_id, step_id = "exec-acme-refund-7", "step-acme-refund-7-2"
    database = server.database
    after = last_position(database)

    outcomes = await race([server], [Decider(sub="admin-retry", action="reject")] * RACERS, execution_id, step_id)

    assert all(outcome.succeeded for outcome in outcomes), [o.body for o in outcomes if not o.succeeded]
    results = [outcome.body["data"]["rejectExecutionStep"] for outcome in outcomes]
    assert {result["status"] for result in results} == {"rejected"}
    assert len({result["rejectedAt"] for result in results}) == 1, results
    decisions = database.query("SELECT actor FROM approval_decision WHERE step_id = ?", (step_id,))
    assert decisions == [("admin-retry",)]
    events = database.query("SELECT event_key FROM execution_event WHERE sequence > ? ORDER BY sequence", (after,))
    assert events == [(BLOCKED,), (FAILED,)]
    assert_event_sequence_gap_free(database)


async def test_twenty_admins_approve_the_same_step(server: ServerProcess) -> None:
    # The only step of this execution awaiting a decision: approving it resumes the execution.
    await check_race(
        [server],
        "approve",
        "exec-globex-cleanup-3",
        "step-globex-cleanup-3-2",
        execution_status="running",
        event_keys=(RECORDED, APPROVED),
    )


async def test_approvers_and_rejecters_race_on_the_same_step(server: ServerProcess) -> None:
    """Ten approve and ten reject at once: still one decision, whichever it is."""
    execution_id, step_id = "exec-initech-email-5", "step-initech-email-5-2"
    database = server.database
    after = last_position(database)
    mixed = [d for pair in zip(deciders("approve", 10), deciders("reject", 10), strict=True) for d in pair]

    outcomes = await race([server], mixed, execution_id, step_id)

    winners = [outcome for outcome in outcomes if outcome.succeeded]
    assert len(winners) == 1, [(o.decider.sub, o.body) for o in outcomes]
    winner = winners[0]
    decided = winner.decider.decided
    assert_one_winner(outcomes, decided)

    decisions = database.query("SELECT decision, actor FROM approval_decision WHERE step_id = ?", (step_id,))
    assert decisions == [(decided, winner.decider.sub)]
    events = database.query("SELECT event_key FROM execution_event WHERE sequence > ? ORDER BY sequence", (after,))
    expected = [(RECORDED,), (APPROVED,)] if decided == "approved" else [(BLOCKED,), (FAILED,)]
    assert events == expected
    execution = database.query("SELECT status FROM execution WHERE id = ?", (execution_id,))
    assert execution == [("running" if decided == "approved" else "rejected",)]
    assert_event_sequence_gap_free(database)
