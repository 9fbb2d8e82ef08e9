"""Small helpers the services share: time, ids, event appends."""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Row, Select, bindparam, func, insert, select, update
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


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id(prefix: str) -> str:
    """Time-ordered, unguessable: `dec_0194f1c2a7b3e4f5a6b7c8d9`."""
    return f"{prefix}_{int(time.time() * 1000):012x}{secrets.token_hex(6)}"


# Built once: hot-path statements reuse their compiled form instead of being rebuilt per request.
_TAKE_SEQUENCE = (
    update(counter_table)
    .where(counter_table.c.name == bindparam("sequence"))
    .values(value=counter_table.c.value + bindparam("count"))
    .returning(counter_table.c.value)
)
_INSERT_EVENT = insert(event_table)


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


async def append_events(session: AsyncSession, events: list[NewEvent]) -> list[int]:
    """Append events with gap-free sequence numbers taken in the caller's transaction.

    The counter row is updated first: on PostgreSQL its row lock orders concurrent writers, and
    a rollback returns the numbers, so the log never has holes.
    """
    for item in events:
        if not isinstance(item.payload, item.spec.payload):
            raise TypeError(f"{item.spec.key} needs a {item.spec.payload.__name__} payload")
    last = (await session.execute(_TAKE_SEQUENCE, {"sequence": EVENT_SEQUENCE, "count": len(events)})).scalar_one()
    first = last - len(events) + 1
    rows: list[dict[str, Any]] = [
        {
            "sequence": first + index,
            "event_key": item.spec.key,
            "event_version": item.spec.version,
            "execution_id": item.execution_id,
            "step_id": item.step_id,
            "actor": item.actor,
            "payload": payload_json(item.payload),
            "occurred_at": item.occurred_at,
        }
        for index, item in enumerate(events)
    ]
    await session.execute(_INSERT_EVENT, rows)
    return [row["sequence"] for row in rows]
