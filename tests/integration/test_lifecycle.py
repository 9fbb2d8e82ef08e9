"""The whole life of an execution over HTTP with gql: submit -> compile -> verify -> start -> runner
reports -> decisions -> the end, for every way an execution can end. After every command the test
checks the execution's status, every step's status and exactly the events that command appended."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from app.db.tables import event_table, run_table
from app.testing.documents import (
    ABORT,
    CANCEL,
    LANE,
    PAUSE,
    RESUME,
    RETRY,
    SHUTDOWN,
    START,
    STEP_COMPLETED,
    STEP_FAILED,
    STEP_STARTED,
)
from tests.integration.helpers import failing, fetch, step_rows
from tests.integration.lifecycle import Lifecycle

AWAITING = "awaiting_approval"


@pytest.fixture
def life(execute, token) -> Lifecycle:
    return Lifecycle(execute=execute, admin=token("dana"), runner=token("rita", "runner"), approver=token("erin"))


async def event_rows(database, execution_id: str) -> list[Any]:
    event = event_table
    return await fetch(database, select(event).where(event.c.execution_id == execution_id).order_by(event.c.sequence))


@dataclass
class Log:
    """The events of one execution, read straight from the event log; `new()` returns the keys
    (without the `controlPlane.` prefix) appended since the previous call."""

    database: Any
    life: Lifecycle
    seen: int = 0

    async def rows(self) -> list[Any]:
        return await event_rows(self.database, self.life.execution_id)

    async def new(self) -> list[str]:
        rows = await self.rows()
        fresh = [row["event_key"].removeprefix("controlPlane.") for row in rows[self.seen :]]
        self.seen = len(rows)
        return fresh

    async def last_payload(self, key: str) -> dict[str, Any]:
        rows = [row for row in await self.rows() if row["event_key"] == f"controlPlane.{key}"]
        payload: dict[str, Any] = rows[-1]["payload"]
        return payload


@pytest.fixture
def log(database, life: Lifecycle) -> Log:
    return Log(database, life)


async def state(life: Lifecycle) -> tuple[str, list[str]]:
    """The execution's status and every step's status, as `execution` answers."""
    record = await life.refresh()
    return record["status"], [step["status"] for step in record["steps"]]


async def conflict(life: Lifecycle, database, document: str, payload: dict[str, Any], bearer: str) -> str:
    """The request fails with CONFLICT and changes nothing; returns `currentStatus`."""
    error = await failing(life.execute, database, document, {"input": payload}, bearer=bearer)
    assert error["extensions"]["code"] == "CONFLICT", error
    return str(error["extensions"]["currentStatus"])


async def reaches_approval(life: Lifecycle, log: Log) -> None:
    """Started, step 1 run; step 2 (deploy, high) awaits a decision."""
    await life.started()
    assert await log.new() == ["intent.received", "plan.compiled", "plan.verified", "execution.started"]
    await life.run_step(1)
    assert await log.new() == ["execution.step.started", "execution.step.completed", "execution.step.approvalRequested"]
    assert await state(life) == (AWAITING, ["completed", AWAITING, "pending"])


async def test_approved_run_completes(life: Lifecycle, log: Log, database) -> None:  # noqa: PLR0915 - the whole journey, checked step by step
    submitted = await life.submit(text="Ship release 42", channelKey="slack", traceId="trace-1")
    assert submitted["status"] == "pending"
    assert await log.new() == ["intent.received"]
    assert await state(life) == ("pending", [])

    compiled = await life.compile()
    assert compiled["stepCount"] == 3
    assert compiled["deterministicHash"].startswith("sha256:")
    assert await log.new() == ["plan.compiled"]
    record = await life.refresh()
    assert (record["status"], record["planId"], record["runId"]) == ("pending", compiled["planId"], None)
    assert (record["riskTier"], record["requiresApproval"]) == ("high", True)
    assert [s["key"] for s in life.steps] == ["build.artifact", "deploy.production", "notify.team"]
    assert [s["position"] for s in life.steps] == [1, 2, 3]
    assert [s["status"] for s in life.steps] == ["pending"] * 3
    assert life.steps[1]["riskTier"] == "high"
    assert [s["requiresApproval"] for s in life.steps] == [False, True, False]
    assert record["lane"]["lanePhase"] == "planned"

    verified = await life.verify()
    assert verified == {
        "verdict": "needs_approval",
        "requiresApproval": True,
        "blockedReasons": [],
        "verifiedAt": verified["verifiedAt"],
    }
    assert await log.new() == ["plan.verified"]
    assert (await life.refresh())["lane"]["lanePhase"] == "verified"

    started = await life.start()
    assert started["status"] == "running"
    assert await log.new() == ["execution.started"]
    assert (await life.refresh())["runId"] == started["runId"] == life.run_id
    assert await state(life) == ("running", ["pending", "pending", "pending"])

    report = await life.report(STEP_STARTED, 1)
    assert report["stepStatus"] == "running"
    assert report["executionStatus"] == "running"
    assert await log.new() == ["execution.step.started"]
    assert await state(life) == ("running", ["running", "pending", "pending"])

    report = await life.report(STEP_COMPLETED, 1, output={"artifact": "app-42.tar"})
    assert report["stepStatus"] == "completed"
    assert report["executionStatus"] == AWAITING
    assert report["awaitingApprovalStepId"] == life.step(2)
    assert await log.new() == ["execution.step.completed", "execution.step.approvalRequested"]
    assert await state(life) == (AWAITING, ["completed", AWAITING, "pending"])
    assert (await log.last_payload("execution.step.approvalRequested"))["riskTier"] == "high"

    # The runner cannot start the step awaiting a decision, nor skip it.
    start_2 = {"runId": life.run_id, "stepId": life.step(2)}
    assert await conflict(life, database, STEP_STARTED, start_2, life.runner) == AWAITING
    start_3 = {"runId": life.run_id, "stepId": life.step(3)}
    assert await conflict(life, database, STEP_STARTED, start_3, life.runner) == AWAITING

    approved = await life.approve(2, note="Change window open.")
    assert approved["status"] == "approved"
    assert await log.new() == ["execution.step.approvalRecorded", "execution.step.approved"]
    assert await state(life) == ("running", ["completed", "approved", "pending"])
    assert (life.steps[1]["decidedBy"], life.steps[1]["decisionNote"]) == ("erin", "Change window open.")
    vote = await log.last_payload("execution.step.approvalRecorded")
    assert (vote["actorId"], vote["approvalsGiven"], vote["requiredApprovals"]) == ("erin", 1, 1)

    await life.run_step(2, output={"deployed": True, "version": "42"})
    assert await log.new() == ["execution.step.started", "execution.step.completed"]
    assert await state(life) == ("running", ["completed", "completed", "pending"])

    await life.report(STEP_STARTED, 3)
    last = await life.report(STEP_COMPLETED, 3)
    assert last["executionStatus"] == "completed"
    assert last["awaitingApprovalStepId"] is None
    assert await log.new() == ["execution.step.started", "execution.step.completed", "execution.completed"]
    assert await state(life) == ("completed", ["completed", "completed", "completed"])

    # The same report again is answered from the stored state and appends nothing.
    again = await life.report(STEP_COMPLETED, 3)
    assert again == last
    assert await log.new() == []

    rows = await step_rows(database, life.execution_id)
    assert [row["output"] for row in rows] == [{"artifact": "app-42.tar"}, {"deployed": True, "version": "42"}, None]
    assert all(row["run_id"] == life.run_id for row in rows)
    assert all(row["started_at"] is not None and row["completed_at"] >= row["started_at"] for row in rows)
    assert [row["error_code"] for row in rows] == [None, None, None]

    events = await log.rows()
    assert [row["run_id"] for row in events] == [None] * 3 + [life.run_id] * 11
    assert {row["actor"] for row in events[:4]} == {"dana"}
    assert {row["actor"] for row in events if "step.started" in row["event_key"]} == {"rita"}
    assert (await log.last_payload("execution.completed"))["outcome"] == "completed"

    pause = {"runId": life.run_id, "pausedBy": "dana"}
    assert await conflict(life, database, PAUSE, pause, life.admin) == "completed"


async def test_rejected_step_stops_the_run(life: Lifecycle, log: Log, database) -> None:
    await reaches_approval(life, log)
    rejected = await life.reject(2, reason="Freeze until Monday.")
    assert rejected["status"] == "rejected"
    assert await log.new() == ["execution.step.blocked", "execution.failed"]
    assert await state(life) == ("rejected", ["completed", "rejected", "skipped"])
    assert (life.steps[1]["decidedBy"], life.steps[1]["decisionNote"]) == ("erin", "Freeze until Monday.")
    assert (await log.last_payload("execution.step.blocked"))["reason"] == "Freeze until Monday."
    failed = await log.last_payload("execution.failed")
    assert (failed["errorCode"], failed["runId"]) == ("STEP_REJECTED", life.run_id)

    start_3 = {"runId": life.run_id, "stepId": life.step(3)}
    assert await conflict(life, database, STEP_STARTED, start_3, life.runner) == "rejected"
    retry = {"runId": life.run_id, "retriedBy": "dana"}
    assert await conflict(life, database, RETRY, retry, life.admin) == "rejected"


async def test_cancel_before_start(life: Lifecycle, log: Log, database) -> None:
    await life.prepared()
    assert await log.new() == ["intent.received", "plan.compiled", "plan.verified"]
    cancel = {"executionId": life.execution_id, "cancelledBy": "dana", "reason": "Not needed."}
    cancelled = await life.call(CANCEL, cancel)
    assert cancelled["status"] == "cancelled"
    assert await log.new() == ["execution.cancelled"]
    assert await state(life) == ("cancelled", ["skipped", "skipped", "skipped"])
    record = await life.refresh()
    assert record["runId"] is None
    payload = await log.last_payload("execution.cancelled")
    assert (payload["runId"], payload["mode"], payload["reason"], payload["cancelledBy"]) == (
        None,
        "cancel",
        "Not needed.",
        "dana",
    )
    assert (await log.rows())[-1]["run_id"] is None

    start = {"executionId": life.execution_id, "planId": life.plan_id}
    assert await conflict(life, database, START, start, life.admin) == "cancelled"
    assert await conflict(life, database, CANCEL, cancel, life.admin) == "cancelled"


async def test_cancel_mid_run(life: Lifecycle, log: Log, database) -> None:
    await reaches_approval(life, log)
    await life.approve(2)
    await life.report(STEP_STARTED, 2)
    assert await log.new() == ["execution.step.approvalRecorded", "execution.step.approved", "execution.step.started"]
    cancelled = await life.call(CANCEL, {"executionId": life.execution_id, "cancelledBy": "dana"})
    assert cancelled["status"] == "cancelled"
    assert await log.new() == ["execution.cancelled"]
    # The step that was running is failed (it never finished), the one that never ran is skipped.
    assert await state(life) == ("cancelled", ["completed", "failed", "skipped"])
    rows = await step_rows(database, life.execution_id)
    assert (rows[1]["error_code"], rows[2]["error_code"]) == ("CANCELLED", None)
    payload = await log.last_payload("execution.cancelled")
    assert (payload["runId"], payload["mode"], payload["reason"]) == (life.run_id, "cancel", None)

    # A late report of the interrupted step is refused.
    done = {"runId": life.run_id, "stepId": life.step(2)}
    assert await conflict(life, database, STEP_COMPLETED, done, life.runner) == "cancelled"


async def test_pause_and_resume(life: Lifecycle, log: Log, database) -> None:
    await life.started()
    await log.new()
    await life.report(STEP_STARTED, 1)
    paused = await life.control(PAUSE, "pausedBy", reason="Checking the artifact.")
    assert paused["status"] == "paused"
    assert await log.new() == ["execution.step.started", "execution.paused"]
    assert await state(life) == ("paused", ["running", "pending", "pending"])
    payload = await log.last_payload("execution.paused")
    assert (payload["previousStatus"], payload["reason"], payload["pausedBy"]) == (
        "running",
        "Checking the artifact.",
        "dana",
    )

    # A paused run starts nothing new, but the step already running may finish.
    start_2 = {"runId": life.run_id, "stepId": life.step(2)}
    assert await conflict(life, database, STEP_STARTED, start_2, life.runner) == "paused"
    done = await life.report(STEP_COMPLETED, 1, output={"ok": True})
    assert (done["executionStatus"], done["awaitingApprovalStepId"]) == ("paused", life.step(2))
    assert await log.new() == ["execution.step.completed", "execution.step.approvalRequested"]
    assert await state(life) == ("paused", ["completed", AWAITING, "pending"])
    assert await conflict(life, database, PAUSE, {"runId": life.run_id, "pausedBy": "dana"}, life.admin) == "paused"

    resumed = await life.control(RESUME, "resumedBy")
    assert resumed["status"] == AWAITING
    assert await log.new() == ["execution.resumed"]
    assert await state(life) == (AWAITING, ["completed", AWAITING, "pending"])

    # Paused again while waiting for the decision; the decision does not resume the run.
    await life.control(PAUSE, "pausedBy")
    assert (await log.last_payload("execution.paused"))["previousStatus"] == AWAITING
    await life.approve(2)
    assert await log.new() == ["execution.paused", "execution.step.approvalRecorded", "execution.step.approved"]
    assert await state(life) == ("paused", ["completed", "approved", "pending"])
    resumed = await life.control(RESUME, "resumedBy")
    assert resumed["status"] == "running"
    assert await log.new() == ["execution.resumed"]
    assert (await log.last_payload("execution.resumed"))["status"] == "running"
    assert await conflict(life, database, RESUME, {"runId": life.run_id, "resumedBy": "dana"}, life.admin) == "running"

    await life.run_step(2)
    await life.run_step(3)
    assert await log.new() == [
        "execution.step.started",
        "execution.step.completed",
        "execution.step.started",
        "execution.step.completed",
        "execution.completed",
    ]
    assert await state(life) == ("completed", ["completed", "completed", "completed"])
    assert [row["output"] for row in await step_rows(database, life.execution_id)] == [{"ok": True}, None, None]


async def run_rows(database, execution_id: str) -> list[Any]:
    run = run_table
    return await fetch(database, select(run).where(run.c.execution_id == execution_id).order_by(run.c.attempt))


async def test_retry_after_failure_runs_a_new_run_to_completion(life: Lifecycle, log: Log, database) -> None:
    await reaches_approval(life, log)
    await life.approve(2)
    await life.report(STEP_STARTED, 2)
    failed = await life.report(STEP_FAILED, 2, errorCode="TIMEOUT", message="Deploy timed out.")
    assert (failed["stepStatus"], failed["executionStatus"]) == ("failed", "failed")
    assert await log.new() == [
        "execution.step.approvalRecorded",
        "execution.step.approved",
        "execution.step.started",
        "execution.step.failed",
        "execution.failed",
    ]
    # Later steps stay pending: a retry continues from the failed step.
    assert await state(life) == ("failed", ["completed", "failed", "pending"])
    rows = await step_rows(database, life.execution_id)
    assert (rows[1]["error_code"], rows[1]["error_message"]) == ("TIMEOUT", "Deploy timed out.")
    problem = (await log.last_payload("execution.failed"))["problem"]
    assert problem == {"stepId": life.step(2), "stepKey": "deploy.production", "position": 2}

    first_run = life.run_id
    retried = await life.control(RETRY, "retriedBy")
    assert (retried["status"], retried["phase"]) == ("running", "running")
    assert retried["runId"] != first_run
    assert await log.new() == ["execution.retried", "execution.started"]
    life.run_id = retried["runId"]
    # The failed step keeps its approval: it runs again without a second decision.
    assert await state(life) == ("running", ["completed", "approved", "pending"])
    assert (await life.refresh())["runId"] == life.run_id
    retried_payload = await log.last_payload("execution.retried")
    assert retried_payload["previousRunId"] == first_run
    assert (retried_payload["fromStepId"], retried_payload["attempt"]) == (life.step(2), 2)
    assert (await log.last_payload("execution.started"))["attempt"] == 2

    runs = await run_rows(database, life.execution_id)
    assert [(r["id"], r["attempt"], r["from_position"], r["retry_of"]) for r in runs] == [
        (first_run, 1, 1, None),
        (life.run_id, 2, 2, first_run),
    ]
    assert (runs[0]["ended_status"], runs[1]["ended_status"]) == ("superseded", None)
    old_lane = (await life.call(LANE, {"runId": first_run}))["run"]
    assert (old_lane["lanePhase"], old_lane["laneKey"]) == ("superseded", "complete")

    # The superseded run takes no more reports.
    old_report = {"runId": first_run, "stepId": life.step(2)}
    assert await conflict(life, database, STEP_STARTED, old_report, life.runner) == "superseded"
    old_retry = {"runId": first_run, "retriedBy": "dana"}
    assert await conflict(life, database, RETRY, old_retry, life.admin) == "superseded"

    await life.run_step(2, output={"deployed": True})
    done = await life.run_step(3)
    assert done["executionStatus"] == "completed"
    assert await log.new() == [
        "execution.step.started",
        "execution.step.completed",
        "execution.step.started",
        "execution.step.completed",
        "execution.completed",
    ]
    assert await state(life) == ("completed", ["completed", "completed", "completed"])
    rows = await step_rows(database, life.execution_id)
    assert [row["run_id"] for row in rows] == [first_run, life.run_id, life.run_id]
    assert [row["error_code"] for row in rows] == [None, None, None]
    assert [row["output"] for row in rows] == [None, {"deployed": True}, None]
    events = await log.rows()
    retried_at = next(i for i, row in enumerate(events) if row["event_key"] == "controlPlane.execution.retried")
    assert {row["run_id"] for row in events[retried_at:]} == {life.run_id}
    assert {row["run_id"] for row in events[3:retried_at]} == {first_run}


async def test_retry_of_an_undecided_step_asks_for_the_decision_again(life: Lifecycle, log: Log, database) -> None:
    await life.started()
    await life.report(STEP_STARTED, 1)
    await life.report(STEP_FAILED, 1, errorCode="BUILD_FAILED", message="Compilation error.")
    assert await state(life) == ("failed", ["failed", "pending", "pending"])
    await log.new()
    life.run_id = (await life.control(RETRY, "retriedBy"))["runId"]
    assert await log.new() == ["execution.retried", "execution.started"]
    assert await state(life) == ("running", ["pending", "pending", "pending"])
    await life.run_step(1)
    assert await log.new() == ["execution.step.started", "execution.step.completed", "execution.step.approvalRequested"]
    assert await state(life) == (AWAITING, ["completed", AWAITING, "pending"])


async def test_abort(life: Lifecycle, log: Log, database) -> None:
    await life.started()
    await life.report(STEP_STARTED, 1)
    await log.new()
    aborted = await life.control(ABORT, "abortedBy", reason="Wrong branch.")
    assert aborted["status"] == "aborted"
    assert await log.new() == ["execution.aborted"]
    assert await state(life) == ("aborted", ["failed", "skipped", "skipped"])
    assert (await step_rows(database, life.execution_id))[0]["error_code"] == "ABORTED"
    payload = await log.last_payload("execution.aborted")
    assert (payload["interruptedStepId"], payload["reason"], payload["abortedBy"]) == (
        life.step(1),
        "Wrong branch.",
        "dana",
    )
    retry = {"runId": life.run_id, "retriedBy": "dana"}
    assert await conflict(life, database, RETRY, retry, life.admin) == "aborted"
    assert await conflict(life, database, ABORT, {"runId": life.run_id, "abortedBy": "dana"}, life.admin) == "aborted"


async def test_abort_while_waiting_for_a_decision_interrupts_no_step(life: Lifecycle, log: Log, database) -> None:
    await reaches_approval(life, log)
    await life.control(ABORT, "abortedBy")
    assert await log.new() == ["execution.aborted"]
    assert await state(life) == ("aborted", ["completed", "skipped", "skipped"])
    assert (await log.last_payload("execution.aborted"))["interruptedStepId"] is None


async def test_shutdown_lets_the_running_step_finish(life: Lifecycle, log: Log, database) -> None:
    await life.started()
    await life.report(STEP_STARTED, 1)
    await log.new()
    stopping = await life.control(SHUTDOWN, "shutdownBy", reason="End of day.")
    assert stopping["status"] == "stopping"
    assert await log.new() == ["execution.shutdownRequested"]
    record = await life.refresh()
    assert (record["status"], record["lane"]["lanePhase"]) == ("running", "stopping")
    assert [s["status"] for s in life.steps] == ["running", "pending", "pending"]
    assert (await log.last_payload("execution.shutdownRequested"))["finishingStepId"] == life.step(1)
    lane = (await life.call(LANE, {"runId": life.run_id}))["run"]
    assert (lane["lanePhase"], lane["objective"]) == ("stopping", "Finish step 1 of 3 (build.artifact), then stop")

    # Nothing new starts while stopping; pausing or shutting down again is refused.
    start_2 = {"runId": life.run_id, "stepId": life.step(2)}
    assert await conflict(life, database, STEP_STARTED, start_2, life.runner) == "stopping"
    again = {"runId": life.run_id, "shutdownBy": "dana"}
    assert await conflict(life, database, SHUTDOWN, again, life.admin) == "stopping"
    assert await conflict(life, database, PAUSE, {"runId": life.run_id, "pausedBy": "dana"}, life.admin) == "stopping"

    done = await life.report(STEP_COMPLETED, 1, output={"artifact": "app-42.tar"})
    assert (done["stepStatus"], done["executionStatus"], done["awaitingApprovalStepId"]) == (
        "completed",
        "cancelled",
        None,
    )
    assert await log.new() == ["execution.step.completed", "execution.cancelled"]
    assert await state(life) == ("cancelled", ["completed", "skipped", "skipped"])
    payload = await log.last_payload("execution.cancelled")
    assert (payload["mode"], payload["cancelledBy"], payload["runId"]) == ("shutdown", "dana", life.run_id)
    assert [row["output"] for row in await step_rows(database, life.execution_id)] == [
        {"artifact": "app-42.tar"},
        None,
        None,
    ]
    assert (await life.refresh())["lane"]["lanePhase"] == "cancelled"


async def test_shutdown_while_a_step_runs_and_then_fails(life: Lifecycle, log: Log) -> None:
    await life.started()
    await life.report(STEP_STARTED, 1)
    await life.control(SHUTDOWN, "shutdownBy")
    await log.new()
    failed = await life.report(STEP_FAILED, 1, errorCode="KILLED", message="Killed by the shutdown.")
    assert failed["executionStatus"] == "failed"
    assert await log.new() == ["execution.step.failed", "execution.failed"]
    assert await state(life) == ("failed", ["failed", "pending", "pending"])
    assert (await life.refresh())["lane"]["lanePhase"] == "failed"


@pytest.mark.parametrize("where", ["before any step", "awaiting a decision"])
async def test_shutdown_without_a_running_step_cancels_at_once(life: Lifecycle, log: Log, where: str) -> None:
    await life.started()
    expected_steps = ["skipped", "skipped", "skipped"]
    if where == "awaiting a decision":
        await life.run_step(1)
        expected_steps = ["completed", "skipped", "skipped"]
    await log.new()
    shutdown = await life.control(SHUTDOWN, "shutdownBy", reason="Maintenance.")
    assert shutdown["status"] == "cancelled"
    assert await log.new() == ["execution.cancelled"]
    assert await state(life) == ("cancelled", expected_steps)
    payload = await log.last_payload("execution.cancelled")
    assert (payload["mode"], payload["reason"], payload["runId"]) == ("shutdown", "Maintenance.", life.run_id)


async def test_a_plan_the_policy_rejects_cannot_start(life: Lifecycle, log: Log, database) -> None:
    await life.submit()
    await life.compile({"steps": [{"key": "build.artifact"}, {"key": "frobnicate.widget"}]})
    verified = await life.verify()
    assert verified["verdict"] == "rejected"
    assert verified["blockedReasons"] == [
        "UNKNOWN_STEP_KEY: step 2 'frobnicate.widget' names no action the policy knows"
    ]
    assert await log.new() == ["intent.received", "plan.compiled", "plan.rejected"]
    start = {"executionId": life.execution_id, "planId": life.plan_id}
    assert await conflict(life, database, START, start, life.admin) == "plan_rejected"
    assert await state(life) == ("pending", ["pending", "pending"])


async def test_an_unverified_plan_cannot_start_and_a_recompile_replaces_the_plan(
    life: Lifecycle, log: Log, database
) -> None:
    await life.submit()
    first = await life.compile()
    start = {"executionId": life.execution_id, "planId": life.plan_id}
    assert await conflict(life, database, START, start, life.admin) == "unverified"
    # Compiling the same draft again changes nothing and appends nothing.
    assert await life.compile() == first
    assert await log.new() == ["intent.received", "plan.compiled"]
    second = await life.compile({"steps": [{"key": "fetch.logs"}]})
    assert second["planId"] != first["planId"]
    assert await log.new() == ["plan.compiled"]
    assert await state(life) == ("pending", ["pending"])
    stale = {"executionId": life.execution_id, "planId": first["planId"]}
    assert await conflict(life, database, START, stale, life.admin) == "superseded"
    await life.verify()
    await life.start()
    done = await life.run_step(1)
    assert done["executionStatus"] == "completed"
    assert await log.new() == [
        "plan.verified",
        "execution.started",
        "execution.step.started",
        "execution.step.completed",
        "execution.completed",
    ]
