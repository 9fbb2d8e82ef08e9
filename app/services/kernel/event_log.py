"""The event log: append events in the caller's transaction, each with a global position and, for an
execution's events, a per-execution stream version (1, 2, 3 ... without gaps).

Positions, and why they are made this way. Readers page through the log with a cursor (a position)
and must see every event exactly once: never skip one that commits later with a smaller position.
A counter row would give that by serializing every writer on one row lock, which is exactly what kept
two PostgreSQL server processes from running faster than one. Instead:

- PostgreSQL: an event's position is `xid × 1,000,000 + n`, where `xid` is its transaction's id
  (`pg_current_xact_id()`, assigned in increasing order) and `n` counts the transaction's events.
  No row is shared between writers. A reader only returns positions below its horizon × 1,000,000: the
  oldest transaction id still in progress in its snapshot, leaving out transactions of sessions known to be
  connected to other databases (`pg_snapshot_xmin(pg_current_snapshot())` without those): every transaction
  with a smaller id that could write here has ended, so no event can still appear below what a reader has
  seen (app/services/kernel/event_reader.py).
  Positions grow in the order readers see them; they are unique but not gap-free.
- SQLite has one writer at a time, so commit order is insertion order: positions are 1, 2, 3 ...

The stream version is taken under the execution row lock every command already holds (the lifecycle,
decisions and the sweeper lock the execution before they write), as the next after the execution's
last; a unique index on (execution_id, stream_version) backs it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import bindparam, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.contracts.model import EventSpec
from app.contracts.naming import camel
from app.db.database import NOTIFY_SQL
from app.db.sqlite_driver import DEFERRED
from app.db.tables import event_table, execution_table

POSITIONS_PER_TRANSACTION = 1_000_000
"""PostgreSQL: the positions a transaction may take (its id times this, plus its events' count)."""

# Built once: hot-path statements reuse their compiled form instead of being rebuilt per request.
# SQLite: each row's position and stream version are computed when that row is inserted, so the rows
# of one executemany number themselves in order.
_stream = event_table.alias("earlier")
# inline(): no RETURNING of the generated id (nobody reads it), so the statement can wait for the next trip.
_INSERT_SQLITE = (
    insert(event_table)
    .inline()
    .values(
        sequence=select(func.coalesce(func.max(event_table.c.sequence), 0) + 1).scalar_subquery(),
        stream_version=select(func.coalesce(func.max(_stream.c.stream_version), 0) + 1)
        .where(_stream.c.execution_id == bindparam("b_execution"))
        .scalar_subquery(),
        workspace_id=select(execution_table.c.workspace_id)
        .where(execution_table.c.id == bindparam("b_execution"))
        .scalar_subquery(),
    )
    .execution_options(**{DEFERRED: True})
)  # nothing reads its result: sent with the next trip (sqlite_driver.py)
# It also wakes the log's listeners (NOTIFY, delivered at commit: app/db/database.py) in the same round trip.
_INSERT_PG = text(
    f"""
    WITH tx AS (SELECT pg_current_xact_id()::text::bigint * :span AS base),
    notified AS (SELECT {NOTIFY_SQL}),
    last AS (
        SELECT coalesce(max(sequence), (SELECT base FROM tx)) AS position FROM execution_event
        WHERE sequence > (SELECT base FROM tx) AND sequence < (SELECT base FROM tx) + :span
    ),
    streams AS (
        SELECT x.execution_id, max(x.stream_version) AS version FROM execution_event x
        WHERE x.execution_id IN (
            SELECT e.execution_id FROM jsonb_to_recordset(CAST(:events AS jsonb)) AS e(execution_id text)
        )
        GROUP BY x.execution_id
    )
    INSERT INTO execution_event
        (sequence, stream_version, workspace_id, event_key, event_version, execution_id, run_id, step_id, actor,
         payload, occurred_at)
    SELECT last.position + e.ordinal,
           CASE WHEN e.execution_id IS NULL THEN NULL ELSE
               coalesce(streams.version, 0) + row_number() OVER (PARTITION BY e.execution_id ORDER BY e.ordinal)
           END,
           execution.workspace_id, e.event_key, e.event_version, e.execution_id, e.run_id, e.step_id, e.actor,
           e.payload, e.occurred_at
    FROM last, notified, jsonb_to_recordset(CAST(:events AS jsonb)) AS e(
        ordinal bigint, event_key text, event_version text, execution_id text, run_id text, step_id text,
        actor text, payload jsonb, occurred_at timestamptz)
    LEFT JOIN streams ON streams.execution_id = e.execution_id
    LEFT JOIN execution ON execution.id = e.execution_id
    ORDER BY e.ordinal
    """  # noqa: S608 - NOTIFY_SQL is a constant of app/db, not input
)


_NEXT_PG = text(
    """
    WITH tx AS (SELECT pg_current_xact_id()::text::bigint * :span AS base)
    SELECT coalesce(max(sequence), (SELECT base FROM tx)) + 1 FROM execution_event
    WHERE sequence > (SELECT base FROM tx) AND sequence < (SELECT base FROM tx) + :span
    """
)


async def next_position(session: AsyncConnection) -> int:
    """The position this transaction's next event takes (for writers that insert events in bulk)."""
    if session.dialect.name == "postgresql":
        position: int = (await session.execute(_NEXT_PG, {"span": POSITIONS_PER_TRANSACTION})).scalar_one()
        return position
    last = (await session.execute(select(func.max(event_table.c.sequence)))).scalar_one()
    return int(last or 0) + 1


def payload_json(payload: BaseModel) -> dict[str, Any]:
    """Stored with the contract's field names (`executionId`), as consumers of the outbox read them."""
    return {camel(name): value for name, value in payload.model_dump(mode="json").items()}


@dataclass(frozen=True, slots=True, kw_only=True)
class NewEvent:
    """One event to append; keyword-only, so every call names what it fills in."""

    spec: EventSpec
    payload: BaseModel
    occurred_at: datetime
    execution_id: str | None = None
    step_id: str | None = None
    actor: str | None = None
    run_id: str | None = None


@dataclass(frozen=True, slots=True)
class Move:
    """One move of a command: which run of which execution, who makes it and when. Every event of the
    move records these, so `event` only needs what differs (its contract, payload and step)."""

    execution_id: str
    run_id: str | None
    actor: str | None
    at: datetime

    def event(self, spec: EventSpec, payload: BaseModel, *, step_id: str | None = None) -> NewEvent:
        return NewEvent(
            spec=spec,
            payload=payload,
            occurred_at=self.at,
            execution_id=self.execution_id,
            step_id=step_id,
            actor=self.actor,
            run_id=self.run_id,
        )


async def append_events(session: AsyncConnection, events: list[NewEvent]) -> None:
    """Append events in the caller's transaction, in one statement."""
    for item in events:
        # Checked again here, not only when the payload was built: a model of another event, or one
        # made with model_construct (which skips validation), must never reach the log.
        if type(item.payload) is not item.spec.payload:
            raise TypeError(f"{item.spec.key} needs a {item.spec.payload.__name__} payload")
        item.spec.payload.model_validate(item.payload.model_dump())
    rows: list[dict[str, Any]] = [
        {
            "ordinal": index + 1,
            "event_key": item.spec.key,
            "event_version": item.spec.version,
            "execution_id": item.execution_id,
            "run_id": item.run_id,
            "step_id": item.step_id,
            "actor": item.actor,
            "payload": payload_json(item.payload),
            "occurred_at": item.occurred_at,
        }
        for index, item in enumerate(events)
    ]
    if not rows:
        return
    if session.dialect.name == "postgresql":
        for row in rows:
            row["occurred_at"] = row["occurred_at"].isoformat()
        await session.execute(_INSERT_PG, {"events": json.dumps(rows), "span": POSITIONS_PER_TRANSACTION})
        return
    for row in rows:
        del row["ordinal"]
        row["b_execution"] = row["execution_id"]
    await session.execute(_INSERT_SQLITE, rows)
