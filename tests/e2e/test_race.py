"""Racing deciders against a real uvicorn process: twenty admins decide the same step at the same
moment over HTTP. Exactly one wins; the others get CONFLICT; the database holds exactly one
decision and one set of events, and the event sequence stays gap-free.

Only outcomes are asserted, never timings: the machine may be slow and noisy.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest

from tests.e2e.conftest import ServerProcess, query_db
from tests.integration.helpers import APPROVE, REJECT

pytestmark = pytest.mark.e2e

RACERS = 20
HTTP_TIMEOUT = 120.0

BLOCKED = "controlPlane.execution.step.blocked"
FAILED = "controlPlane.execution.failed"
APPROVED = "controlPlane.execution.step.approved"
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
    return jwt.encode({"sub": sub, "roles": ["admin"], "iat": now, "exp": now + 3600}, secret, algorithm="HS256")


def payload(decider: Decider, execution_id: str, step_id: str) -> dict[str, Any]:
    if decider.action == "reject":
        document, fields = REJECT, {"rejectedBy": decider.sub, "reason": decider.note}
    else:
        document, fields = APPROVE, {"approvedBy": decider.sub, "note": decider.note}
    return {"query": document, "variables": {"input": {"executionId": execution_id, "stepId": step_id, **fields}}}


async def race(server: ServerProcess, deciders: list[Decider], execution_id: str, step_id: str) -> list[Outcome]:
    """One client (own connection, own token) per decider; each opens its connection first, then
    all wait at one gate and send their mutation together."""
    gate = asyncio.Event()
    ready = 0
    all_ready = asyncio.Event()

    async def decide(decider: Decider) -> Outcome:
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
            return Outcome(decider, response.status_code, response.json())

    tasks = [asyncio.ensure_future(decide(decider)) for decider in deciders]
    try:
        await asyncio.wait_for(all_ready.wait(), timeout=HTTP_TIMEOUT)
    finally:
        gate.set()
    return list(await asyncio.gather(*tasks))


def assert_one_winner(outcomes: list[Outcome], expected_status: str) -> Outcome:
    winners = [outcome for outcome in outcomes if outcome.succeeded]
    losers = [outcome for outcome in outcomes if not outcome.succeeded]
    summary = [(o.decider.sub, o.status_code, o.body) for o in outcomes]
    assert len(winners) == 1, summary
    assert len(losers) == len(outcomes) - 1, summary
    for loser in losers:
        error = loser.error
        assert error["extensions"]["code"] == "CONFLICT", loser.body
        assert error["extensions"]["currentStatus"] == expected_status, loser.body
        assert loser.body.get("data") is None, loser.body
    return winners[0]


def assert_event_sequence_gap_free(server: ServerProcess) -> None:
    sequences = [row[0] for row in query_db(server.db_path, "SELECT sequence FROM execution_event ORDER BY sequence")]
    assert sequences == list(range(1, len(sequences) + 1)), sequences
    counters = [row[0] for row in query_db(server.db_path, "SELECT value FROM event_counter")]
    assert len(sequences) in counters, (len(sequences), counters)


def deciders(action: str, count: int = RACERS) -> list[Decider]:
    return [Decider(sub=f"admin-{action}-{index:02d}", action=action) for index in range(count)]


def event_count(server: ServerProcess) -> int:
    count: int = query_db(server.db_path, "SELECT count(*) FROM execution_event")[0][0]
    return count


async def check_race(
    server: ServerProcess,
    action: str,
    execution_id: str,
    step_id: str,
    *,
    execution_status: str,
    event_keys: tuple[str, ...],
    skipped_step_id: str | None = None,
) -> None:
    """RACERS admins send `action` on one step at once: one wins, the rest conflict, and the
    database holds exactly the winner's decision and events."""
    events_before = event_count(server)

    outcomes = await race(server, deciders(action), execution_id, step_id)

    decided = DECIDED[action]
    winner = assert_one_winner(outcomes, decided)
    result = winner.body["data"][f"{action}ExecutionStep"]
    assert result == {**result, "executionId": execution_id, "stepId": step_id, "status": decided}

    decisions = query_db(
        server.db_path, "SELECT decision, actor, note FROM approval_decision WHERE step_id = ?", (step_id,)
    )
    assert decisions == [(decided, winner.decider.sub, winner.decider.note)]
    step = query_db(server.db_path, "SELECT status, decided_by FROM execution_step WHERE id = ?", (step_id,))
    assert step == [(decided, winner.decider.sub)]
    execution = query_db(server.db_path, "SELECT status FROM execution WHERE id = ?", (execution_id,))
    assert execution == [(execution_status,)]
    if skipped_step_id is not None:
        later = query_db(server.db_path, "SELECT status FROM execution_step WHERE id = ?", (skipped_step_id,))
        assert later == [("skipped",)]

    events = query_db(
        server.db_path,
        "SELECT event_key, actor FROM execution_event WHERE sequence > ? ORDER BY sequence",
        (events_before,),
    )
    assert events == [(key, winner.decider.sub) for key in event_keys]
    for key in event_keys:
        count = query_db(
            server.db_path, "SELECT count(*) FROM execution_event WHERE event_key = ? AND step_id = ?", (key, step_id)
        )
        assert count == [(1,)], (key, count)
    assert_event_sequence_gap_free(server)


