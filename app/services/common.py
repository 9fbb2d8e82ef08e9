"""Small helpers the services share: time, ids, event appends."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Row, Select, bindparam, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.contracts.control_plane.constants import DEFAULT_PAGE_SIZE
from app.contracts.model import EventSpec
from app.contracts.naming import camel
from app.db.tables import counter_table, event_table

EVENT_SEQUENCE = "events"


async def page(session: AsyncSession, query: Select[Any], limit: int | None, offset: int | None) -> Page:
    """One page of `query` and the total it would return unpaged (two statements, same filters)."""
    total = (await session.execute(select(func.count()).select_from(query.order_by(None).subquery()))).scalar_one()
    rows = (await session.execute(query.limit(limit or DEFAULT_PAGE_SIZE).offset(offset or 0))).all()
    return Page(total=total, rows=rows)


@dataclass(frozen=True, slots=True)
class Page:
    total: int
    rows: Sequence[Row[Any]]


Clock = Callable[[], datetime]
IdFactory = Callable[[str], str | None]

# Replaced only while seeding (see `replayed_as`), so a seeded data set gets readable, stable ids and
# realistic times while going through exactly the same services as every client.
_clock: ContextVar[Clock | None] = ContextVar("clock", default=None)
_ids: ContextVar[IdFactory | None] = ContextVar("ids", default=None)


def utcnow() -> datetime:
    clock = _clock.get()
    return clock() if clock is not None else datetime.now(UTC)


def new_id(prefix: str) -> str:
    """Time-ordered, unguessable: `dec_0194f1c2a7b3e4f5a6b7c8d9`."""
    factory = _ids.get()
    chosen = factory(prefix) if factory is not None else None
    return chosen or f"{prefix}_{int(time.time() * 1000):012x}{secrets.token_hex(6)}"


@contextmanager
def replayed_as(clock: Clock, ids: IdFactory) -> Iterator[None]:
    """Within the block (this task only), services read time from `clock` and ask `ids` for new ids
    (None from `ids` falls back to a random id)."""
    clock_token, ids_token = _clock.set(clock), _ids.set(ids)
    try:
        yield
    finally:
        _clock.reset(clock_token)
        _ids.reset(ids_token)


# Built once: hot-path statements reuse their compiled form instead of being rebuilt per request.
_TAKE_SEQUENCE = (
    update(counter_table)
    .where(counter_table.c.name == bindparam("sequence"))
    .values(value=counter_table.c.value + bindparam("count"))
    .returning(counter_table.c.value)
)
_INSERT_EVENT = insert(event_table)
_NUMBER_AND_INSERT_PG = text(
    """
    WITH seq AS (
        UPDATE event_counter SET value = value + :count WHERE name = :sequence RETURNING value
    )
    INSERT INTO execution_event
        (sequence, event_key, event_version, execution_id, run_id, step_id, actor, payload, occurred_at)
    SELECT seq.value - :count + e.ordinal, e.event_key, e.event_version, e.execution_id, e.run_id, e.step_id,
           e.actor, e.payload, e.occurred_at
    FROM seq, jsonb_to_recordset(CAST(:events AS jsonb)) AS e(
        ordinal bigint, event_key text, event_version text, execution_id text, run_id text, step_id text,
        actor text, payload jsonb, occurred_at timestamptz)
    ORDER BY e.ordinal
    RETURNING sequence
    """
)


def payload_json(payload: BaseModel) -> dict[str, Any]:
    """Stored with the contract's field names (`executionId`), as consumers of the outbox read them."""
    return {camel(name): value for name, value in payload.model_dump(mode="json").items()}


@dataclass(frozen=True, slots=True)
class NewEvent:
    spec: EventSpec
    payload: BaseModel
    occurred_at: datetime
    execution_id: str | None = None
    step_id: str | None = None
    actor: str | None = None
    run_id: str | None = None


async def append_events(session: AsyncSession, events: list[NewEvent]) -> list[int]:
    """Append events with gap-free sequence numbers taken in the caller's transaction.

    The counter row is updated first: on PostgreSQL its row lock orders concurrent writers, and
    a rollback returns the numbers, so the log never has holes.
    """
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
    if session.get_bind().dialect.name == "postgresql":
        # Number and insert in one statement: the counter's row lock is then held only from here to
        # COMMIT, not across another round trip, which is what serializes concurrent deciders.
        for row in rows:
            row["occurred_at"] = row["occurred_at"].isoformat()
        params = {"sequence": EVENT_SEQUENCE, "count": len(rows), "events": json.dumps(rows)}
        return list((await session.execute(_NUMBER_AND_INSERT_PG, params)).scalars())
    last = (await session.execute(_TAKE_SEQUENCE, {"sequence": EVENT_SEQUENCE, "count": len(rows)})).scalar_one()
    first = last - len(rows) + 1
    for row in rows:
        row["sequence"] = first + row.pop("ordinal") - 1
    await session.execute(_INSERT_EVENT, rows)
    return [row["sequence"] for row in rows]
