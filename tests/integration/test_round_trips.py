"""The round trips of a decision and of the commands that write nothing, counted exactly, so that the ones
removed stay removed.

Counted: the statements SQLAlchemy sends through a cursor (`before_cursor_execute`, without transaction
control, as in test_statement_count.py), and the round trips: on SQLite the trips to the driver's thread
(app/db/sqlite_driver.py: a transaction's BEGIN rides with its first statement, the writes whose results
nobody reads ride with the COMMIT, reads and a writer's statements between its BEGIN IMMEDIATE and its COMMIT
run on the event loop's thread, counted apart as `inline`), on PostgreSQL every asyncpg call that waits for the
server (statements, BEGIN, COMMIT, a pool ping).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import asyncpg
import pytest
from gql.transport.exceptions import TransportQueryError
from sqlalchemy import event, text

from app.db import database as database_module
from app.db import sqlite_driver
from app.server import Services
from app.testing.documents import APPROVE, EXECUTIONS, PENDING_APPROVALS, REJECT
from tests.conftest import error_of, snapshot
from tests.integration.helpers import DEPLOY, PAYOUT, changed_keys

TRANSACTION_CONTROL = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)\b", re.IGNORECASE)
WHAT = re.compile(r"^\s*(SELECT|WITH|UPDATE \w+|INSERT INTO \w+|DELETE FROM \w+)", re.IGNORECASE)


PG_TRIPS = [0]


class Counted:
    def __init__(self) -> None:
        self.statements: list[str] = []
        self._trips = 0
        self._inline = 0

    @staticmethod
    def _now() -> int:
        return sqlite_driver.TRIPS[0] + PG_TRIPS[0]

    def clear(self) -> None:
        self.statements.clear()
        self._trips = self._now()
        self._inline = sqlite_driver.INLINE[0]

    @property
    def trips(self) -> int:
        """Round trips since `clear()`: to SQLite's driver thread, or to PostgreSQL (asyncpg)."""
        return self._now() - self._trips

    @property
    def inline(self) -> int:
        """SQLite: statements, commits and rollbacks run on the event loop's thread since `clear()` (no trip)."""
        return sqlite_driver.INLINE[0] - self._inline

    @property
    def kinds(self) -> list[str]:
        return [match.group(1) if (match := WHAT.match(s)) else s.split()[0] for s in self.statements]


def _count_asyncpg_round_trips(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every asyncpg call that waits for the server once: BEGIN, COMMIT, ROLLBACK and the ping's `;` (execute,
    fetchrow), a prepared statement (fetch). Not counted: the prepare of a statement's first use on a connection,
    a one-time cost per pooled connection (asyncpg keeps prepared statements per connection)."""
    for owner, name in (
        (asyncpg.connection.Connection, "execute"),
        (asyncpg.connection.Connection, "fetchrow"),
        (asyncpg.prepared_stmt.PreparedStatement, "fetch"),
    ):
        original = getattr(owner, name)

        async def counted(self: Any, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
            PG_TRIPS[0] += 1
            return await __original(self, *args, **kwargs)

        monkeypatch.setattr(owner, name, counted)


async def _warm_pool(services: Services) -> None:
    """Every pooled connection opened once, so that no counted request pays a connection's set-up trips."""
    engine = services.database.engine
    async with AsyncExitStack() as stack:
        for _ in range(services.settings.db_pool_size):
            connection = await stack.enter_async_context(engine.connect())
            await connection.execute(text("SELECT 1"))


@pytest.fixture
async def counted(services: Services, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Counted]:
    # A pooled PostgreSQL connection idle for long is pinged first (tested below): not while counting.
    monkeypatch.setattr(database_module, "PING_AFTER_IDLE_SECONDS", 3600.0)
    _count_asyncpg_round_trips(monkeypatch)
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
        # Precheck: the read alone (no BEGIN, no COMMIT), on the loop's thread. Writer: BEGIN IMMEDIATE + request;
        # the veto on the loop's thread (the write lock is held); the rest + COMMIT.
        assert counted.trips == 2
        assert counted.inline == 2
    else:
        # The precheck's read; then the execution's row lock, the request under it, the decision's writes, and
        # the events, whose statement also NOTIFYs the log's listeners (no separate `SELECT pg_notify`).
        assert counted.kinds == ["SELECT", "SELECT", "SELECT", *DECISION_WRITES, "WITH"]
        assert "FOR UPDATE" in counted.statements[1]
        assert "pg_notify" in counted.statements[-1]
        # The precheck's read alone (autocommit: no BEGIN, no COMMIT, no ping of a connection just used); then
        # BEGIN, the eight statements, COMMIT.
        assert counted.trips == 11


async def test_an_identical_replay_is_one_read(execute, services, counted):
    first = await execute(REJECT, reject(DEPLOY, "Freeze."))
    counted.clear()
    again = await execute(REJECT, reject(DEPLOY, "Freeze."))
    assert again == first
    assert counted.kinds == ["SELECT"]
    if services.database.is_sqlite:
        assert (counted.trips, counted.inline) == (0, 1), "the read alone, on the loop's thread: no BEGIN, no COMMIT"
    else:
        assert counted.trips == 1, "the read alone: no BEGIN, no COMMIT"


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
            assert (counted.trips, counted.inline) == (0, 1), code
        else:
            assert counted.trips == 1, code


