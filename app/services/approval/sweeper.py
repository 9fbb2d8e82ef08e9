"""Deadlines: what happens to a request nobody decided in time (the rule's `onTimeout`).

`reject` expires the step (the execution is rejected with APPROVAL_EXPIRED, later steps are
skipped); `approve` approves it in the name of `system:timeout`; `escalate` hands the request once
to the rule's `escalateToRoles` with a new deadline, and the second deadline expires it.

Every server process sweeps (and `python -m app sweep` runs one pass for cron). Each due request is
settled in its own transaction by a conditional update that repeats the due condition (`status =
'awaiting_approval' AND deadline <= now`, plus `escalated_at IS NULL` to escalate), taken after the
execution row is locked as every command locks it: two sweepers, or a sweeper and a decider, never
apply one timeout twice, and a restart loses nothing because the deadline is in the row.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.contracts.control_plane.approval import (
    APPROVAL_EXPIRED,
    TIMEOUT_PRINCIPAL,
    ControlPlaneApprovalRule,
    TimeoutAction,
)
from app.contracts.control_plane.events import execution_failed, step_approved, step_escalated, step_expired
from app.contracts.control_plane.statuses import TERMINAL_EXECUTION_STATUSES, Decision, StepStatus
from app.contracts.model import UnitOfWorkFactory
from app.db.tables import execution_table as execution_t
from app.db.tables import step_table as step_t
from app.services.approval.decisions import Ask, end_rejected, legacy_rule, record_decision, resume_after_approval
from app.services.approval.review import roles_column
from app.services.approval.rules import rule_from_stored
from app.services.kernel.clock import utcnow
from app.services.kernel.event_log import Move, NewEvent, append_events
from app.services.kernel.literals import none_of
from app.services.kernel.periodic import every

logger = logging.getLogger("app.approval.sweeper")

SWEEP_BATCH = 200
"""Requests settled per pass at most; the next pass takes the rest."""

_DUE = (
    select(step_t.c.id, step_t.c.execution_id)
    .join(execution_t, execution_t.c.id == step_t.c.execution_id)
    .where(
        step_t.c.status == StepStatus.AWAITING_APPROVAL,
        step_t.c.deadline <= bindparam("b_now"),
        none_of(execution_t.c.status, TERMINAL_EXECUTION_STATUSES),
    )
    .order_by(step_t.c.deadline, step_t.c.id)
    .limit(bindparam("b_limit"))
)
_LOCK_EXECUTION = (
    select(execution_t.c.status, execution_t.c.run_id)
    .where(execution_t.c.id == bindparam("b_execution_id"))
    .with_for_update()
)
_REQUEST = select(
    step_t.c.position,
    step_t.c.deadline,
    step_t.c.escalated_at,
    step_t.c.approval_rule,
    step_t.c.approvals_given,
    step_t.c.review_digest,
).where(step_t.c.id == bindparam("b_step_id"))
_STILL_DUE = (
    (step_t.c.id == bindparam("b_step_id"))
    & (step_t.c.status == StepStatus.AWAITING_APPROVAL)
    & (step_t.c.deadline <= bindparam("b_now"))
)
_ESCALATE = (
    update(step_t)
    .where(_STILL_DUE, step_t.c.escalated_at.is_(None))
    .values(
        escalated_at=bindparam("b_now"),
        deadline=bindparam("b_deadline"),
        approver_roles=bindparam("b_roles"),
        updated_at=bindparam("b_now"),
    )
    .returning(step_t.c.id)
)
_EXPIRE = (
    update(step_t)
    .where(_STILL_DUE)
    .values(status=StepStatus.EXPIRED, updated_at=bindparam("b_now"))
    .returning(step_t.c.position)
)
_APPROVE = (
    update(step_t)
    .where(_STILL_DUE)
    .values(
        status=StepStatus.APPROVED,
        decided_by=TIMEOUT_PRINCIPAL,
        decided_at=bindparam("b_now"),
        decision_note=bindparam("b_note"),
        updated_at=bindparam("b_now"),
    )
    .returning(step_t.c.id)
)


@dataclass
class SweepReport:
    escalated: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    approved: list[str] = field(default_factory=list)

    @property
    def settled(self) -> int:
        return len(self.escalated) + len(self.expired) + len(self.approved)


async def sweep(
    uow: UnitOfWorkFactory[AsyncConnection], now: datetime | None = None, *, limit: int = SWEEP_BATCH
) -> SweepReport:
    """One pass: settle every request whose deadline is at or before `now` (default: the clock)."""
    at = now or utcnow()
    async with uow(write=False) as session:
        due = (await session.execute(_DUE, {"b_now": at, "b_limit": limit})).all()
    report = SweepReport()
    for step_id, execution_id in due:
        async with uow(write=True) as session:
            outcome = await _settle(session, execution_id, step_id, at)
        if outcome is not None:
            getattr(report, outcome).append(step_id)
    if report.settled:
        logger.info(
            "approval deadlines: %d escalated, %d expired, %d approved by timeout",
            len(report.escalated),
            len(report.expired),
            len(report.approved),
        )
    return report


@dataclass(frozen=True, slots=True)
class _Due:
    execution_id: str
    step_id: str
    run_id: str | None
    request: Any
    rule: ControlPlaneApprovalRule
    at: datetime

    @property
    def params(self) -> dict[str, Any]:
        return {"b_step_id": self.step_id, "b_now": self.at}

    @property
    def move(self) -> Move:
        return Move(self.execution_id, self.run_id, TIMEOUT_PRINCIPAL, self.at)


async def _settle(session: AsyncConnection, execution_id: str, step_id: str, at: datetime) -> str | None:
    execution = (await session.execute(_LOCK_EXECUTION, {"b_execution_id": execution_id})).one_or_none()
    if execution is None or execution.status in TERMINAL_EXECUTION_STATUSES:
        return None
    request = (await session.execute(_REQUEST, {"b_step_id": step_id})).one()
    rule = rule_from_stored(request.approval_rule) if request.approval_rule else legacy_rule()
    due = _Due(execution_id, step_id, execution.run_id, request, rule, at)
    if rule.on_timeout is TimeoutAction.ESCALATE and request.escalated_at is None and rule.escalate_to_roles:
        return "escalated" if await _escalate(session, due, rule.escalate_to_roles) else None
    if rule.on_timeout is TimeoutAction.APPROVE and request.escalated_at is None:
        return "approved" if await _approve(session, due) else None
    return "expired" if await _expire(session, due) else None


async def _escalate(session: AsyncConnection, due: _Due, to_roles: list[str]) -> bool:
    deadline = due.at + timedelta(seconds=due.rule.timeout_seconds or 0)
    roles = sorted(to_roles)
    escalated = await session.execute(_ESCALATE, {**due.params, "b_deadline": deadline, "b_roles": roles_column(roles)})
    if escalated.one_or_none() is None:
        return False
    payload = step_escalated.ControlPlaneExecutionStepEscalatedPayload(
        execution_id=due.execution_id,
        run_id=due.run_id,
        step_id=due.step_id,
        escalated_at=due.at,
        previous_deadline=due.request.deadline,
        deadline=deadline,
        approver_roles=roles,
        rule_id=due.rule.rule_id,
        policy_version=due.rule.policy_version,
    )
    await append_events(session, [due.move.event(step_escalated.SPEC, payload, step_id=due.step_id)])
    return True


async def _approve(session: AsyncConnection, due: _Due) -> bool:
    note = f"approved at the deadline by approval rule {due.rule.rule_id!r} ({due.rule.policy_version})"
    if (await session.execute(_APPROVE, {**due.params, "b_note": note})).one_or_none() is None:
        return False
    ask = Ask(due.execution_id, due.step_id, Decision.APPROVED, TIMEOUT_PRINCIPAL, note, None)
    await record_decision(session, ask, due.at)
    await resume_after_approval(session, due.execution_id, due.at)
    approved = step_approved.ControlPlaneExecutionStepApprovedPayload(
        execution_id=due.execution_id,
        run_id=due.run_id,
        step_id=due.step_id,
        approved_at=due.at,
        approved_by=TIMEOUT_PRINCIPAL,
        note=note,
        review_digest=due.request.review_digest,
        approvers=[TIMEOUT_PRINCIPAL],
    )
    await append_events(session, [due.move.event(step_approved.SPEC, approved, step_id=due.step_id)])
    return True


async def _expire(session: AsyncConnection, due: _Due) -> bool:
    expired = (await session.execute(_EXPIRE, due.params)).one_or_none()
    if expired is None:
        return False
    await end_rejected(session, execution_id=due.execution_id, position=int(expired[0]), at=due.at)
    deadline = due.request.deadline
    events: list[NewEvent] = [
        due.move.event(
            step_expired.SPEC,
            step_expired.ControlPlaneExecutionStepExpiredPayload(
                execution_id=due.execution_id,
                run_id=due.run_id,
                step_id=due.step_id,
                expired_at=due.at,
                deadline=deadline,
                rule_id=due.rule.rule_id,
                policy_version=due.rule.policy_version,
                escalated=due.request.escalated_at is not None,
            ),
            step_id=due.step_id,
        ),
        due.move.event(
            execution_failed.SPEC,
            execution_failed.ControlPlaneExecutionFailedPayload(
                execution_id=due.execution_id,
                run_id=due.run_id,
                failed_at=due.at,
                error_code=APPROVAL_EXPIRED,
                error_message=f"Nobody decided step {due.step_id} by its deadline {deadline.isoformat()}.",
            ),
            step_id=due.step_id,
        ),
    ]
    await append_events(session, events)
    return True


async def sweep_forever(uow: UnitOfWorkFactory[AsyncConnection], interval: float) -> None:
    """The background task of each server process: a pass every `interval` seconds until cancelled.
    A failed pass is logged and retried at the next interval (the deadlines stay in the database)."""
    await every(interval, lambda: sweep(uow), logger, "approval deadline sweep failed; retrying in %.1f s")
