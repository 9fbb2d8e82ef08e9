"""rejectExecutionStep end to end: GraphQL in, database rows and events out (DESIGN.md, "The seed command")."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from gql.transport.exceptions import TransportQueryError

from app.db.database import Database
from app.db.tables import execution_table
from app.testing.documents import REJECT
from tests.conftest import DEFAULT_TOKEN, Bearer, Execute, snapshot
from tests.integration.helpers import (
    DEPLOY,
    PAYOUT,
    REJECT_CONTRACT,
    SEEDED_REASON,
    assert_gap_free,
    assert_masked,
    changed_keys,
    decision_rows,
    events,
    execution_row,
    fail_after_append,
    failing,
    instant,
    step_rows,
    steps_of,
)

REASON = "Not during the release freeze."


def reject_input(**overrides: Any) -> dict[str, Any]:
    return {**DEPLOY, "rejectedBy": "dana", "reason": REASON, **overrides}


async def reject(execute: Execute, bearer: Bearer = DEFAULT_TOKEN, **overrides: Any) -> dict[str, Any]:
    data = await execute(REJECT, {"input": reject_input(**overrides)}, bearer=bearer)
    output: dict[str, Any] = data["rejectExecutionStep"]
    return output


async def reject_error(
    execute: Execute, database: Database, bearer: Bearer = DEFAULT_TOKEN, **overrides: Any
) -> dict[str, Any]:
    variables = {"input": reject_input(**overrides)}
    return await failing(execute, database, REJECT, variables, expect_contract=REJECT_CONTRACT, bearer=bearer)


# --- happy path -----------------------------------------------------------------------------------


async def test_reject_happy_path_writes_step_decision_execution_and_events(execute, database):
    before = await snapshot(database)
    events_before = await events(database)
    started = datetime.now(UTC)

    output = await reject(execute)

    finished = datetime.now(UTC)
    assert {k: v for k, v in output.items() if k != "rejectedAt"} == {**DEPLOY, "status": "rejected"}
    rejected_at = instant(output["rejectedAt"])
    assert started <= rejected_at <= finished

    steps = await steps_of(database, "exec-acme-deploy-42")
    step = steps["step-acme-deploy-42-3"]
    assert (step["status"], step["decided_by"], step["decided_at"], step["decision_note"]) == (
        "rejected",
        "dana",
        rejected_at,
        REASON,
    )
    assert steps["step-acme-deploy-42-4"]["status"] == "skipped"
    assert [steps[f"step-acme-deploy-42-{n}"]["status"] for n in (1, 2)] == ["completed", "completed"]

    (decision,) = await decision_rows(database, "step-acme-deploy-42-3")
    assert dict(decision) | {"id": None} == {
        "id": None,
        "step_id": "step-acme-deploy-42-3",
        "execution_id": "exec-acme-deploy-42",
        "decision": "rejected",
        "actor": "dana",
        "note": REASON,
        "decided_at": rejected_at,
        "original_input": None,  # only an approval with edits records the input as planned and as approved
        "edited_input": None,
    }

    execution = await execution_row(database, "exec-acme-deploy-42")
    assert (execution["status"], execution["updated_at"]) == ("rejected", rejected_at)

    # Exactly these rows changed: earlier and completed steps and other executions are untouched.
    after = await snapshot(database)
    assert changed_keys(before, after, "execution") == {"exec-acme-deploy-42"}
    assert changed_keys(before, after, "execution_step") == {"step-acme-deploy-42-3", "step-acme-deploy-42-4"}
    assert changed_keys(before, after, "approval_decision") == {decision["id"]}

    new_events = (await events(database))[len(events_before) :]
    assert new_events[0]["sequence"] < new_events[1]["sequence"]
    before_in_stream = [row for row in events_before if row["execution_id"] == "exec-acme-deploy-42"]
    first_version = len(before_in_stream) + 1
    assert [row["stream_version"] for row in new_events] == [first_version, first_version + 1]
    blocked, failed = new_events
    for row in new_events:
        assert (row["event_version"], row["execution_id"], row["step_id"], row["actor"], row["occurred_at"]) == (
            "1.0.0",
            "exec-acme-deploy-42",
            "step-acme-deploy-42-3",
            "dana",
            rejected_at,
        )
    assert blocked["event_key"] == "controlPlane.execution.step.blocked"
    assert set(blocked["payload"]) == {"executionId", "runId", "stepId", "blockedAt", "reason"}
    assert blocked["payload"] | {"blockedAt": None} == {
        "executionId": "exec-acme-deploy-42",
        "runId": "run-acme-deploy-42-1",
        "stepId": "step-acme-deploy-42-3",
        "blockedAt": None,
        "reason": REASON,
    }
    assert instant(blocked["payload"]["blockedAt"]) == rejected_at
    assert failed["event_key"] == "controlPlane.execution.failed"
    assert set(failed["payload"]) <= {"executionId", "runId", "failedAt", "errorCode", "errorMessage", "problem"}
    assert failed["payload"]["executionId"] == "exec-acme-deploy-42"
    assert failed["payload"]["runId"] == "run-acme-deploy-42-1"
    assert failed["payload"]["errorCode"] == "STEP_REJECTED"
    assert REASON in failed["payload"]["errorMessage"]
    assert instant(failed["payload"]["failedAt"]) == rejected_at
    await assert_gap_free(database)


async def test_reject_skips_only_later_pending_steps(execute, database):
    await reject(execute, executionId="exec-acme-refund-7", stepId="step-acme-refund-7-2")

    statuses = [(row["id"], row["status"]) for row in await step_rows(database, "exec-acme-refund-7")]
    assert statuses == [
        ("step-acme-refund-7-1", "completed"),
        ("step-acme-refund-7-2", "rejected"),
        ("step-acme-refund-7-3", "skipped"),
    ]
    assert (await execution_row(database, "exec-acme-refund-7"))["status"] == "rejected"


async def test_reject_also_skips_other_steps_still_awaiting_a_decision(execute, database):
    """A rejected execution is over: a sibling awaiting approval must not linger in the inbox."""
    await reject(execute, executionId="exec-globex-migrate-9", stepId="step-globex-migrate-9-2")

    statuses = [(row["id"], row["status"]) for row in await step_rows(database, "exec-globex-migrate-9")]
    assert statuses == [
        ("step-globex-migrate-9-1", "completed"),
        ("step-globex-migrate-9-2", "rejected"),
        ("step-globex-migrate-9-3", "skipped"),
        ("step-globex-migrate-9-4", "skipped"),
    ]


async def test_a_step_of_a_finished_execution_cannot_be_decided(execute, database):
    execution = execution_table
    async with database.engine.begin() as conn:
        await conn.execute(execution.update().where(execution.c.id == DEPLOY["executionId"]).values(status="cancelled"))
    error = await reject_error(execute, database)

    assert error["extensions"]["code"] == "CONFLICT"
    assert error["extensions"]["currentStatus"] == "cancelled"
    assert "can no longer be decided" in error["message"]


async def test_reason_of_exactly_2000_characters_is_accepted(execute, database):
    reason = "r" * 2000
    output = await reject(execute, reason=reason)

    assert output["status"] == "rejected"
    (decision,) = await decision_rows(database, DEPLOY["stepId"])
    assert decision["note"] == reason


# --- replays and conflicts ------------------------------------------------------------------------


async def test_identical_replay_returns_the_original_result_and_writes_nothing(execute, database):
    seeded_events = len(await events(database))
    first = await reject(execute)
    after_first = await snapshot(database)

    second = await reject(execute)

    assert second == first
    assert await snapshot(database) == after_first
    assert len(await decision_rows(database, DEPLOY["stepId"])) == 1
    assert len(await events(database)) == seeded_events + 2  # step.blocked and execution.failed, once


async def test_replay_of_the_seeded_rejection_returns_its_original_time(execute, database):
    before = await snapshot(database)
    (step,) = [row for row in await step_rows(database, PAYOUT["executionId"]) if row["id"] == PAYOUT["stepId"]]

    output = await reject(execute, **PAYOUT, reason=SEEDED_REASON)

    assert output["status"] == "rejected"
    assert instant(output["rejectedAt"]) == step["decided_at"]
    assert await snapshot(database) == before


@pytest.mark.parametrize(
    ("actor", "reason", "current"),
    [
        pytest.param("dana", "A different reason.", "rejected", id="same-actor-other-reason"),
        pytest.param("bob", SEEDED_REASON, "rejected", id="other-admin-same-reason"),
        pytest.param("bob", "Also no.", "rejected", id="other-admin-other-reason"),
    ],
)
async def test_deciding_the_seeded_rejected_step_again_conflicts(execute, database, token, actor, reason, current):
    error = await reject_error(execute, database, bearer=token(actor), **PAYOUT, rejectedBy=actor, reason=reason)

    assert error["extensions"]["code"] == "CONFLICT"
    assert error["extensions"]["currentStatus"] == current


@pytest.mark.parametrize(("actor", "reason"), [("dana", "Changed my mind."), ("erin", REASON)])
async def test_second_decision_on_a_fresh_rejection_conflicts(execute, database, token, actor, reason):
    await reject(execute)

    error = await reject_error(execute, database, bearer=token(actor), rejectedBy=actor, reason=reason)

    assert error["extensions"]["code"] == "CONFLICT"
    assert error["extensions"]["currentStatus"] == "rejected"


@pytest.mark.parametrize(
    ("execution_id", "step_id", "current"),
    [
        ("exec-acme-deploy-42", "step-acme-deploy-42-1", "completed"),
        ("exec-acme-deploy-42", "step-acme-deploy-42-4", "pending"),
        ("exec-acme-report-12", "step-acme-report-12-2", "running"),
        ("exec-initech-payout-2", "step-initech-payout-2-3", "skipped"),
        ("exec-globex-sync-6", "step-globex-sync-6-2", "failed"),
    ],
)
async def test_rejecting_a_step_not_awaiting_approval_conflicts(execute, database, execution_id, step_id, current):
    error = await reject_error(execute, database, executionId=execution_id, stepId=step_id)

    assert error["extensions"]["code"] == "CONFLICT"
    assert error["extensions"]["currentStatus"] == current


# --- invalid input and unknown ids ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("reason", "", id="empty-reason"),
        pytest.param("reason", "  \t\n ", id="blank-reason"),
        pytest.param("reason", "r" * 2001, id="reason-2001"),
        pytest.param("executionId", "bad id!", id="malformed-execution"),
        pytest.param("executionId", "", id="empty-execution"),
        pytest.param("executionId", "e" * 129, id="long-execution"),
        pytest.param("stepId", "bad id!", id="malformed-step"),
        pytest.param("stepId", "-leading-dash", id="step-leading-dash"),
        pytest.param("rejectedBy", "bad id!", id="malformed-actor"),
    ],
)
async def test_invalid_input_is_bad_user_input_naming_the_field(execute, database, field, value):
    error = await reject_error(execute, database, **{field: value})

    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert set(error["extensions"]["fields"]) == {field}


@pytest.mark.parametrize(
    ("document", "variables"),
    [
        # Written with literal arguments on purpose: GraphQL validation refuses it, no variables involved.
        pytest.param(
            'mutation { rejectExecutionStep(input: {executionId: "exec-acme-deploy-42", '
            'stepId: "step-acme-deploy-42-3", rejectedBy: "dana"}) { status } }',
            None,
            id="literal-missing-reason",
        ),
        pytest.param(REJECT, {"input": {k: v for k, v in reject_input().items() if k != "reason"}}, id="var-missing"),
        pytest.param(REJECT, {"input": reject_input(reason=None)}, id="var-null-reason"),
        pytest.param(REJECT, {"input": reject_input(reason=42)}, id="var-wrong-type"),
        pytest.param(REJECT, {"input": reject_input(comment="extra")}, id="var-unknown-field"),
        pytest.param(REJECT, None, id="no-variables"),
    ],
)
async def test_graphql_level_input_errors_are_bad_user_input(execute, database, document, variables):
    error = await failing(execute, database, document, variables)

    assert error["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize(
    ("execution_id", "step_id"),
    [
        pytest.param("exec-nope", "step-acme-deploy-42-3", id="unknown-execution"),
        pytest.param("exec-acme-deploy-42", "step-nope", id="unknown-step"),
        pytest.param("exec-acme-deploy-42", "step-acme-refund-7-2", id="step-of-another-execution"),
    ],
)
async def test_unknown_execution_or_foreign_step_is_not_found(execute, database, execution_id, step_id):
    error = await reject_error(execute, database, executionId=execution_id, stepId=step_id)

    assert error["extensions"]["code"] == "NOT_FOUND"


async def test_foreign_step_stays_awaiting_in_its_own_execution(execute, database):
    await reject_error(execute, database, stepId="step-acme-refund-7-2")

    statuses = {row["id"]: row["status"] for row in await step_rows(database, "exec-acme-refund-7")}
    assert statuses["step-acme-refund-7-2"] == "awaiting_approval"


# --- concurrency and atomicity --------------------------------------------------------------------


async def test_twenty_admins_rejecting_at_once_have_exactly_one_winner(execute, database, token):
    events_before = len(await events(database))

    async def attempt(index: int) -> dict[str, Any]:
        actor = f"admin{index}"
        return await reject(execute, bearer=token(actor), rejectedBy=actor, reason=f"Stopped by {actor}.")

    results = await asyncio.gather(*(attempt(index) for index in range(20)), return_exceptions=True)

    wins = [result for result in results if isinstance(result, dict)]
    losses = [result for result in results if isinstance(result, TransportQueryError)]
    assert len(wins) == 1, results
    assert len(losses) == 19, results
    for loss in losses:
        (error,) = loss.errors or []
        assert error["extensions"]["code"] == "CONFLICT"
        assert error["extensions"]["currentStatus"] == "rejected"
        assert error["extensions"]["contract"] == REJECT_CONTRACT

    (decision,) = await decision_rows(database, DEPLOY["stepId"])
    assert decision["actor"].startswith("admin")
    assert decision["note"] == f"Stopped by {decision['actor']}."
    assert instant(wins[0]["rejectedAt"]) == decision["decided_at"]
    new_events = (await events(database))[events_before:]
    assert [row["event_key"] for row in new_events] == [
        "controlPlane.execution.step.blocked",
        "controlPlane.execution.failed",
    ]
    assert {row["actor"] for row in new_events} == {decision["actor"]}
    await assert_gap_free(database)


async def test_failure_after_the_step_update_rolls_back_whole_and_is_masked(execute, database, monkeypatch, caplog):
    secret = "disk on fire near /var/lib/secret.db"
    fail_after_append(monkeypatch, caplog, secret)

    error = await reject_error(execute, database)

    assert_masked(error, secret, caplog)
    assert "RuntimeError" not in json.dumps(error)

    # Nothing was left half-done, and the same request succeeds afterwards with gap-free sequences.
    monkeypatch.undo()
    assert (await reject(execute))["status"] == "rejected"
    assert len(await decision_rows(database, DEPLOY["stepId"])) == 1
    await assert_gap_free(database)
