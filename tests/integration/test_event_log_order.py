"""A property of the event log: N writers append concurrently, with transactions that overlap and commit
in any order, while a reader pages with cursors as fast as it can; what the reader saw is exactly the
committed log, in order, with no gap and no duplicate (on the database of `--db`; on PostgreSQL the
writers hold real concurrent transactions, so a smaller position may commit later than a larger one)."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from sqlalchemy import func, select, text

from app.auth import Principal
from app.contracts.control_plane.events import step_blocked
from app.db.tables import event_table, execution_table
from app.services.kernel.event_log import POSITIONS_PER_TRANSACTION, NewEvent, append_events
from app.services.kernel.event_reader import read_after
from tests.integration.helpers import assert_gap_free, fetch

WRITERS = 8
TRANSACTIONS_PER_WRITER = 12
EVERYONE = Principal.of("reader", {"admin"}, {"*"})


def blocked(execution_id: str, note: str) -> NewEvent:
    now = datetime.now(UTC)
    payload = step_blocked.ControlPlaneExecutionStepBlockedPayload(
        execution_id=execution_id, blocked_at=now, reason=note
    )
    return NewEvent(spec=step_blocked.SPEC, payload=payload, occurred_at=now, execution_id=execution_id)


async def test_a_paging_reader_sees_exactly_the_committed_log_in_order(database):
    executions = [
        row["id"] for row in await fetch(database, select(execution_table.c.id).order_by(execution_table.c.id))
    ]
    rng = random.Random(7)
    done = asyncio.Event()
    rolled_back = 0

    async def writer(number: int) -> None:
        nonlocal rolled_back
        for count in range(TRANSACTIONS_PER_WRITER):
            execution_id = rng.choice(executions)
            try:
                async with database.unit_of_work(write=True) as session:
                    # Lock the execution as every command does, then hold the transaction open a while
                    # before and after appending, so transactions overlap and commit out of order.
                    await session.execute(
                        select(execution_table.c.id).where(execution_table.c.id == execution_id).with_for_update()
                    )
                    if database.engine.dialect.name == "postgresql":
                        await session.execute(text("SELECT pg_current_xact_id()"))
                    await asyncio.sleep(rng.random() * 0.02)
                    events = [
                        blocked(execution_id, f"writer {number} tx {count} event {i}") for i in range(rng.randint(1, 3))
                    ]
                    await append_events(session, events)
                    await asyncio.sleep(rng.random() * 0.02)
                    if count % 5 == 4:
                        abandon()  # rolled back: its events must never be seen
            except _Abandon:
                rolled_back += 1

    seen: list[Any] = []

    async def committed() -> list[int]:
        rows = await fetch(database, select(event_table.c.sequence).order_by(event_table.c.sequence))
        return [row["sequence"] for row in rows]

    async def reader() -> None:
        """Pages until the writers are done and it has read as many events as were committed. On PostgreSQL
        the reader may lag (it waits for every older transaction of the cluster, other databases' too), but a
        skipped event would keep it short forever: the test's timeout then fails it."""
        after = None
        while True:
            async with database.unit_of_work(write=False) as session:
                page = await read_after(session, principal=EVERYONE, after=after, limit=7)
            seen.extend(page)
            if page:
                after = page[-1].cursor
            elif done.is_set() and len(seen) >= len(await committed()):
                return
            else:
                await asyncio.sleep(0.01)

    reading = asyncio.create_task(reader())
    await asyncio.gather(*(writer(number) for number in range(WRITERS)))
    done.set()
    await asyncio.wait_for(reading, timeout=120)

    log = await committed()
    positions = [event.position for event in seen]
    assert len(positions) == len(set(positions)), "an event was seen twice"
    assert positions == log, "the reader's log differs from the committed one"
    assert rolled_back == WRITERS * (TRANSACTIONS_PER_WRITER // 5)
    reasons = [str(event.payload.get("reason", "")) for event in seen]
    assert not any(" tx 4 " in reason or " tx 9 " in reason for reason in reasons)
    await assert_gap_free(database)


async def _append_one(database: Any, note: str) -> None:
    execution_id = (await fetch(database, select(execution_table.c.id).limit(1)))[0]["id"]
    async with database.unit_of_work(write=True) as session:
        await append_events(session, [blocked(execution_id, note)])


async def _reasons(database: Any) -> list[str]:
    """The reasons of every step.blocked event a reader sees now, paging through the whole log."""
    reasons: list[str] = []
    after = None
    while True:
        async with database.unit_of_work(write=False) as session:
            page = await read_after(session, principal=EVERYONE, after=after, limit=500)
        reasons += [str(event.payload.get("reason", "")) for event in page]
        if len(page) < 500:
            return reasons
        after = page[-1].cursor


async def test_a_transaction_in_flight_in_this_database_holds_readers_back_until_it_ends(database):
    """The horizon (PostgreSQL): an older transaction of this database that is still open might yet append
    below what commits after it, so nothing after it is shown until it ends; then everything is."""
    if database.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: SQLite has one writer, so positions are in commit order")
    async with database.engine.connect() as older:
        transaction = await older.begin()
        await older.execute(text("SELECT pg_current_xact_id()"))  # it has an id: it could still write
        await _append_one(database, "committed after an older transaction began")
        assert "committed after an older transaction began" not in await _reasons(database)
        await transaction.rollback()
    assert "committed after an older transaction began" in await _reasons(database)


async def test_a_long_transaction_of_another_database_does_not_hold_this_log_back(database, backend):
    """A session of another database can never append to this log, so its open transaction (a migration or
    a bulk load elsewhere in the cluster) must not delay what readers here see, as it would if the horizon
    were the cluster-wide `pg_snapshot_xmin`."""
    if database.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: an SQLite database is a file of its own")
    other = await asyncpg.connect(backend.admin_url)  # the cluster's maintenance database, not this one
    try:
        await other.execute("BEGIN")
        assert await other.fetchval("SELECT pg_current_xact_id()") is not None
        await _append_one(database, "committed while another database's transaction is open")
        assert "committed while another database's transaction is open" in await _reasons(database)
        # The same transaction really is older than the event: the cluster-wide horizon would have hidden it.
        async with database.engine.connect() as connection:
            cluster_wide = (
                await connection.execute(text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint"))
            ).scalar_one()
            newest = (await connection.execute(select(func.max(event_table.c.sequence)))).scalar_one()
        assert cluster_wide * POSITIONS_PER_TRANSACTION <= newest
    finally:
        await other.execute("ROLLBACK")
        await other.close()


class _Abandon(Exception):
    """Raised inside a writer's transaction to roll it back."""


def abandon() -> None:
    raise _Abandon
