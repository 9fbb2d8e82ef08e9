"""The round trips of a decision and of the commands that write nothing, counted exactly, so that the ones
removed stay removed.

Counted: the statements SQLAlchemy sends through a cursor (`before_cursor_execute`, without transaction
control, as in test_statement_count.py) and, on SQLite, the trips to the driver's thread
(app/db/sqlite_driver.py: a transaction's BEGIN rides with its first statement, the writes whose results
nobody reads ride with the COMMIT, a read-only transaction's COMMIT is its only other trip). On PostgreSQL
each statement is a round trip, and so are BEGIN and COMMIT (asyncpg sends them outside any cursor).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import pytest
from gql.transport.exceptions import TransportQueryError
from sqlalchemy import event, text

from app.db import sqlite_driver
from app.server import Services
from app.testing.documents import APPROVE, REJECT
from tests.conftest import error_of
from tests.integration.helpers import DEPLOY, PAYOUT

TRANSACTION_CONTROL = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)\b", re.IGNORECASE)
WHAT = re.compile(r"^\s*(SELECT|WITH|UPDATE \w+|INSERT INTO \w+|DELETE FROM \w+)", re.IGNORECASE)


class Counted:
    def __init__(self) -> None:
        self.statements: list[str] = []
        self._trips = 0

    def clear(self) -> None:
        self.statements.clear()
        self._trips = sqlite_driver.TRIPS[0]

    @property
    def trips(self) -> int:
        """Trips to SQLite's driver thread since `clear()`."""
        return sqlite_driver.TRIPS[0] - self._trips

    @property
    def kinds(self) -> list[str]:
        return [match.group(1) if (match := WHAT.match(s)) else s.split()[0] for s in self.statements]


async def _warm_pool(services: Services) -> None:
    """Every pooled connection opened once, so that no counted request pays a connection's set-up trips."""
    engine = services.database.engine
    async with AsyncExitStack() as stack:
        for _ in range(services.settings.db_pool_size):
            connection = await stack.enter_async_context(engine.connect())
            await connection.execute(text("SELECT 1"))


@pytest.fixture
async def counted(services: Services) -> AsyncIterator[Counted]:
    counted = Counted()
    await _warm_pool(services)

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not TRANSACTION_CONTROL.match(statement):
            counted.statements.append(" ".join(statement.split()))

    engine = services.database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    yield counted
    event.remove(engine, "before_cursor_execute", record)


def reject(step: dict[str, str], reason: str, by: str = "dana") -> dict[str, Any]:
    return {"input": {**step, "rejectedBy": by, "reason": reason}}


DECISION_WRITES = [
    "UPDATE execution_step",  # the conditional update that decides (the veto)
    "INSERT INTO approval_vote",
    "INSERT INTO approval_decision",
    "UPDATE execution",  # the execution ends
    "UPDATE execution_step",  # its later steps are skipped
]


async def test_a_reject_sends_each_statement_once_in_few_round_trips(execute, services, counted):
    counted.clear()
    await execute(REJECT, reject(DEPLOY, "Freeze."))
    if services.database.is_sqlite:
        # The precheck's read; then, in the writer: the request (no lock statement: SQLite has one writer and
        # no row locks), the decision's writes, the events.
        assert counted.kinds == ["SELECT", "SELECT", *DECISION_WRITES, "INSERT INTO execution_event"]
        # Precheck: BEGIN + read, COMMIT. Writer: BEGIN IMMEDIATE + request, veto, the rest + COMMIT.
        assert counted.trips == 5
    else:
        # The precheck's read; then the execution's row lock, the request under it, the decision's writes, and
        # the events, whose statement also NOTIFYs the log's listeners (no separate `SELECT pg_notify`).
        assert counted.kinds == ["SELECT", "SELECT", "SELECT", *DECISION_WRITES, "WITH"]
        assert "FOR UPDATE" in counted.statements[1]
        assert "pg_notify" in counted.statements[-1]


async def test_an_identical_replay_is_one_read(execute, services, counted):
    first = await execute(REJECT, reject(DEPLOY, "Freeze."))
    counted.clear()
    again = await execute(REJECT, reject(DEPLOY, "Freeze."))
    assert again == first
    assert counted.kinds == ["SELECT"]
    if services.database.is_sqlite:
        assert counted.trips == 2, "BEGIN + the read, then COMMIT"


async def test_a_conflict_and_a_not_found_are_one_read_each(execute, services, counted):
    for document, payload, code in (
        (REJECT, reject(PAYOUT, "Another reason than the seed's."), "CONFLICT"),
        (APPROVE, {"input": {"executionId": "exec-nope", "stepId": "s", "approvedBy": "dana"}}, "NOT_FOUND"),
    ):
        counted.clear()
        with pytest.raises(TransportQueryError) as refused:
            await execute(document, payload)
        assert error_of(refused)["extensions"]["code"] == code
        assert counted.kinds == ["SELECT"], code
        if services.database.is_sqlite:
            assert counted.trips == 2, code
