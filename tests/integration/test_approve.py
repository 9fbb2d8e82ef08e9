"""approveExecutionStep, the twin of reject: awaiting_approval -> approved, the execution resumes when nothing
else of it awaits a decision."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from gql.transport.exceptions import TransportQueryError

from app.db.database import Database
from app.testing.documents import APPROVE, REJECT, STEP_COMPLETED, STEP_STARTED
from tests.conftest import DEFAULT_TOKEN, Bearer, Execute, MintToken, first_error, snapshot
from tests.integration.helpers import (
    APPROVE_CONTRACT,
    MIGRATE_SCHEMA,
    PAYOUT,
    REJECT_CONTRACT,
    assert_gap_free,
    assert_masked,
    changed_keys,
    decision_rows,
    events,
    execution_row,
    fail_after_append,
    failing,
    instant,
    steps_of,
)

FIRST = MIGRATE_SCHEMA  # step 2 of exec-globex-migrate-9 awaits a decision; step 3 requires one later
NOTE = "Schema change reviewed; backup verified."
MIGRATE = FIRST["executionId"]
SECOND = {"executionId": MIGRATE, "stepId": "step-globex-migrate-9-3"}
RUN = "run-globex-migrate-9-1"


async def run_first_step(execute: Execute, token: MintToken) -> dict[str, Any]:
    """The runner runs the approved first step; the second step then awaits its own decision."""
    runner = token("rita", "runner")
    ids = {"input": {"runId": RUN, "stepId": FIRST["stepId"]}}
    await execute(STEP_STARTED, ids, bearer=runner)
    reported: dict[str, Any] = (await execute(STEP_COMPLETED, ids, bearer=runner))["reportStepCompleted"]
    return reported


def approve_input(**overrides: Any) -> dict[str, Any]:
    return {**FIRST, "approvedBy": "dana", "note": NOTE, **overrides}


async def approve(execute: Execute, bearer: Bearer = DEFAULT_TOKEN, **overrides: Any) -> dict[str, Any]:
    data = await execute(APPROVE, {"input": approve_input(**overrides)}, bearer=bearer)
    output: dict[str, Any] = data["approveExecutionStep"]
    return output


async def approve_error(
    execute: Execute, database: Database, bearer: Bearer = DEFAULT_TOKEN, **overrides: Any
) -> dict[str, Any]:
    variables = {"input": approve_input(**overrides)}
    return await failing(execute, database, APPROVE, variables, expect_contract=APPROVE_CONTRACT, bearer=bearer)


def assert_approved_event(event: Any, ids: dict[str, str], at: datetime, note: str | None) -> None:
    assert (event["event_key"], event["event_version"], event["actor"], event["occurred_at"]) == (
        "controlPlane.execution.step.approved",
        "1.0.0",
        "dana",
        at,
    )
    assert (event["execution_id"], event["step_id"]) == (ids["executionId"], ids["stepId"])
    payload = event["payload"]
    assert instant(payload.pop("approvedAt")) == at
    assert payload.pop("reviewDigest").startswith("sha256:")
    assert payload == {
        "inputEdited": False,
        "approvers": ["dana"],
        "executionId": ids["executionId"],
        "runId": "run-globex-migrate-9-1",
        "stepId": ids["stepId"],
        "approvedBy": "dana",
        "note": note,
    }


# --- happy path -----------------------------------------------------------------------------------


async def test_approving_records_the_decision_and_resumes_the_execution(execute, database):
    before = await snapshot(database)
    events_before = await events(database)
    started = datetime.now(UTC)

    output = await approve(execute)

    approved_at = instant(output["approvedAt"])
    assert started <= approved_at <= datetime.now(UTC)
    assert output == {**FIRST, "status": "approved", "approvedAt": output["approvedAt"]}

    steps = await steps_of(database, MIGRATE)
    step = steps[FIRST["stepId"]]
    assert (step["status"], step["decided_by"], step["decided_at"], step["decision_note"]) == (
        "approved",
        "dana",
        approved_at,
        NOTE,
    )
    assert [row["status"] for row in steps.values()] == ["completed", "approved", "pending", "pending"]

    (decision,) = await decision_rows(database, FIRST["stepId"])
    assert (decision["execution_id"], decision["decision"], decision["actor"], decision["note"]) == (
        MIGRATE,
        "approved",
        "dana",
        NOTE,
    )
    assert decision["decided_at"] == approved_at

    # Nothing else awaits a decision: the execution runs again (the runner may start the step).
    execution = await execution_row(database, MIGRATE)
    assert (execution["status"], execution["updated_at"]) == ("running", approved_at)
    after = await snapshot(database)
    assert changed_keys(before, after, "execution") == {MIGRATE}
    assert changed_keys(before, after, "execution_step") == {FIRST["stepId"]}

    recorded, event = (await events(database))[len(events_before) :]
    assert recorded["event_key"] == "controlPlane.execution.step.approvalRecorded"
    assert (recorded["payload"]["approvalsGiven"], recorded["payload"]["requiredApprovals"]) == (1, 1)
    assert recorded["sequence"] < event["sequence"]
    assert event["stream_version"] == recorded["stream_version"] + 1
    assert_approved_event(event, FIRST, approved_at, NOTE)
    await assert_gap_free(database)


async def test_the_next_step_that_requires_approval_waits_for_its_own_decision(execute, database, token):
    await approve(execute)
    reported = await run_first_step(execute, token)
    assert (reported["executionStatus"], reported["awaitingApprovalStepId"]) == ("awaiting_approval", SECOND["stepId"])
    assert (await execution_row(database, MIGRATE))["status"] == "awaiting_approval"
    events_before = len(await events(database))

    output = await approve(execute, **SECOND, note=None)

    approved_at = instant(output["approvedAt"])
    execution = await execution_row(database, MIGRATE)
    assert (execution["status"], execution["updated_at"]) == ("running", approved_at)
    steps = await steps_of(database, MIGRATE)
    assert [row["status"] for row in steps.values()] == ["completed", "completed", "approved", "pending"]
    assert steps[SECOND["stepId"]]["decision_note"] is None
    (decision,) = await decision_rows(database, SECOND["stepId"])
    assert decision["note"] is None
    recorded, event = (await events(database))[events_before:]
    assert recorded["event_key"] == "controlPlane.execution.step.approvalRecorded"
    assert_approved_event(event, SECOND, approved_at, None)
    await assert_gap_free(database)


async def test_approving_the_only_awaiting_step_resumes_at_once_and_skips_nothing(execute, database):
    ids = {"executionId": "exec-acme-deploy-42", "stepId": "step-acme-deploy-42-3"}

    await approve(execute, **ids)

    assert (await execution_row(database, ids["executionId"]))["status"] == "running"
    steps = await steps_of(database, ids["executionId"])
    assert [row["status"] for row in steps.values()] == ["completed", "completed", "approved", "pending"]


async def test_note_is_optional_and_2000_characters_are_accepted(execute, database, token):
    long_note = "n" * 2000
    await approve(execute, note=long_note)
    await run_first_step(execute, token)
    without = {k: v for k, v in approve_input(**SECOND).items() if k != "note"}
    data = await execute(APPROVE, {"input": without})

    assert data["approveExecutionStep"]["status"] == "approved"
    steps = await steps_of(database, MIGRATE)
    assert (steps[FIRST["stepId"]]["decision_note"], steps[SECOND["stepId"]]["decision_note"]) == (long_note, None)


# --- replays and conflicts ------------------------------------------------------------------------


@pytest.mark.parametrize("note", [NOTE, None])
async def test_identical_replay_returns_the_original_result_and_writes_nothing(execute, database, note):
    first = await approve(execute, note=note)
    after_first = await snapshot(database)

    second = await approve(execute, note=note)

    assert second == first
    assert await snapshot(database) == after_first
    assert len(await decision_rows(database, FIRST["stepId"])) == 1


@pytest.mark.parametrize(
    ("actor", "note"),
    [
        pytest.param("dana", "Another note.", id="same-actor-other-note"),
        pytest.param("dana", None, id="same-actor-note-dropped"),
        pytest.param("erin", NOTE, id="other-admin-same-note"),
    ],
)
async def test_second_decision_on_an_approved_step_conflicts(execute, database, token, actor, note):
    await approve(execute)

    error = await approve_error(execute, database, bearer=token(actor), approvedBy=actor, note=note)

    assert error["extensions"]["code"] == "CONFLICT"
    assert error["extensions"]["currentStatus"] == "approved"


async def test_rejecting_an_approved_step_conflicts(execute, database):
    await approve(execute)
    variables = {"input": {**FIRST, "rejectedBy": "dana", "reason": "Too late."}}

    error = await failing(execute, database, REJECT, variables)

    assert error["extensions"]["code"] == "CONFLICT"
    assert error["extensions"]["currentStatus"] == "approved"
    assert error["extensions"]["contract"] == REJECT_CONTRACT


@pytest.mark.parametrize(
    ("ids", "current"),
    [
        pytest.param(PAYOUT, "rejected", id="approve-after-reject"),
        pytest.param({"executionId": MIGRATE, "stepId": "step-globex-migrate-9-1"}, "completed", id="completed"),
        pytest.param({"executionId": MIGRATE, "stepId": "step-globex-migrate-9-4"}, "pending", id="pending"),
        pytest.param(
            {"executionId": "exec-initech-payout-2", "stepId": "step-initech-payout-2-3"}, "skipped", id="skipped"
        ),
    ],
)
async def test_approving_a_step_not_awaiting_approval_conflicts(execute, database, ids, current):
    error = await approve_error(execute, database, **ids)

    assert error["extensions"]["code"] == "CONFLICT"
    assert error["extensions"]["currentStatus"] == current


async def test_approving_a_freshly_rejected_step_conflicts(execute, database):
    await execute(REJECT, {"input": {**FIRST, "rejectedBy": "dana", "reason": "Not today."}})

    error = await approve_error(execute, database)

    assert error["extensions"]["code"] == "CONFLICT"
    assert error["extensions"]["currentStatus"] == "rejected"


# --- invalid input and unknown ids ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("note", "n" * 2001, id="note-2001"),
        pytest.param("executionId", "bad id!", id="malformed-execution"),
        pytest.param("stepId", "bad id!", id="malformed-step"),
        pytest.param("approvedBy", "bad id!", id="malformed-actor"),
        pytest.param("approvedBy", "", id="empty-actor"),
    ],
)
async def test_invalid_input_is_bad_user_input_naming_the_field(execute, database, field, value):
    error = await approve_error(execute, database, **{field: value})

    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert set(error["extensions"]["fields"]) == {field}


@pytest.mark.parametrize(
    ("document", "variables"),
    [
        # Written with literal arguments on purpose: GraphQL validation refuses it, no variables involved.
        pytest.param(
            'mutation { approveExecutionStep(input: {executionId: "exec-globex-migrate-9", '
            'stepId: "step-globex-migrate-9-2"}) { status } }',
            None,
            id="literal-missing-approver",
        ),
        pytest.param(APPROVE, {"input": {**FIRST, "note": NOTE}}, id="var-missing-approver"),
    ],
)
async def test_missing_required_field_is_bad_user_input(execute, database, document, variables):
    error = await failing(execute, database, document, variables)

    assert error["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize(
    ("execution_id", "step_id"),
    [
        pytest.param("exec-nope", "step-globex-migrate-9-2", id="unknown-execution"),
        pytest.param(MIGRATE, "step-nope", id="unknown-step"),
        pytest.param(MIGRATE, "step-globex-cleanup-3-2", id="step-of-another-execution"),
    ],
)
async def test_unknown_execution_or_foreign_step_is_not_found(execute, database, execution_id, step_id):
    error = await approve_error(execute, database, executionId=execution_id, stepId=step_id)

    assert error["extensions"]["code"] == "NOT_FOUND"


# --- concurrency and atomicity --------------------------------------------------------------------


async def test_concurrent_approvals_have_exactly_one_winner(execute, database, token):
    events_before = len(await events(database))

    async def attempt(index: int) -> dict[str, Any]:
        actor = f"admin{index}"
        return await approve(execute, bearer=token(actor), approvedBy=actor)

    results = await asyncio.gather(*(attempt(index) for index in range(10)), return_exceptions=True)

    assert sum(isinstance(result, dict) for result in results) == 1, results
    conflicts = [first_error(result)["extensions"] for result in results if isinstance(result, TransportQueryError)]
    assert [(c["code"], c["currentStatus"]) for c in conflicts] == [("CONFLICT", "approved")] * 9
    assert len(await decision_rows(database, FIRST["stepId"])) == 1
    assert len(await events(database)) == events_before + 2  # the one vote counted, and the approval


async def test_failure_after_the_step_update_rolls_back_whole_and_is_masked(execute, database, monkeypatch, caplog):
    secret = "approval ledger unreachable at 10.0.0.7"
    fail_after_append(monkeypatch, caplog, secret)

    error = await approve_error(execute, database)

    assert_masked(error, secret, caplog)
    monkeypatch.undo()
    assert (await approve(execute))["status"] == "approved"
    await assert_gap_free(database)
