"""Moving an execution on: to its next step (or its end) after progress, or to a stop now."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from app.contracts.control_plane.events import execution_completed, step_approval_requested
from app.contracts.control_plane.statuses import ExecutionStatus, StepStatus
from app.services.approval.interface import ApprovalTerms
from app.services.kernel.event_log import Move, NewEvent
from app.services.lifecycle.rows import next_step, set_execution, set_step, skip_open_steps


async def stop_execution(
    session: AsyncConnection, move: Move, steps: Sequence[Any], status: ExecutionStatus, error_code: str
) -> str | None:
    """End an execution now: a running step fails with `error_code`, steps not yet run are skipped.
    Returns the id of the step it interrupted, if any."""
    at = move.at
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
    await skip_open_steps(session, move.execution_id, at)
    await set_execution(session, move.execution_id, at, status=status, shutdown_requested_at=None)
    return running.id if running is not None else None


async def advance(
    session: AsyncConnection, move: Move, steps: Sequence[Any], status: ExecutionStatus, *, terms: ApprovalTerms
) -> tuple[ExecutionStatus, str | None, list[NewEvent]]:
    """After the run started or a step completed: the execution's new status, the step now awaiting
    approval (if any) and the events to append. `steps` reflect the writes made so far; `status` is
    the execution's status before advancing (running or paused)."""
    execution_id, run_id, at = move.execution_id, move.run_id, move.at
    assert run_id is not None  # what advances is always a run
    following = next_step(steps)
    if following is None:
        await set_execution(session, execution_id, at, status=ExecutionStatus.COMPLETED, shutdown_requested_at=None)
        payload = execution_completed.ControlPlaneExecutionCompletedPayload(
            execution_id=execution_id, run_id=run_id, completed_at=at, outcome=ExecutionStatus.COMPLETED
        )
        return ExecutionStatus.COMPLETED, None, [move.event(execution_completed.SPEC, payload)]
    if following.status == StepStatus.PENDING and following.requires_approval:
        requested = await terms.open_request(session, execution_id=execution_id, run_id=run_id, step=following, at=at)
        new_status = ExecutionStatus.AWAITING_APPROVAL if status == ExecutionStatus.RUNNING else status
        await set_execution(session, execution_id, at, status=new_status)
        return new_status, following.id, [move.event(step_approval_requested.SPEC, requested, step_id=following.id)]
    await set_execution(session, execution_id, at, status=status)
    return status, following.id if following.status == StepStatus.AWAITING_APPROVAL else None, []
