"""The invariant checker behind `python -m app check`: silent on a healthy database, precise on a broken one."""

from sqlalchemy import delete, func, select, update

from app.db.tables import (
    bundle_table,
    decision_table,
    event_table,
    execution_table,
    plan_table,
    step_table,
)
from app.services.audit.invariants import check
from app.testing.documents import APPROVE, REJECT


async def problems(database) -> list[str]:
    async with database.unit_of_work(write=False) as session:
        return [problem.rule for problem in await check(session)]


async def corrupt(database, statement) -> None:
    async with database.engine.begin() as conn:
        await conn.execute(statement)


async def test_seeded_and_decided_database_is_consistent(execute, database):
    ids = {"executionId": "exec-globex-migrate-9", "stepId": "step-globex-migrate-9-2"}
    await execute(APPROVE, {"input": {**ids, "approvedBy": "dana"}})
    ids = {"executionId": "exec-acme-deploy-42", "stepId": "step-acme-deploy-42-3"}
    await execute(REJECT, {"input": {**ids, "rejectedBy": "dana", "reason": "No."}})
    assert await problems(database) == []


async def test_a_missing_decision_row_is_found(database):
    await corrupt(database, delete(decision_table).where(decision_table.c.step_id == "step-initech-payout-2-2"))
    assert "decision-matches-step" in await problems(database)


async def test_a_rejection_without_its_events_is_found(database):
    await corrupt(database, delete(event_table).where(event_table.c.event_key == "controlPlane.execution.failed"))
    found = await problems(database)
    assert "rejection-events" in found
    assert "stream-version" in found  # a deleted event leaves a hole in its execution's stream


async def test_a_rejected_step_in_a_running_execution_is_found(database):
    await corrupt(
        database,
        update(execution_table).where(execution_table.c.id == "exec-initech-payout-2").values(status="running"),
    )
    assert await problems(database) == ["rejection-stops-execution"]


async def test_an_approval_waiting_in_a_finished_execution_is_found(database):
    await corrupt(
        database, update(execution_table).where(execution_table.c.id == "exec-acme-refund-7").values(status="cancelled")
    )
    assert await problems(database) == ["no-orphan-approval"]


async def test_an_execution_waiting_for_nothing_is_found(database):
    await corrupt(
        database, update(step_table).where(step_table.c.id == "step-initech-email-5-2").values(status="pending")
    )
    assert await problems(database) == ["awaiting-has-a-step"]


async def test_a_gap_in_an_executions_stream_is_found(database):
    last = select(func.max(event_table.c.sequence)).where(event_table.c.execution_id == "exec-acme-deploy-42")
    await corrupt(
        database,
        update(event_table)
        .where(event_table.c.sequence == last.scalar_subquery())
        .values(stream_version=event_table.c.stream_version + 1),
    )
    assert await problems(database) == ["stream-version"]


async def test_an_event_naming_another_workspace_is_found(database):
    first = select(func.min(event_table.c.sequence)).where(event_table.c.execution_id == "exec-acme-deploy-42")
    await corrupt(
        database,
        update(event_table).where(event_table.c.sequence == first.scalar_subquery()).values(workspace_id="ws-x"),
    )
    assert await problems(database) == ["event-workspace"]


async def test_a_step_naming_another_workspace_is_found(database):
    await corrupt(
        database, update(step_table).where(step_table.c.id == "step-acme-deploy-42-1").values(workspace_id="ws-x")
    )
    assert await problems(database) == ["step-workspace"]


# --- lifecycle: runs, steps, digests --------------------------------------------------------------


async def test_a_live_execution_without_its_run_is_found(database):
    await corrupt(
        database, update(execution_table).where(execution_table.c.id == "exec-acme-report-12").values(run_id=None)
    )
    assert await problems(database) == ["execution-has-its-run"]


async def test_a_running_step_in_a_stopped_execution_is_found(database):
    await corrupt(
        database, update(execution_table).where(execution_table.c.id == "exec-acme-report-12").values(status="aborted")
    )
    assert await problems(database) == ["running-step"]


async def test_two_running_steps_are_found(database):
    await corrupt(
        database, update(step_table).where(step_table.c.id == "step-acme-report-12-3").values(status="running")
    )
    assert await problems(database) == ["running-step"]


async def test_a_completed_execution_with_work_left_is_found(database):
    await corrupt(
        database, update(step_table).where(step_table.c.id == "step-acme-digest-8-2").values(status="pending")
    )
    assert await problems(database) == ["completed-means-done"]


async def test_a_tampered_plan_is_found(database):
    tampered = {"format": "control-plane.plan/1", "policyVersion": "x", "steps": []}
    await corrupt(
        database, update(plan_table).where(plan_table.c.id == "plan-acme-deploy-42").values(document=tampered)
    )
    assert await problems(database) == ["plan-hash"]


async def test_a_tampered_evidence_bundle_is_found(database):
    async with database.unit_of_work(write=False) as session:
        (bundle_id, bundle) = (await session.execute(select(bundle_table.c.id, bundle_table.c.bundle))).one()
    bundle["execution"]["status"] = "failed"
    await corrupt(database, update(bundle_table).where(bundle_table.c.id == bundle_id).values(bundle=bundle))
    assert await problems(database) == ["evidence-digest"]
