"""The event log: append events with gap-free sequence numbers in the caller's transaction."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import bindparam, insert, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.contracts.model import EventSpec
from app.contracts.naming import camel
from app.db.tables import counter_table, event_table

EVENT_SEQUENCE = "events"


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
