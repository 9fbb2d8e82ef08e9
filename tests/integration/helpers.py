"""Shared by the integration tests (and the e2e tests for the documents): the two decision mutations, their
contracts, seeded ids, and helpers that read the database and check what a request did to it."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any

import pytest
from gql.transport.exceptions import TransportQueryError
from sqlalchemy import delete, select, update

from app.db.tables import (
    bundle_table,
    counter_table,
    decision_table,
    event_table,
    execution_table,
    intent_table,
    plan_table,
    run_table,
    step_table,
)
from app.services.approval import decisions
from tests.conftest import error_of, snapshot

REJECT = """
mutation Reject($input: ControlPlaneExecutionRejectInput!) {
  rejectExecutionStep(input: $input) { executionId stepId status rejectedAt }
}
"""
APPROVE = """
mutation Approve($input: ControlPlaneExecutionApproveInput!) {
  approveExecutionStep(input: $input) { executionId stepId status approvedAt }
}
"""


def contract(key: str) -> dict[str, str]:
    return {"key": key, "version": "1.0.0"}


REJECT_CONTRACT = contract("controlPlane.execution.reject")
APPROVE_CONTRACT = contract("controlPlane.execution.approve")

# Seeded steps awaiting a decision, and the one the seed rejected.
DEPLOY = {"executionId": "exec-acme-deploy-42", "stepId": "step-acme-deploy-42-3"}
MIGRATE_SCHEMA = {"executionId": "exec-globex-migrate-9", "stepId": "step-globex-migrate-9-2"}
PAYOUT = {"executionId": "exec-initech-payout-2", "stepId": "step-initech-payout-2-2"}
SEEDED_AWAITING = 5  # steps of the demo data set awaiting a decision
SEEDED_EXECUTIONS = 16
SEEDED_REASON = "Vendor list includes two accounts flagged by finance; payout must wait for the quarterly review."


# --- requests that must fail ----------------------------------------------------------------------


async def failing(
    execute,
    database,
    document: str,
    variables: Any = None,
    *,
    expect_contract: dict[str, str] | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """Runs a request that must fail; the database must be exactly as before. Returns the one error,
    which must name `expect_contract` when one is given."""
    before = await snapshot(database)
    with pytest.raises(TransportQueryError) as excinfo:
        await execute(document, variables, **kwargs)
    assert await snapshot(database) == before
    error = error_of(excinfo)
    if expect_contract is not None:
        assert error["extensions"]["contract"] == expect_contract
    return error


def fail_after_append(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, secret: str) -> None:
    """Make every decision raise `secret` right after its events were appended, inside the transaction."""
    real_append = decisions.append_events

    async def explode(session, new_events):
        await real_append(session, new_events)
        raise RuntimeError(secret)

    monkeypatch.setattr(decisions, "append_events", explode)
    caplog.set_level(logging.ERROR)


def assert_masked(error: dict[str, Any], secret: str, caplog: pytest.LogCaptureFixture) -> None:
    """An unexpected failure answers a bare internal error; the details go to the server log only."""
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert error["message"] == "Internal server error."
    assert secret not in json.dumps(error)
    assert secret in caplog.text


# --- reading the database -------------------------------------------------------------------------


async def fetch(database, statement) -> list[Any]:
    async with database.engine.connect() as conn:
        return list((await conn.execute(statement)).mappings())


async def step_rows(database, execution_id: str) -> list[Any]:
    step = step_table
    return await fetch(database, select(step).where(step.c.execution_id == execution_id).order_by(step.c.position))


async def steps_of(database, execution_id: str) -> dict[str, Any]:
    return {row["id"]: row for row in await step_rows(database, execution_id)}


async def decision_rows(database, step_id: str) -> list[Any]:
    return await fetch(database, select(decision_table).where(decision_table.c.step_id == step_id))


async def execution_row(database, execution_id: str) -> Any:
    (row,) = await fetch(database, select(execution_table).where(execution_table.c.id == execution_id))
    return row


async def events(database) -> list[Any]:
    return await fetch(database, select(event_table).order_by(event_table.c.sequence))


async def counter(database) -> int:
    (row,) = await fetch(database, select(counter_table))
    return int(row["value"])


async def assert_gap_free(database) -> None:
    sequences = [row["sequence"] for row in await events(database)]
    assert sequences == list(range(1, len(sequences) + 1))
    assert await counter(database) == len(sequences)


def changed_keys(before: dict[str, list[Any]], after: dict[str, list[Any]], table: str) -> set[Any]:
    """Primary keys (first column) of rows added, removed or modified between two snapshots."""
    old = {row[0]: row for row in before[table]}
    new = {row[0]: row for row in after[table]}
    return {key for key in old.keys() | new.keys() if old.get(key) != new.get(key)}


def instant(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset() == timedelta(0), value
    return parsed


async def remove_seeded_data(database) -> None:
    """Leave the database with no execution at all: tests that count exactly make their own."""
    async with database.engine.begin() as conn:
        for table in (
            bundle_table,
            decision_table,
            event_table,
            step_table,
            run_table,
            plan_table,
            intent_table,
            execution_table,
        ):
            await conn.execute(delete(table))
        await conn.execute(update(counter_table).values(value=0))
