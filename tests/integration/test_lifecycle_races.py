"""Two callers acting on one execution at the same moment: one after the other, never a deadlock,
never a 500, and the database consistent afterwards (on SQLite and PostgreSQL alike)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from gql.transport.exceptions import TransportQueryError
from sqlalchemy import func, select

from app.db.tables import event_table
from app.services.audit.invariants import check
from app.testing.documents import ABORT, CANCEL, PAUSE, STEP_COMPLETED, STEP_STARTED
from tests.integration.lifecycle import Lifecycle

ROUNDS = 6


@pytest.fixture
def life(execute, token) -> Lifecycle:
    return Lifecycle(execute=execute, admin=token("dana"), runner=token("rita", "runner"), approver=token("erin"))


async def outcome(call: Any) -> str:
    """ "ok", or the error code; anything but CONFLICT would be a failure of the race."""
    try:
        await call
    except TransportQueryError as error:
        return str((error.errors or [{}])[0].get("extensions", {}).get("code"))
    return "ok"


async def consistent(database) -> None:
    async with database.unit_of_work(write=False) as session:
        assert [str(problem) for problem in await check(session)] == []


async def awaiting(life: Lifecycle) -> Lifecycle:
    """A fresh execution whose step 2 awaits approval."""
    fresh = Lifecycle(execute=life.execute, admin=life.admin, runner=life.runner, approver=life.approver)
    await fresh.started()
    await fresh.run_step(1)
    return fresh


@pytest.mark.parametrize("rival", ["cancel", "abort", "pause"])
@pytest.mark.parametrize("decision", ["approve", "reject"])
async def test_a_decision_and_a_run_command_at_once(life, database, decision, rival):
    for _ in range(ROUNDS):
        run = await awaiting(life)
        # Decided by the approver (erin): dana asked for the work and may not approve her own request.
        decide = run.approve(2) if decision == "approve" else run.reject(2, reason="No.")
        if rival == "cancel":
            other = run.call(CANCEL, {"executionId": run.execution_id, "cancelledBy": "dana"})
        else:
            document, field = (ABORT, "abortedBy") if rival == "abort" else (PAUSE, "pausedBy")
            other = run.call(document, {"runId": run.run_id, field: "dana"})
        results = await asyncio.gather(outcome(decide), outcome(other))
        assert set(results) <= {"ok", "CONFLICT"}, results
        assert "ok" in results
        status = await run.status()
        if rival == "pause" and list(results) == ["ok", "ok"]:
            assert status in ("paused", "rejected")
    await consistent(database)


async def test_two_runners_complete_the_same_step_once(life, database):
    for _ in range(ROUNDS):
        run = Lifecycle(execute=life.execute, admin=life.admin, runner=life.runner, approver=life.approver)
        await run.started()
        await run.report(STEP_STARTED, 1)
        first, second = await asyncio.gather(
            run.report(STEP_COMPLETED, 1, output={"n": 1}), run.report(STEP_COMPLETED, 1, output={"n": 1})
        )
        assert first == second
        assert first["executionStatus"] == "awaiting_approval"
    async with database.unit_of_work(write=False) as session:
        completed = (
            await session.execute(
                select(event_table.c.step_id, func.count())
                .where(event_table.c.event_key == "controlPlane.execution.step.completed")
                .group_by(event_table.c.step_id)
                .having(func.count() > 1)
            )
        ).all()
    assert completed == []
    await consistent(database)


async def test_a_pause_and_a_step_start_at_once(life, database):
    for _ in range(ROUNDS):
        run = Lifecycle(execute=life.execute, admin=life.admin, runner=life.runner, approver=life.approver)
        await run.started()
        results = await asyncio.gather(
            outcome(run.report(STEP_STARTED, 1)), outcome(run.call(PAUSE, {"runId": run.run_id, "pausedBy": "dana"}))
        )
        assert set(results) <= {"ok", "CONFLICT"}, results
        assert results[1] == "ok"  # a pause is allowed before and after the step starts
        assert await run.status() == "paused"
    await consistent(database)
