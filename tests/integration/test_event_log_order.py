"""A property of the event log: N writers append concurrently, with transactions that overlap and commit
in any order, while a reader pages with cursors as fast as it can; what the reader saw is exactly the
committed log, in order, with no gap and no duplicate (on the database of `--db`; on PostgreSQL the
writers hold real concurrent transactions, so a smaller position may commit later than a larger one)."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text

from app.auth import Principal
from app.contracts.control_plane.events import step_blocked
from app.db.tables import event_table, execution_table
from app.services.kernel.event_log import NewEvent, append_events
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


class _Abandon(Exception):
    """Raised inside a writer's transaction to roll it back."""


def abandon() -> None:
    raise _Abandon
