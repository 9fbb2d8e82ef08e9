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
from app.contracts.control_plane.statuses import TERMINAL_EXECUTION_STATUSES, Decision, ExecutionStatus, StepStatus
from app.db.tables import decision_table as decision_t
from app.db.tables import execution_table as execution_t
from app.db.tables import step_table as step_t
from app.errors import Conflict, NotFound
from app.services.kernel.clock import new_id, utcnow
from app.services.kernel.event_log import Move, append_events
from app.services.kernel.grants import grant_params, granted

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
# the step: the same order as every lifecycle command (app/services/lifecycle/locking.py), so a decision and,
# say, a cancel of the same execution queue up instead of deadlocking on PostgreSQL.
_LIVE_EXECUTION = (
    select(execution_t.c.id)
    .where(
        execution_t.c.id == bindparam("b_execution_id"),
        execution_t.c.status.not_in(TERMINAL_EXECUTION_STATUSES),
        granted(execution_t.c.workspace_id),
    )
    .with_for_update()
    .cte("live_execution")
)
_CLAIM = (
    update(step_t)
    .where(
        step_t.c.id == bindparam("b_step_id"),
        step_t.c.execution_id.in_(select(_LIVE_EXECUTION.c.id)),
        step_t.c.status == StepStatus.AWAITING_APPROVAL,
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
    .where(execution_t.c.id == bindparam("b_execution_id"), granted(execution_t.c.workspace_id))
)
_RECORD_DECISION = insert(decision_t)
_END_EXECUTION = (
    update(execution_t)
    .where(execution_t.c.id == bindparam("b_execution_id"), execution_t.c.status.not_in(TERMINAL_EXECUTION_STATUSES))
    .values(status=ExecutionStatus.REJECTED, updated_at=bindparam("b_at"))
)
# The execution is over: later steps will never run, and no other step still awaits a decision.
_SKIP_REST = (
    update(step_t)
    .where(
        step_t.c.execution_id == bindparam("b_execution_id"),
        or_(
            and_(step_t.c.position > bindparam("b_position"), step_t.c.status == StepStatus.PENDING),
            step_t.c.status == StepStatus.AWAITING_APPROVAL,
        ),
    )
    .values(status=StepStatus.SKIPPED, updated_at=bindparam("b_at"))
)
_RESUME_EXECUTION = (
    update(execution_t)
    .where(
        execution_t.c.id == bindparam("b_execution_id"),
        execution_t.c.status == ExecutionStatus.AWAITING_APPROVAL,
        ~exists().where(step_t.c.execution_id == execution_t.c.id, step_t.c.status == StepStatus.AWAITING_APPROVAL),
    )
    .values(status=ExecutionStatus.RUNNING, updated_at=bindparam("b_at"))
)


@dataclass(frozen=True, slots=True)
class _Vote:
    """One operator's decision on one step, as the request states it."""

    execution_id: str
    step_id: str
    decision: Decision
    actor: str
    note: str | None
    principal: Principal | None
    """Whose workspace grants the decision is made under (the actor, by the contract's actor check)."""

    @property
    def step_status(self) -> StepStatus:
        return _STEP_STATUS[self.decision]


_STEP_STATUS = {Decision.APPROVED: StepStatus.APPROVED, Decision.REJECTED: StepStatus.REJECTED}
"""The status a step takes when a decision claims it."""


async def _claim(session: AsyncSession, vote: _Vote, at: datetime) -> _Claimed | None:
    """The decision itself: one conditional update. None when the step is not (or no longer) awaiting."""
    params = {
        "b_step_id": vote.step_id,
        "b_execution_id": vote.execution_id,
        "b_status": vote.step_status,
        "b_actor": vote.actor,
        "b_note": vote.note,
        "b_at": at,
        **grant_params(vote.principal),
    }
    row = (await session.execute(_CLAIM, params)).one_or_none()
    return None if row is None else _Claimed(position=row[0], run_id=row[1])


async def _current(session: AsyncSession, vote: _Vote) -> _Decided:
    """Why a claim failed: the step as it is now, or NOT_FOUND (one round trip tells which)."""
    execution_id, step_id = vote.execution_id, vote.step_id
    params = {"b_step_id": step_id, "b_execution_id": execution_id, **grant_params(vote.principal)}
    row = (await session.execute(_CURRENT, params)).one_or_none()
    if row is None:
        raise NotFound(f"Execution {execution_id!r} does not exist.")
    if row.id is None:
        raise NotFound(f"Step {step_id!r} is not a step of execution {execution_id!r}.")
    return _Decided(row.status, row.decided_by, row.decided_at, row.decision_note, row.execution_status)


async def _replayed(session: AsyncSession, vote: _Vote) -> datetime:
    """After a failed claim: the original decision time when this request repeats the decision already
    taken (same status, actor and note), so a retried request is safe; otherwise NOT_FOUND or CONFLICT."""
    return _replay_of(vote, await _current(session, vote))


def _replay_of(vote: _Vote, current: _Decided) -> datetime:
    if (
        current.status == vote.step_status
        and current.decided_by == vote.actor
        and current.note == vote.note
        and current.decided_at
    ):
        return current.decided_at
    raise _conflict(vote.execution_id, vote.step_id, current)


async def _record_decision(session: AsyncSession, vote: _Vote, at: datetime) -> None:
    row = {
        "id": new_id("dec"),
        "step_id": vote.step_id,
        "execution_id": vote.execution_id,
        "decision": vote.decision,
        "actor": vote.actor,
        "note": vote.note,
        "decided_at": at,
    }
    await session.execute(_RECORD_DECISION, row)


async def reject_step(
    session: AsyncSession, principal: Principal | None, data: ControlPlaneExecutionRejectInput
) -> ControlPlaneExecutionRejectOutput:
    now = utcnow()
    vote = _rejection(data, principal)
    target = await _claim(session, vote, now)
    if target is None:
        decided_at = await _replayed(session, vote)
        return _rejected(data, decided_at)
    await _record_decision(session, vote, now)
    await session.execute(_END_EXECUTION, {"b_execution_id": data.execution_id, "b_at": now})
    await session.execute(_SKIP_REST, {"b_execution_id": data.execution_id, "b_position": target.position, "b_at": now})
    move = Move(data.execution_id, target.run_id, data.rejected_by, now)
    blocked = step_blocked.ControlPlaneExecutionStepBlockedPayload(
        execution_id=data.execution_id, run_id=target.run_id, step_id=data.step_id, blocked_at=now, reason=data.reason
    )
    failed = execution_failed.ControlPlaneExecutionFailedPayload(
        execution_id=data.execution_id,
        run_id=target.run_id,
        failed_at=now,
        error_code=STEP_REJECTED,
        error_message=f"Step {data.step_id} was rejected by {data.rejected_by}: {data.reason}",
    )
    events = [move.event(step_blocked.SPEC, blocked, step_id=data.step_id)]
    await append_events(session, [*events, move.event(execution_failed.SPEC, failed, step_id=data.step_id)])
    return _rejected(data, now)


async def approve_step(
    session: AsyncSession, principal: Principal | None, data: ControlPlaneExecutionApproveInput
) -> ControlPlaneExecutionApproveOutput:
    now = utcnow()
    vote = _approval(data, principal)
    target = await _claim(session, vote, now)
    if target is None:
        decided_at = await _replayed(session, vote)
        return _approved(data, decided_at)
    await _record_decision(session, vote, now)
    await session.execute(_RESUME_EXECUTION, {"b_execution_id": data.execution_id, "b_at": now})
    approved = step_approved.ControlPlaneExecutionStepApprovedPayload(
        execution_id=data.execution_id,
        run_id=target.run_id,
        step_id=data.step_id,
        approved_at=now,
        approved_by=data.approved_by,
        note=data.note,
    )
    move = Move(data.execution_id, target.run_id, data.approved_by, now)
    await append_events(session, [move.event(step_approved.SPEC, approved, step_id=data.step_id)])
    return _approved(data, now)


def _rejection(data: ControlPlaneExecutionRejectInput, principal: Principal | None) -> _Vote:
    return _Vote(data.execution_id, data.step_id, Decision.REJECTED, data.rejected_by, data.reason, principal)


def _approval(data: ControlPlaneExecutionApproveInput, principal: Principal | None) -> _Vote:
    return _Vote(data.execution_id, data.step_id, Decision.APPROVED, data.approved_by, data.note, principal)


def _rejected(data: ControlPlaneExecutionRejectInput, at: datetime) -> ControlPlaneExecutionRejectOutput:
    return ControlPlaneExecutionRejectOutput(
        execution_id=data.execution_id, step_id=data.step_id, status=StepStatus.REJECTED, rejected_at=at
    )


def _approved(data: ControlPlaneExecutionApproveInput, at: datetime) -> ControlPlaneExecutionApproveOutput:
    return ControlPlaneExecutionApproveOutput(
        execution_id=data.execution_id, step_id=data.step_id, status=StepStatus.APPROVED, approved_at=at
    )


def _conflict(execution_id: str, step_id: str, current: _Decided) -> Conflict:
    if current.status == StepStatus.AWAITING_APPROVAL:
        return Conflict(
            f"Execution {execution_id!r} is {current.execution_status!r}; its steps can no longer be decided.",
            current.execution_status,
        )
    if current.status in (StepStatus.APPROVED, StepStatus.REJECTED) and current.decided_by:
        return Conflict(
            f"Step {step_id!r} was already {current.status} by {current.decided_by!r}; it no longer awaits a decision.",
            current.status,
        )
    return Conflict(f"Step {step_id!r} is {current.status!r}, not awaiting approval.", current.status)


# --- prechecks: a decision that has nothing to write is answered from a read (app/contracts/executor.py) ---


async def _settled(session: AsyncSession, vote: _Vote) -> datetime | None:
    """The original decision time of an identical replay, NOT_FOUND or CONFLICT, read without the writer;
    None when the step awaits a decision in a live execution (only the claim may then decide)."""
    current = await _current(session, vote)
    if current.status == StepStatus.AWAITING_APPROVAL and current.execution_status not in TERMINAL_EXECUTION_STATUSES:
        return None
    return _replay_of(vote, current)


async def precheck_reject(
    session: AsyncSession, principal: Principal | None, data: ControlPlaneExecutionRejectInput
) -> ControlPlaneExecutionRejectOutput | None:
    vote = _rejection(data, principal)
    decided_at = await _settled(session, vote)
    return None if decided_at is None else _rejected(data, decided_at)


async def precheck_approve(
    session: AsyncSession, principal: Principal | None, data: ControlPlaneExecutionApproveInput
) -> ControlPlaneExecutionApproveOutput | None:
    vote = _approval(data, principal)
    decided_at = await _settled(session, vote)
    return None if decided_at is None else _approved(data, decided_at)
