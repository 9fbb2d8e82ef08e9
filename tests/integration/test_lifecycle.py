"""The whole life of an execution over HTTP with gql: submit -> compile -> verify -> start -> runner
reports -> decisions -> the end, for every way an execution can end."""

from __future__ import annotations

import pytest

from app.services.canonical import sha256_digest
from tests.integration.lifecycle import (
    ABORT,
    BUNDLE,
    EXPORT,
    LANE,
    PAUSE,
    RESUME,
    RETRY,
    SHUTDOWN,
    STEP_FAILED,
    STEP_STARTED,
    TRACE,
    Lifecycle,
)


@pytest.fixture
def life(execute, token) -> Lifecycle:
    return Lifecycle(execute=execute, admin=token("dana"), runner=token("rita", "runner"))


async def test_approved_run_completes(life: Lifecycle) -> None:
    submitted = await life.submit()
    assert submitted["status"] == "pending"
    compiled = await life.compile()
    assert compiled["stepCount"] == 3
    assert compiled["deterministicHash"].startswith("sha256:")
    verified = await life.verify()
    assert verified == {
        "verdict": "needs_approval",
        "requiresApproval": True,
        "blockedReasons": [],
        "verifiedAt": verified["verifiedAt"],
    }
    started = await life.start()
    assert started["status"] == "running"
    assert [s["riskTier"] for s in life.steps] == ["medium", "high", "medium"]
    assert [s["requiresApproval"] for s in life.steps] == [False, True, False]

    first = await life.run_step(1, output={"artifact": "app-42.tar"})
    assert first["executionStatus"] == "awaiting_approval"
    assert first["awaitingApprovalStepId"] == life.step(2)
    assert await life.step_statuses() == ["completed", "awaiting_approval", "pending"]

    await life.approve(2, note="Change window open.")
    assert await life.status() == "running"
    await life.run_step(2)
    last = await life.run_step(3)
    assert last["executionStatus"] == "completed"
    assert await life.step_statuses() == ["completed", "completed", "completed"]

    trace = await life.call(TRACE, {"executionId": life.execution_id})
    stages = [entry["stage"] for entry in trace["entries"]]
    assert stages == [
        "intent.received",
        "plan.compiled",
        "plan.verified",
        "execution.started",
        "step.started",
        "step.completed",
        "step.approvalRequested",
        "step.approved",
        "step.started",
        "step.completed",
        "step.started",
        "step.completed",
        "execution.completed",
    ]
    assert all("payload" not in entry["metadata"] for entry in trace["entries"])

    exported = await life.call(EXPORT, {"runId": life.run_id, "exportedBy": "dana"})
    assert exported["evidenceBundleCount"] == 1
    bundle = await life.call(BUNDLE, {"runId": life.run_id})
    assert bundle["digest"] == exported["digest"] == sha256_digest(bundle["bundle"])
    assert [e["eventKey"] for e in bundle["bundle"]["events"]][-1] == "controlPlane.execution.completed"

    lane = (await life.call(LANE, {"runId": life.run_id}))["run"]
    assert lane["laneKey"] == "complete"
    assert lane["terminalReadiness"] == "ready"
    assert lane["missingEvidence"] == []
    assert lane["approvalCount"] == 1


async def test_rejected_step_stops_the_run(life: Lifecycle) -> None:
    await life.started()
    await life.run_step(1)
    await life.reject(2, reason="Freeze until Monday.")
    assert await life.step_statuses() == ["completed", "rejected", "skipped"]
    assert await life.status() == "rejected"


async def test_pause_and_resume(life: Lifecycle) -> None:
    await life.started()
    paused = await life.control(PAUSE, "pausedBy", reason="Checking the artifact.")
    assert paused["status"] == "paused"
    resumed = await life.control(RESUME, "resumedBy")
    assert resumed["status"] == "running"


async def test_retry_after_failure(life: Lifecycle) -> None:
    await life.started()
    await life.report(STEP_STARTED, 1)
    failed = await life.report(STEP_FAILED, 1, errorCode="TIMEOUT", message="Build farm timed out.")
    assert failed["executionStatus"] == "failed"
    first_run = life.run_id
    retried = await life.control(RETRY, "retriedBy")
    assert retried["status"] == "running"
    assert retried["runId"] != first_run
    life.run_id = retried["runId"]
    await life.refresh()
    assert await life.step_statuses() == ["pending", "pending", "pending"]
    await life.run_step(1)
    assert await life.status() == "awaiting_approval"


async def test_abort(life: Lifecycle) -> None:
    await life.started()
    await life.report(STEP_STARTED, 1)
    aborted = await life.control(ABORT, "abortedBy", reason="Wrong branch.")
    assert aborted["status"] == "aborted"
    assert await life.step_statuses() == ["failed", "skipped", "skipped"]


async def test_shutdown_lets_the_running_step_finish(life: Lifecycle) -> None:
    await life.started()
    await life.report(STEP_STARTED, 1)
    stopping = await life.control(SHUTDOWN, "shutdownBy", reason="End of day.")
    assert stopping["status"] == "stopping"
    done = await life.report(__import__("tests.integration.lifecycle", fromlist=["STEP_COMPLETED"]).STEP_COMPLETED, 1)
    assert done["executionStatus"] == "cancelled"
    assert await life.step_statuses() == ["completed", "skipped", "skipped"]
