"""Runner reports: a step started, completed or failed. They move runs forward; operators never do."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth import Principal
from app.contracts.control_plane.commands.runner_reports import ControlPlaneRunnerStepReportOutput
from app.contracts.control_plane.commands.step_completed import ControlPlaneRunnerStepCompletedInput
from app.contracts.control_plane.commands.step_failed import ControlPlaneRunnerStepFailedInput
from app.contracts.control_plane.commands.step_started import ControlPlaneRunnerStepStartedInput
from app.contracts.control_plane.events import (
    execution_cancelled,
    execution_failed,
    execution_shutdown_requested,
    step_completed,
    step_failed,
    step_started,
)
from app.contracts.control_plane.statuses import ExecutionStatus, RunState, StepStatus
from app.db.tables import event_table as event_t
from app.errors import Conflict
from app.services.approval.interface import ApprovalTerms
from app.services.kernel.clock import utcnow
from app.services.kernel.event_log import append_events
from app.services.lifecycle.locking import LockedRun, lock_run
from app.services.lifecycle.progression import advance, stop_execution
from app.services.lifecycle.rows import load_steps, next_step, set_execution, set_step, step_of
from app.services.lifecycle.state_machine import Action, allowed


def _report(
    locked: LockedRun, step_id: str, step_status: str, execution_status: str, *, at: Any, awaiting: str | None = None
) -> ControlPlaneRunnerStepReportOutput:
    return ControlPlaneRunnerStepReportOutput(
        run_id=locked.run.id,
        step_id=step_id,
        step_status=step_status,
        execution_status=execution_status,
        awaiting_approval_step_id=awaiting,
        reported_at=at,
    )


def _awaiting(steps: list[Row[Any]]) -> str | None:
    return next((step.id for step in steps if step.status == StepStatus.AWAITING_APPROVAL), None)


def _running_in(locked: LockedRun, step: Row[Any]) -> bool:
    return bool(step.status == StepStatus.RUNNING and step.run_id == locked.run.id)


def _not_running(step: Row[Any]) -> Conflict:
    return Conflict(f"Step {step.id!r} is {step.status!r}; only a running step of this run can end.", step.status)


@dataclass(frozen=True, slots=True)
class _Checked:
    """A report that has something to write: the run, its steps and the step reported on."""

    locked: LockedRun
    steps: list[Row[Any]]
    step: Row[Any]


Report = ControlPlaneRunnerStepReportOutput
Checked = _Checked | Report
"""What checking a report gives: the answer itself (an identical replay), or what to write."""


async def _reported_on(session: AsyncConnection, principal: Principal | None, data: Any, *, lock: bool) -> _Checked:
    locked = await lock_run(session, data.run_id, principal, lock=lock)
    steps = await load_steps(session, locked.execution.id)
    return _Checked(locked, steps, step_of(steps, data.step_id, locked.execution.id))


async def _check_started(
    session: AsyncConnection, principal: Principal | None, data: ControlPlaneRunnerStepStartedInput, *, lock: bool
) -> Checked:
    checked = await _reported_on(session, principal, data, lock=lock)
    locked, steps, step = checked.locked, checked.steps, checked.step
    if _running_in(locked, step) and locked.is_current:
        return _report(locked, step.id, StepStatus.RUNNING, locked.execution.status, at=step.started_at)
    allowed(Action.STEP_STARTED, locked.state)
    following = next_step(steps)
    if following is None or following.id != step.id:
        expected = f"step {following.position} ({following.id})" if following else "none"
        raise Conflict(f"Step {step.id!r} is not the next step of the run; the next is {expected}.", step.status)
    if not (step.status == StepStatus.APPROVED or (step.status == StepStatus.PENDING and not step.requires_approval)):
        raise Conflict(f"Step {step.id!r} is {step.status!r} and cannot start yet.", step.status)
    return checked


async def report_step_started(
    session: AsyncConnection, principal: Principal | None, data: ControlPlaneRunnerStepStartedInput
) -> ControlPlaneRunnerStepReportOutput:
    checked = await _check_started(session, principal, data, lock=True)
    if isinstance(checked, Report):
        return checked
    locked, step = checked.locked, checked.step
    now = utcnow()
    await set_step(session, step.id, now, status=StepStatus.RUNNING, run_id=locked.run.id, started_at=now)
    await set_execution(session, locked.execution.id, now)
    payload = step_started.ControlPlaneExecutionStepStartedPayload(
        execution_id=locked.execution.id, run_id=locked.run.id, step_id=step.id, started_at=now
    )
    move = locked.move(principal.id if principal else None, now)
    await append_events(session, [move.event(step_started.SPEC, payload, step_id=step.id)])
    return _report(locked, step.id, StepStatus.RUNNING, locked.execution.status, at=now)


async def _check_completed(
    session: AsyncConnection, principal: Principal | None, data: ControlPlaneRunnerStepCompletedInput, *, lock: bool
) -> Checked:
    checked = await _reported_on(session, principal, data, lock=lock)
    locked, steps, step = checked.locked, checked.steps, checked.step
    if step.status == StepStatus.COMPLETED and step.run_id == locked.run.id and step.output == (data.output or None):
        status = locked.execution.status
        return _report(locked, step.id, StepStatus.COMPLETED, status, at=step.completed_at, awaiting=_awaiting(steps))
    allowed(Action.STEP_COMPLETED, locked.state)
    if not _running_in(locked, step):
        raise _not_running(step)
    return checked


async def report_step_completed(
    session: AsyncConnection,
    principal: Principal | None,
    data: ControlPlaneRunnerStepCompletedInput,
    *,
    terms: ApprovalTerms,
) -> ControlPlaneRunnerStepReportOutput:
    checked = await _check_completed(session, principal, data, lock=True)
    if isinstance(checked, Report):
        return checked
    locked, steps, step = checked.locked, checked.steps, checked.step
    state = locked.state
    move = locked.move(principal.id if principal else None, utcnow())
    now, execution_id, run_id = move.at, locked.execution.id, locked.run.id
    await set_step(session, step.id, now, status=StepStatus.COMPLETED, completed_at=now, output=data.output or None)
    payload = step_completed.ControlPlaneExecutionStepCompletedPayload(
        execution_id=execution_id, run_id=run_id, step_id=step.id, completed_at=now
    )
    events = [move.event(step_completed.SPEC, payload, step_id=step.id)]
    # The steps as they are now, without reading them again: only this one changed.
    now_steps: list[Any] = [
        # Row._mapping is SQLAlchemy's public mapping view of a row (underscored so as not to clash with columns)
        SimpleNamespace(**{**row._mapping, "status": StepStatus.COMPLETED}) if row.id == step.id else row  # noqa: SLF001
        for row in steps
    ]
    if state == RunState.STOPPING and next_step(now_steps) is not None:
        # Shutdown requested while this step ran: it finished, so the run stops here.
        await stop_execution(session, move, now_steps, ExecutionStatus.CANCELLED, "SHUTDOWN")
        stopped = execution_cancelled.ControlPlaneExecutionCancelledPayload(
            execution_id=execution_id,
            run_id=run_id,
            cancelled_at=now,
            cancelled_by=await _shutdown_requester(session, locked),
            reason="shutdown: the running step finished",
            mode="shutdown",
        )
        events.append(move.event(execution_cancelled.SPEC, stopped))
        await append_events(session, events)
        return _report(locked, step.id, StepStatus.COMPLETED, ExecutionStatus.CANCELLED, at=now)
    current = ExecutionStatus.PAUSED if state == ExecutionStatus.PAUSED else ExecutionStatus.RUNNING
    status, awaiting, more = await advance(session, move, now_steps, current, terms=terms)
    await append_events(session, events + more)
    awaiting = awaiting if status != ExecutionStatus.COMPLETED else None
    return _report(locked, step.id, StepStatus.COMPLETED, status, at=now, awaiting=awaiting)


async def _check_failed(
    session: AsyncConnection, principal: Principal | None, data: ControlPlaneRunnerStepFailedInput, *, lock: bool
) -> Checked:
    checked = await _reported_on(session, principal, data, lock=lock)
    locked, step = checked.locked, checked.step
    if (
        step.status == StepStatus.FAILED
        and step.run_id == locked.run.id
        and (step.error_code, step.error_message) == (data.error_code, data.message)
    ):
        return _report(locked, step.id, StepStatus.FAILED, locked.execution.status, at=step.updated_at)
    allowed(Action.STEP_FAILED, locked.state)
    if not _running_in(locked, step):
        raise _not_running(step)
    return checked


async def report_step_failed(
    session: AsyncConnection, principal: Principal | None, data: ControlPlaneRunnerStepFailedInput
) -> ControlPlaneRunnerStepReportOutput:
    checked = await _check_failed(session, principal, data, lock=True)
    if isinstance(checked, Report):
        return checked
    locked, step = checked.locked, checked.step
    move = locked.move(principal.id if principal else None, utcnow())
    now, execution_id, run_id = move.at, locked.execution.id, locked.run.id
    await set_step(
        session, step.id, now, status=StepStatus.FAILED, error_code=data.error_code, error_message=data.message
    )
    # Later steps stay pending: retryExecution resumes from this step.
    await set_execution(session, execution_id, now, status=ExecutionStatus.FAILED, shutdown_requested_at=None)
    failed_step = step_failed.ControlPlaneExecutionStepFailedPayload(
        execution_id=execution_id,
        run_id=run_id,
        step_id=step.id,
        failed_at=now,
        error_code=data.error_code,
        error_message=data.message,
    )
    failed = execution_failed.ControlPlaneExecutionFailedPayload(
        execution_id=execution_id,
        run_id=run_id,
        failed_at=now,
        error_code=data.error_code,
        error_message=data.message,
        problem={"stepId": step.id, "stepKey": step.key, "position": step.position},
    )
    events = [move.event(step_failed.SPEC, failed_step, step_id=step.id)]
    await append_events(session, [*events, move.event(execution_failed.SPEC, failed, step_id=step.id)])
    return _report(locked, step.id, StepStatus.FAILED, ExecutionStatus.FAILED, at=now)


async def _shutdown_requester(session: AsyncConnection, locked: LockedRun) -> str:
    actor = (
        await session.execute(
            select(event_t.c.actor)
            .where(event_t.c.run_id == locked.run.id, event_t.c.event_key == execution_shutdown_requested.SPEC.key)
            .order_by(event_t.c.sequence.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    return actor or "unknown"


# --- prechecks: a replayed or refused report is answered from a read (app/contracts/executor.py) ---


async def precheck_step_started(
    session: AsyncConnection, principal: Principal | None, data: ControlPlaneRunnerStepStartedInput
) -> ControlPlaneRunnerStepReportOutput | None:
    checked = await _check_started(session, principal, data, lock=False)
    return checked if isinstance(checked, Report) else None


async def precheck_step_completed(
    session: AsyncConnection, principal: Principal | None, data: ControlPlaneRunnerStepCompletedInput
) -> ControlPlaneRunnerStepReportOutput | None:
    checked = await _check_completed(session, principal, data, lock=False)
    return checked if isinstance(checked, Report) else None


async def precheck_step_failed(
    session: AsyncConnection, principal: Principal | None, data: ControlPlaneRunnerStepFailedInput
) -> ControlPlaneRunnerStepReportOutput | None:
    checked = await _check_failed(session, principal, data, lock=False)
    return checked if isinstance(checked, Report) else None
