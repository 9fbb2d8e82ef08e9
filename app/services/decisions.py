"""Approve or reject a step awaiting a decision.

A decision is a conditional update on the step's status (`... WHERE status = 'awaiting_approval'`),
never a read followed by a write: when two operators decide at the same moment the database lets
exactly one update through, on SQLite and PostgreSQL alike; the other sees zero rows and gets
CONFLICT. Everything a decision writes happens in the caller's single transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal
from app.contracts.control_plane.commands.approve import (
    ControlPlaneExecutionApproveInput,
    ControlPlaneExecutionApproveOutput,
)
from app.contracts.control_plane.commands.reject import (
    ControlPlaneExecutionRejectInput,
    ControlPlaneExecutionRejectOutput,
)
from app.contracts.control_plane.events import execution_failed, step_approved, step_blocked
from app.contracts.control_plane.shared import TERMINAL_EXECUTION_STATUSES
from app.db.tables import decision_table as decision_t
from app.db.tables import execution_table as execution_t
from app.db.tables import step_table as step_t
from app.errors import Conflict, NotFound
from app.services.common import NewEvent, append_events, new_id, utcnow

AWAITING = "awaiting_approval"
STEP_REJECTED = "STEP_REJECTED"


@dataclass(frozen=True, slots=True)
class _Target:
    run_id: str | None
    position: int


@dataclass(frozen=True, slots=True)
class _Decided:
    status: str
    decided_by: str | None
    decided_at: datetime | None
    note: str | None


async def _find(session: AsyncSession, execution_id: str, step_id: str) -> _Target:
    """One round trip tells apart "no such execution" and "no such step in it"."""
    row = (
        await session.execute(
            select(execution_t.c.run_id, step_t.c.position)
            .select_from(execution_t)
            .outerjoin(step_t, and_(step_t.c.id == step_id, step_t.c.execution_id == execution_t.c.id))
            .where(execution_t.c.id == execution_id)
        )
    ).one_or_none()
    if row is None:
        raise NotFound(f"Execution {execution_id!r} does not exist.")
    if row.position is None:
        raise NotFound(f"Step {step_id!r} is not a step of execution {execution_id!r}.")
    return _Target(run_id=row.run_id, position=row.position)


async def _decide(session: AsyncSession, step_id: str, status: str, actor: str, note: str | None, at: datetime) -> bool:
    result: Any = await session.execute(
        update(step_t)
        .where(step_t.c.id == step_id, step_t.c.status == AWAITING)
        .values(status=status, decided_by=actor, decided_at=at, decision_note=note, updated_at=at)
    )
    return bool(result.rowcount == 1)


async def _current(session: AsyncSession, step_id: str) -> _Decided:
    row = (
        await session.execute(
            select(step_t.c.status, step_t.c.decided_by, step_t.c.decided_at, step_t.c.decision_note).where(
                step_t.c.id == step_id
            )
        )
    ).one()
    return _Decided(row.status, row.decided_by, row.decided_at, row.decision_note)


async def _record_decision(
    session: AsyncSession, execution_id: str, step_id: str, decision: str, actor: str, note: str | None, at: datetime
) -> None:
    await session.execute(
        insert(decision_t).values(
            id=new_id("dec"),
            step_id=step_id,
            execution_id=execution_id,
            decision=decision,
            actor=actor,
            note=note,
            decided_at=at,
        )
    )


async def reject_step(
    session: AsyncSession, principal: Principal | None, data: ControlPlaneExecutionRejectInput
) -> ControlPlaneExecutionRejectOutput:
    target = await _find(session, data.execution_id, data.step_id)
    now = utcnow()
    if not await _decide(session, data.step_id, "rejected", data.rejected_by, data.reason, now):
        current = await _current(session, data.step_id)
        replay = (
            current.status == "rejected"
            and current.decided_by == data.rejected_by
            and current.note == data.reason
            and current.decided_at is not None
        )
        if not replay:
            raise Conflict(_conflict_message(data.step_id, current), current.status)
        assert current.decided_at is not None
        return ControlPlaneExecutionRejectOutput(
            execution_id=data.execution_id, step_id=data.step_id, status="rejected", rejected_at=current.decided_at
        )
    await _record_decision(session, data.execution_id, data.step_id, "rejected", data.rejected_by, data.reason, now)
    await session.execute(
        update(execution_t)
        .where(execution_t.c.id == data.execution_id, execution_t.c.status.not_in(TERMINAL_EXECUTION_STATUSES))
        .values(status="rejected", updated_at=now)
    )
    await session.execute(
        update(step_t)
        .where(
            step_t.c.execution_id == data.execution_id,
            step_t.c.position > target.position,
            step_t.c.status == "pending",
        )
        .values(status="skipped", updated_at=now)
    )
    await append_events(
        session,
        [
            NewEvent(
                step_blocked.SPEC,
                step_blocked.ControlPlaneExecutionStepBlockedPayload(
                    execution_id=data.execution_id,
                    run_id=target.run_id,
                    step_id=data.step_id,
                    blocked_at=now,
                    reason=data.reason,
                ),
                now,
                data.execution_id,
                data.step_id,
                data.rejected_by,
            ),
            NewEvent(
                execution_failed.SPEC,
                execution_failed.ControlPlaneExecutionFailedPayload(
                    execution_id=data.execution_id,
                    run_id=target.run_id,
                    failed_at=now,
                    error_code=STEP_REJECTED,
                    error_message=f"Step {data.step_id} was rejected by {data.rejected_by}: {data.reason}",
                ),
                now,
                data.execution_id,
                data.step_id,
                data.rejected_by,
            ),
        ],
    )
    return ControlPlaneExecutionRejectOutput(
        execution_id=data.execution_id, step_id=data.step_id, status="rejected", rejected_at=now
    )


async def approve_step(
    session: AsyncSession, principal: Principal | None, data: ControlPlaneExecutionApproveInput
) -> ControlPlaneExecutionApproveOutput:
    target = await _find(session, data.execution_id, data.step_id)
    now = utcnow()
    if not await _decide(session, data.step_id, "approved", data.approved_by, data.note, now):
        current = await _current(session, data.step_id)
        replay = (
            current.status == "approved"
            and current.decided_by == data.approved_by
            and current.note == data.note
            and current.decided_at is not None
        )
        if not replay:
            raise Conflict(_conflict_message(data.step_id, current), current.status)
        assert current.decided_at is not None
        return ControlPlaneExecutionApproveOutput(
            execution_id=data.execution_id, step_id=data.step_id, status="approved", approved_at=current.decided_at
        )
    await _record_decision(session, data.execution_id, data.step_id, "approved", data.approved_by, data.note, now)
    still_waiting = exists().where(step_t.c.execution_id == data.execution_id, step_t.c.status == AWAITING)
    await session.execute(
        update(execution_t)
        .where(execution_t.c.id == data.execution_id, execution_t.c.status == AWAITING, ~still_waiting)
        .values(status="running", updated_at=now)
    )
    await append_events(
        session,
        [
            NewEvent(
                step_approved.SPEC,
                step_approved.ControlPlaneExecutionStepApprovedPayload(
                    execution_id=data.execution_id,
                    run_id=target.run_id,
                    step_id=data.step_id,
                    approved_at=now,
                    approved_by=data.approved_by,
                    note=data.note,
                ),
                now,
                data.execution_id,
                data.step_id,
                data.approved_by,
            )
        ],
    )
    return ControlPlaneExecutionApproveOutput(
        execution_id=data.execution_id, step_id=data.step_id, status="approved", approved_at=now
    )


def _conflict_message(step_id: str, current: _Decided) -> str:
    if current.status in ("approved", "rejected") and current.decided_by:
        return (
            f"Step {step_id!r} was already {current.status} by {current.decided_by!r}; it no longer awaits a decision."
        )
    return f"Step {step_id!r} is {current.status!r}, not awaiting approval."
