"""Moving an execution on: to its next step (or its end) after progress, or to a stop now."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from app.contracts.control_plane.events import execution_completed, step_approval_requested
from app.contracts.control_plane.statuses import ExecutionStatus, StepStatus
from app.services.kernel.event_log import NewEvent
from app.services.lifecycle.rows import next_step, set_execution, set_step, skip_open_steps


async def stop_execution(
    session: AsyncSession, execution_id: str, steps: Sequence[Any], status: str, error_code: str, at: datetime
) -> str | None:
    """End an execution now: a running step fails with `error_code`, steps not yet run are skipped.
    Returns the id of the step it interrupted, if any."""
    running = next((step for step in steps if step.status == StepStatus.RUNNING), None)
    if running is not None:
        await set_step(
            session,
            running.id,
            at,
            status=StepStatus.FAILED,
            error_code=error_code,
            error_message=f"Execution {status}.",
        )
    await skip_open_steps(session, execution_id, at)
    await set_execution(session, execution_id, at, status=status, shutdown_requested_at=None)
    return running.id if running is not None else None


async def advance(
    session: AsyncSession,
    execution: Row[Any],
    run_id: str,
    steps: Sequence[Any],
    status: str,
    at: datetime,
    actor: str | None,
) -> tuple[str, str | None, list[NewEvent]]:
    """After the run started or a step completed: the execution's new status, the step now awaiting
    approval (if any) and the events to append. `steps` reflect the writes made so far; `status` is
    the execution's status before advancing (running or paused)."""
    following = next_step(steps)
    if following is None:
        await set_execution(session, execution.id, at, status=ExecutionStatus.COMPLETED, shutdown_requested_at=None)
        payload = execution_completed.ControlPlaneExecutionCompletedPayload(
            execution_id=execution.id, run_id=run_id, completed_at=at, outcome=ExecutionStatus.COMPLETED
        )
        return (
            ExecutionStatus.COMPLETED,
            None,
            [
                NewEvent(
                    spec=execution_completed.SPEC,
                    payload=payload,
                    occurred_at=at,
                    execution_id=execution.id,
                    actor=actor,
                    run_id=run_id,
                )
            ],
        )
    if following.status == StepStatus.PENDING and following.requires_approval:
        await set_step(session, following.id, at, status=StepStatus.AWAITING_APPROVAL)
        new_status = ExecutionStatus.AWAITING_APPROVAL if status == ExecutionStatus.RUNNING else status
        await set_execution(session, execution.id, at, status=new_status)
        requested = step_approval_requested.ControlPlaneExecutionStepApprovalRequestedPayload(
            execution_id=execution.id,
            run_id=run_id,
            step_id=following.id,
            risk_tier=following.risk_tier,
            requested_at=at,
        )
        event = NewEvent(
            spec=step_approval_requested.SPEC,
            payload=requested,
            occurred_at=at,
            execution_id=execution.id,
            step_id=following.id,
            actor=actor,
            run_id=run_id,
        )
        return new_status, following.id, [event]
    await set_execution(session, execution.id, at, status=status)
    return status, following.id if following.status == StepStatus.AWAITING_APPROVAL else None, []
