"""Approve or reject a step awaiting a decision.

A decision is a conditional update on the step's status (`... WHERE status = 'awaiting_approval'`),
never a read followed by a write: when two operators decide at the same moment the database lets
exactly one update through, on SQLite and PostgreSQL alike; the other sees zero rows and gets
CONFLICT. Everything a decision writes happens in the caller's single transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, bindparam, exists, insert, or_, select, update
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
class _Claimed:
    position: int
    run_id: str | None


@dataclass(frozen=True, slots=True)
class _Decided:
    status: str
    decided_by: str | None
    decided_at: datetime | None
    note: str | None
    execution_status: str


# Built once with bind parameters: the decision path reuses their compiled form on every request.
# The execution row is locked first (FOR UPDATE in the CTE; SQLite serializes writers anyway), then
# the step: the same order as every lifecycle command (app/services/progress.py), so a decision and,
# say, a cancel of the same execution queue up instead of deadlocking on PostgreSQL.
_LIVE_EXECUTION = (
    select(execution_t.c.id)
    .where(execution_t.c.id == bindparam("b_execution_id"), execution_t.c.status.not_in(TERMINAL_EXECUTION_STATUSES))
    .with_for_update()
    .cte("live_execution")
)
_CLAIM = (
    update(step_t)
    .where(
        step_t.c.id == bindparam("b_step_id"),
        step_t.c.execution_id.in_(select(_LIVE_EXECUTION.c.id)),
        step_t.c.status == AWAITING,
    )
    .values(
        status=bindparam("b_status"),
        decided_by=bindparam("b_actor"),
        decided_at=bindparam("b_at"),
        decision_note=bindparam("b_note"),
        updated_at=bindparam("b_at"),
    )
    .returning(
        step_t.c.position,
        select(execution_t.c.run_id).where(execution_t.c.id == step_t.c.execution_id).scalar_subquery(),
    )
)
_CURRENT = (
    select(
        step_t.c.id,
        step_t.c.status,
        step_t.c.decided_by,
        step_t.c.decided_at,
        step_t.c.decision_note,
        execution_t.c.status.label("execution_status"),
    )
    .select_from(execution_t)
    .outerjoin(step_t, and_(step_t.c.id == bindparam("b_step_id"), step_t.c.execution_id == execution_t.c.id))
    .where(execution_t.c.id == bindparam("b_execution_id"))
)
_RECORD_DECISION = insert(decision_t)
_END_EXECUTION = (
    update(execution_t)
    .where(execution_t.c.id == bindparam("b_execution_id"), execution_t.c.status.not_in(TERMINAL_EXECUTION_STATUSES))
    .values(status="rejected", updated_at=bindparam("b_at"))
)
# The execution is over: later steps will never run, and no other step still awaits a decision.
_SKIP_REST = (
    update(step_t)
    .where(
        step_t.c.execution_id == bindparam("b_execution_id"),
        or_(
            and_(step_t.c.position > bindparam("b_position"), step_t.c.status == "pending"),
            step_t.c.status == AWAITING,
        ),
    )
    .values(status="skipped", updated_at=bindparam("b_at"))
)
_RESUME_EXECUTION = (
    update(execution_t)
    .where(
        execution_t.c.id == bindparam("b_execution_id"),
        execution_t.c.status == AWAITING,
        ~exists().where(step_t.c.execution_id == execution_t.c.id, step_t.c.status == AWAITING),
    )
    .values(status="running", updated_at=bindparam("b_at"))
)


async def _claim(
    session: AsyncSession, execution_id: str, step_id: str, status: str, actor: str, note: str | None, at: datetime
) -> _Claimed | None:
    """The decision itself: one conditional update. None when the step is not (or no longer) awaiting."""
    params = {
        "b_step_id": step_id,
        "b_execution_id": execution_id,
        "b_status": status,
        "b_actor": actor,
        "b_note": note,
        "b_at": at,
    }
    row = (await session.execute(_CLAIM, params)).one_or_none()
    return None if row is None else _Claimed(position=row[0], run_id=row[1])


async def _current(session: AsyncSession, execution_id: str, step_id: str) -> _Decided:
    """Why a claim failed: the step as it is now, or NOT_FOUND (one round trip tells which)."""
    params = {"b_step_id": step_id, "b_execution_id": execution_id}
    row = (await session.execute(_CURRENT, params)).one_or_none()
    if row is None:
        raise NotFound(f"Execution {execution_id!r} does not exist.")
    if row.id is None:
        raise NotFound(f"Step {step_id!r} is not a step of execution {execution_id!r}.")
    return _Decided(row.status, row.decided_by, row.decided_at, row.decision_note, row.execution_status)


async def _replayed(
    session: AsyncSession, execution_id: str, step_id: str, status: str, actor: str, note: str | None
) -> datetime:
    """After a failed claim: the original decision time when this request repeats the decision already
    taken (same status, actor and note), so a retried request is safe; otherwise NOT_FOUND or CONFLICT."""
    current = await _current(session, execution_id, step_id)
    if current.status == status and current.decided_by == actor and current.note == note and current.decided_at:
        return current.decided_at
    raise _conflict(execution_id, step_id, current)


async def _record_decision(
    session: AsyncSession, execution_id: str, step_id: str, decision: str, actor: str, note: str | None, at: datetime
) -> None:
    row = {
        "id": new_id("dec"),
        "step_id": step_id,
        "execution_id": execution_id,
        "decision": decision,
        "actor": actor,
        "note": note,
        "decided_at": at,
    }
    await session.execute(_RECORD_DECISION, row)


async def reject_step(
    session: AsyncSession, principal: Principal | None, data: ControlPlaneExecutionRejectInput
) -> ControlPlaneExecutionRejectOutput:
    now = utcnow()
    target = await _claim(session, data.execution_id, data.step_id, "rejected", data.rejected_by, data.reason, now)
    if target is None:
        decided_at = await _replayed(
            session, data.execution_id, data.step_id, "rejected", data.rejected_by, data.reason
        )
        return ControlPlaneExecutionRejectOutput(
            execution_id=data.execution_id, step_id=data.step_id, status="rejected", rejected_at=decided_at
        )
    await _record_decision(session, data.execution_id, data.step_id, "rejected", data.rejected_by, data.reason, now)
    await session.execute(_END_EXECUTION, {"b_execution_id": data.execution_id, "b_at": now})
    await session.execute(_SKIP_REST, {"b_execution_id": data.execution_id, "b_position": target.position, "b_at": now})
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
                target.run_id,
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
                target.run_id,
            ),
        ],
    )
    return ControlPlaneExecutionRejectOutput(
        execution_id=data.execution_id, step_id=data.step_id, status="rejected", rejected_at=now
    )


async def approve_step(
    session: AsyncSession, principal: Principal | None, data: ControlPlaneExecutionApproveInput
) -> ControlPlaneExecutionApproveOutput:
    now = utcnow()
    target = await _claim(session, data.execution_id, data.step_id, "approved", data.approved_by, data.note, now)
    if target is None:
        decided_at = await _replayed(session, data.execution_id, data.step_id, "approved", data.approved_by, data.note)
        return ControlPlaneExecutionApproveOutput(
            execution_id=data.execution_id, step_id=data.step_id, status="approved", approved_at=decided_at
        )
    await _record_decision(session, data.execution_id, data.step_id, "approved", data.approved_by, data.note, now)
    await session.execute(_RESUME_EXECUTION, {"b_execution_id": data.execution_id, "b_at": now})
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
                target.run_id,
            )
        ],
    )
    return ControlPlaneExecutionApproveOutput(
        execution_id=data.execution_id, step_id=data.step_id, status="approved", approved_at=now
    )


def _conflict(execution_id: str, step_id: str, current: _Decided) -> Conflict:
    if current.status == AWAITING:
        return Conflict(
            f"Execution {execution_id!r} is {current.execution_status!r}; its steps can no longer be decided.",
            current.execution_status,
        )
    if current.status in ("approved", "rejected") and current.decided_by:
        return Conflict(
            f"Step {step_id!r} was already {current.status} by {current.decided_by!r}; it no longer awaits a decision.",
            current.status,
        )
    return Conflict(f"Step {step_id!r} is {current.status!r}, not awaiting approval.", current.status)