async def check_reject_race(server: ServerProcess, execution_id: str, step_id: str, later_step_id: str) -> None:
    await check_race(
        server,
        "reject",
        execution_id,
        step_id,
        execution_status="rejected",
        event_keys=(BLOCKED, FAILED),
        skipped_step_id=later_step_id,
    )


async def test_twenty_admins_reject_the_same_step(server: ServerProcess) -> None:
    await check_reject_race(server, "exec-acme-deploy-42", "step-acme-deploy-42-3", "step-acme-deploy-42-4")


async def test_reject_race_across_two_worker_processes(serve: Callable[..., ServerProcess]) -> None:
    """Two uvicorn workers share the SQLite file: the conditional update still lets one through."""
    server = serve(WORKERS="2")
    await check_reject_race(server, "exec-globex-cleanup-3", "step-globex-cleanup-3-2", "step-globex-cleanup-3-3")


async def test_one_admin_retrying_twenty_times_gets_one_decision(server: ServerProcess) -> None:
    """The same actor with the same reason, twenty times at once: a retried request is safe, so
    every request answers the original result and only one decision and one set of events exist."""
    execution_id, step_id = "exec-acme-refund-7", "step-acme-refund-7-2"
    events_before = event_count(server)

    outcomes = await race(server, [Decider(sub="admin-retry", action="reject")] * RACERS, execution_id, step_id)

    assert all(outcome.succeeded for outcome in outcomes), [o.body for o in outcomes if not o.succeeded]
    results = [outcome.body["data"]["rejectExecutionStep"] for outcome in outcomes]
    assert {result["status"] for result in results} == {"rejected"}
    assert len({result["rejectedAt"] for result in results}) == 1, results
    decisions = query_db(server.db_path, "SELECT actor FROM approval_decision WHERE step_id = ?", (step_id,))
    assert decisions == [("admin-retry",)]
    events = query_db(
        server.db_path, "SELECT event_key FROM execution_event WHERE sequence > ? ORDER BY sequence", (events_before,)
    )
    assert events == [(BLOCKED,), (FAILED,)]
    assert_event_sequence_gap_free(server)


async def test_twenty_admins_approve_the_same_step(server: ServerProcess) -> None:
    # The only step of this execution awaiting a decision: approving it resumes the execution.
    await check_race(
        server,
        "approve",
        "exec-globex-cleanup-3",
        "step-globex-cleanup-3-2",
        execution_status="running",
        event_keys=(APPROVED,),
    )


async def test_approvers_and_rejecters_race_on_the_same_step(server: ServerProcess) -> None:
    """Ten approve and ten reject at once: still one decision, whichever it is."""
    execution_id, step_id = "exec-initech-email-5", "step-initech-email-5-2"
    events_before = event_count(server)
    mixed = [d for pair in zip(deciders("approve", 10), deciders("reject", 10), strict=True) for d in pair]

    outcomes = await race(server, mixed, execution_id, step_id)

    winners = [outcome for outcome in outcomes if outcome.succeeded]
    assert len(winners) == 1, [(o.decider.sub, o.body) for o in outcomes]
    winner = winners[0]
    decided = winner.decider.decided
    assert_one_winner(outcomes, decided)

    decisions = query_db(server.db_path, "SELECT decision, actor FROM approval_decision WHERE step_id = ?", (step_id,))
    assert decisions == [(decided, winner.decider.sub)]
    events = query_db(
        server.db_path, "SELECT event_key FROM execution_event WHERE sequence > ? ORDER BY sequence", (events_before,)
    )
    expected = [(APPROVED,)] if decided == "approved" else [(BLOCKED,), (FAILED,)]
    assert events == expected
    execution = query_db(server.db_path, "SELECT status FROM execution WHERE id = ?", (execution_id,))
    assert execution == [("running" if decided == "approved" else "rejected",)]
    assert_event_sequence_gap_free(server)