async def test_a_page_is_one_read_alone_full_or_empty(execute, services, counted):
    """A list page with its exact total is one statement, the whole of its unit of work: on PostgreSQL one round
    trip (autocommit: no BEGIN, no COMMIT), on SQLite none (run on the loop's thread), also when it is empty."""
    for document, payload in (
        (EXECUTIONS, {"limit": 5}),
        (EXECUTIONS, {"workspaceId": "ws-none", "limit": 5}),
        (PENDING_APPROVALS, {"limit": 5}),
        (PENDING_APPROVALS, {"workspaceId": "ws-none", "limit": 5}),
        (PENDING_APPROVALS, {"limit": 5, "offset": 1000}),
    ):
        counted.clear()
        data = next(iter((await execute(document, {"input": payload})).values()))
        empty = payload.get("workspaceId") == "ws-none" or "offset" in payload
        assert (data["items"] == []) == empty, payload
        assert (data["total"] == 0) == (payload.get("workspaceId") == "ws-none"), payload
        assert counted.kinds == ["SELECT"], payload
        if services.database.is_sqlite:
            assert (counted.trips, counted.inline) == (0, 1), payload
        else:
            assert counted.trips == 1, payload


async def test_a_connection_idle_in_the_pool_is_pinged_and_a_dead_one_replaced(services, monkeypatch):
    """PostgreSQL: a pooled connection is pinged only after PING_AFTER_IDLE_SECONDS in the pool; one that died
    meanwhile fails its ping and the pool hands out a fresh one, so its user does not notice."""
    if services.database.is_sqlite:
        pytest.skip("SQLite connections are files, never pinged")
    engine = services.database.engine
    await engine.dispose()  # an empty pool: the next connection is the only one in it
    async with engine.connect() as connection:
        pid = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    outside = await asyncpg.connect(services.settings.resolved_database_url.replace("+asyncpg", ""))
    try:
        assert await outside.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await outside.close()
    monkeypatch.setattr(database_module, "PING_AFTER_IDLE_SECONDS", 0.0)
    await asyncio.sleep(0.05)
    async with engine.connect() as connection:
        assert (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one() != pid


_FAULT_SQLITE = (
    "CREATE TRIGGER injected_fault BEFORE INSERT ON approval_decision BEGIN SELECT RAISE(ABORT, 'injected fault'); END",
)
_FAULT_POSTGRESQL = (
    (
        "CREATE FUNCTION injected_fault() RETURNS trigger LANGUAGE plpgsql"
        " AS $$ BEGIN RAISE EXCEPTION 'injected fault'; END $$"
    ),
    "CREATE TRIGGER injected_fault BEFORE INSERT ON approval_decision FOR EACH ROW EXECUTE FUNCTION injected_fault()",
)
_HEAL_SQLITE = ("DROP TRIGGER injected_fault",)
_HEAL_POSTGRESQL = ("DROP TRIGGER injected_fault ON approval_decision", "DROP FUNCTION injected_fault()")


async def _run_ddl(services: Services, statements: tuple[str, ...]) -> None:
    async with services.database.engine.begin() as connection:
        for statement in statements:
            await connection.execute(text(statement))


async def test_a_write_that_fails_with_the_commit_rolls_the_whole_decision_back(
    execute, services, database, monkeypatch, caplog
):
    """Fault injection: the decision row's INSERT fails in the database (a trigger raises). On SQLite that statement
    is deferred and goes with the COMMIT, after the conditional update that claimed the step already ran: the commit
    must fail, nothing of the decision may remain (not the claim, not the vote, not the events), the client gets a
    masked internal error, and the connection and the writer are fine for the next decision."""
    sqlite = database.is_sqlite
    failed_commits: list[BaseException] = []
    original_commit = sqlite_driver.OneHopConnection.commit

    def watched_commit(self: sqlite_driver.OneHopConnection) -> None:
        try:
            original_commit(self)
        except BaseException as error:
            failed_commits.append(error)
            raise

    monkeypatch.setattr(sqlite_driver.OneHopConnection, "commit", watched_commit)
    caplog.set_level("ERROR")
    await _run_ddl(services, _FAULT_SQLITE if sqlite else _FAULT_POSTGRESQL)
    before = await snapshot(database)
    with pytest.raises(TransportQueryError) as refused:
        await execute(REJECT, reject(DEPLOY, "Freeze."))
    error = error_of(refused)
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert "injected" not in json.dumps(error)
    assert "injected fault" in caplog.text
    assert await snapshot(database) == before
    if sqlite:
        assert len(failed_commits) == 1, "the deferred INSERT failed with the COMMIT, not before it"

    await _run_ddl(services, _HEAL_SQLITE if sqlite else _HEAL_POSTGRESQL)
    if sqlite:
        assert not await _pooled_sqlite_connections_in_a_transaction(services)
    done = await execute(REJECT, reject(DEPLOY, "Freeze."))
    assert done["rejectExecutionStep"]["status"] == "rejected"
    assert changed_keys(before, await snapshot(database), "execution_step")


async def _pooled_sqlite_connections_in_a_transaction(services: Services) -> int:
    """How many of the pool's SQLite connections hold a transaction open (checked out all at once)."""
    engine, open_ones = services.database.engine, 0
    async with AsyncExitStack() as stack:
        for _ in range(services.settings.db_pool_size):
            connection = await stack.enter_async_context(engine.connect())
            raw = await connection.get_raw_connection()
            open_ones += bool(raw.driver_connection._conn.in_transaction)  # type: ignore[union-attr]
    return open_ones
