"""Runs: start, pause, resume, cancel, abort, shutdown and retry, each checked against the state machine."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal
from app.contracts.control_plane.commands.execution_abort import (
    ControlPlaneExecutionAbortInput,
    ControlPlaneExecutionAbortOutput,
)
from app.contracts.control_plane.commands.execution_cancel import (
    ControlPlaneExecutionCancelInput,
    ControlPlaneExecutionCancelOutput,
)
from app.contracts.control_plane.commands.execution_pause import (
    ControlPlaneExecutionPauseInput,
    ControlPlaneExecutionPauseOutput,
)
from app.contracts.control_plane.commands.execution_resume import (
    ControlPlaneExecutionResumeInput,
    ControlPlaneExecutionResumeOutput,
)
from app.contracts.control_plane.commands.execution_retry import (
    ControlPlaneExecutionRetryInput,
    ControlPlaneExecutionRetryOutput,
)
from app.contracts.control_plane.commands.execution_shutdown import (
    ControlPlaneExecutionShutdownInput,
    ControlPlaneExecutionShutdownOutput,
)
from app.contracts.control_plane.commands.execution_start import (
    ControlPlaneExecutionStartInput,
    ControlPlaneExecutionStartOutput,
)
from app.contracts.control_plane.events import (
    execution_aborted,
    execution_cancelled,
    execution_paused,
    execution_resumed,
    execution_retried,
    execution_shutdown_requested,
    execution_started,
)
from app.contracts.control_plane.statuses import (
    RUNNABLE_VERDICTS,
    Decision,
    ExecutionStatus,
    RunMode,
    RunState,
    StepStatus,
)
from app.db.tables import decision_table as decision_t
from app.db.tables import run_table as run_t
from app.errors import Conflict
from app.services.kernel.clock import new_id, utcnow
from app.services.kernel.event_log import NewEvent, append_events
from app.services.lifecycle.locking import LockedRun, execution_state, lock_execution, lock_run
from app.services.lifecycle.plans import current_plan
from app.services.lifecycle.progression import advance, stop_execution
from app.services.lifecycle.rows import load_steps, set_execution, set_step
from app.services.lifecycle.state_machine import Action, allowed


async def start_run(
    session: AsyncSession,
    execution: Row[Any],
    plan_id: str,
    attempt: int,
    from_position: int,
    mode: str,
    actor: str,
    retry_of: str | None,
    at: datetime,
) -> tuple[str, str, list[NewEvent]]:
    """A new current run: the execution runs again from `from_position`; returns (run id, status, events)."""
    run_id = new_id("run")
    await session.execute(
        insert(run_t).values(
            id=run_id,
            execution_id=execution.id,
            plan_id=plan_id,
            attempt=attempt,
            mode=mode,
            from_position=from_position,
            retry_of=retry_of,
            started_by=actor,
            started_at=at,
        )
    )
    await set_execution(
        session, execution.id, at, status=ExecutionStatus.RUNNING, run_id=run_id, shutdown_requested_at=None
    )
    started = execution_started.ControlPlaneExecutionStartedPayload(
        execution_id=execution.id, run_id=run_id, plan_id=plan_id, attempt=attempt, mode=mode, started_at=at
    )
    events = [
        NewEvent(
            spec=execution_started.SPEC,
            payload=started,
            occurred_at=at,
            execution_id=execution.id,
            actor=actor,
            run_id=run_id,
        )
    ]
    steps = await load_steps(session, execution.id)
    status, _, more = await advance(session, execution, run_id, steps, ExecutionStatus.RUNNING, at, actor)
    return run_id, status, events + more


async def start_execution(
    session: AsyncSession, principal: Principal | None, data: ControlPlaneExecutionStartInput
) -> ControlPlaneExecutionStartOutput:
    assert principal is not None
    execution = await lock_execution(session, data.execution_id)
    plan = await current_plan(session, execution, data.plan_id)
    allowed(Action.START, execution_state(execution))
    if plan.verdict not in RUNNABLE_VERDICTS:
        state = "unverified" if plan.verdict is None else f"plan_{plan.verdict}"
        raise Conflict(
            f"Plan {plan.id!r} is {'not verified' if plan.verdict is None else plan.verdict}; "
            "only a plan verifyPlan approved (or that needs approval) can start.",
            state,
        )
    now = utcnow()
    run_id, status, events = await start_run(
        session, execution, plan.id, 1, 1, data.mode or RunMode.LIVE, principal.id, None, now
    )
    await append_events(session, events)
    return ControlPlaneExecutionStartOutput(run_id=run_id, status=status, started_at=now)


async def pause_execution(
    session: AsyncSession, principal: Principal | None, data: ControlPlaneExecutionPauseInput
) -> ControlPlaneExecutionPauseOutput:
    locked = await lock_run(session, data.run_id)
    previous = locked.state
    allowed(Action.PAUSE, previous)
    now = utcnow()
    await set_execution(session, locked.execution.id, now, status=ExecutionStatus.PAUSED)
    payload = execution_paused.ControlPlaneExecutionPausedPayload(
        execution_id=locked.execution.id,
        run_id=data.run_id,
        paused_at=now,
        paused_by=data.paused_by,
        reason=data.reason,
        previous_status=previous,
    )
    await _append(session, locked, execution_paused.SPEC, payload, now, data.paused_by)
    return ControlPlaneExecutionPauseOutput(run_id=data.run_id, status=ExecutionStatus.PAUSED, paused_at=now)


async def resume_execution(
    session: AsyncSession, principal: Principal | None, data: ControlPlaneExecutionResumeInput
) -> ControlPlaneExecutionResumeOutput:
    locked = await lock_run(session, data.run_id)
    allowed(Action.RESUME, locked.state)
    now = utcnow()
    steps = await load_steps(session, locked.execution.id)
    status = (
        ExecutionStatus.AWAITING_APPROVAL
        if any(step.status == StepStatus.AWAITING_APPROVAL for step in steps)
        else ExecutionStatus.RUNNING
    )
    await set_execution(session, locked.execution.id, now, status=status)
    payload = execution_resumed.ControlPlaneExecutionResumedPayload(
        execution_id=locked.execution.id, run_id=data.run_id, resumed_at=now, resumed_by=data.resumed_by, status=status
    )
    await _append(session, locked, execution_resumed.SPEC, payload, now, data.resumed_by)
    return ControlPlaneExecutionResumeOutput(run_id=data.run_id, status=status, resumed_at=now)


async def cancel_execution(
    session: AsyncSession, principal: Principal | None, data: ControlPlaneExecutionCancelInput
) -> ControlPlaneExecutionCancelOutput:
    execution = await lock_execution(session, data.execution_id)
    # The execution's own run is current by definition; before startExecution there is none.
    allowed(Action.CANCEL, execution_state(execution))
    now = utcnow()
    await stop_execution(
        session, execution.id, await load_steps(session, execution.id), ExecutionStatus.CANCELLED, "CANCELLED", now
    )
    payload = execution_cancelled.ControlPlaneExecutionCancelledPayload(
        execution_id=execution.id,
        run_id=execution.run_id,
        cancelled_at=now,
        cancelled_by=data.cancelled_by,
        reason=data.reason,
        mode="cancel",
    )
    event = NewEvent(
        spec=execution_cancelled.SPEC,
        payload=payload,
        occurred_at=now,
        execution_id=execution.id,
        actor=data.cancelled_by,
        run_id=execution.run_id,
    )
    await append_events(session, [event])
    return ControlPlaneExecutionCancelOutput(
        execution_id=execution.id, status=ExecutionStatus.CANCELLED, cancelled_at=now
    )


async def abort_execution(
    session: AsyncSession, principal: Principal | None, data: ControlPlaneExecutionAbortInput
) -> ControlPlaneExecutionAbortOutput:
    locked = await lock_run(session, data.run_id)
    allowed(Action.ABORT, locked.state)
    now = utcnow()
    steps = await load_steps(session, locked.execution.id)
    interrupted = await stop_execution(session, locked.execution.id, steps, ExecutionStatus.ABORTED, "ABORTED", now)
    payload = execution_aborted.ControlPlaneExecutionAbortedPayload(
        execution_id=locked.execution.id,
        run_id=data.run_id,
        aborted_at=now,
        aborted_by=data.aborted_by,
        reason=data.reason,
        interrupted_step_id=interrupted,
    )
    await _append(session, locked, execution_aborted.SPEC, payload, now, data.aborted_by)
    return ControlPlaneExecutionAbortOutput(run_id=data.run_id, status=ExecutionStatus.ABORTED, aborted_at=now)


async def shutdown_execution(
    session: AsyncSession, principal: Principal | None, data: ControlPlaneExecutionShutdownInput
) -> ControlPlaneExecutionShutdownOutput:
    locked = await lock_run(session, data.run_id)
    target = allowed(Action.SHUTDOWN, locked.state)
    now = utcnow()
    steps = await load_steps(session, locked.execution.id)
    running = next((step for step in steps if step.status == StepStatus.RUNNING), None)
    if target == RunState.STOPPING and running is not None:
        # The running step may finish; its report then stops the run (see runner.py).
        await set_execution(
            session, locked.execution.id, now, status=ExecutionStatus.RUNNING, shutdown_requested_at=now
        )
        requested = execution_shutdown_requested.ControlPlaneExecutionShutdownRequestedPayload(
            execution_id=locked.execution.id,
            run_id=data.run_id,
            requested_at=now,
            requested_by=data.shutdown_by,
            reason=data.reason,
            finishing_step_id=running.id,
        )
        await _append(session, locked, execution_shutdown_requested.SPEC, requested, now, data.shutdown_by)
        return ControlPlaneExecutionShutdownOutput(run_id=data.run_id, status=RunState.STOPPING, shutdown_at=now)
    await stop_execution(session, locked.execution.id, steps, ExecutionStatus.CANCELLED, "SHUTDOWN", now)
    cancelled = execution_cancelled.ControlPlaneExecutionCancelledPayload(
        execution_id=locked.execution.id,
        run_id=data.run_id,
        cancelled_at=now,
        cancelled_by=data.shutdown_by,
        reason=data.reason,
        mode="shutdown",
    )
    await _append(session, locked, execution_cancelled.SPEC, cancelled, now, data.shutdown_by)
    return ControlPlaneExecutionShutdownOutput(run_id=data.run_id, status=ExecutionStatus.CANCELLED, shutdown_at=now)


async def retry_execution(
    session: AsyncSession, principal: Principal | None, data: ControlPlaneExecutionRetryInput
) -> ControlPlaneExecutionRetryOutput:
    locked = await lock_run(session, data.run_id)
    allowed(Action.RETRY, locked.state)
    now = utcnow()
    execution = locked.execution
    steps = await load_steps(session, execution.id)
    failed = next((step for step in steps if step.status == StepStatus.FAILED), None)
    if failed is None:  # an execution fails through a failed step; anything else is not retryable
        raise Conflict(f"Run {data.run_id!r} has no failed step to retry from.", locked.state)
    was_approved = (
        await session.execute(
            select(decision_t.c.decision).where(
                decision_t.c.step_id == failed.id, decision_t.c.decision == Decision.APPROVED
            )
        )
    ).first() is not None
    # A step approved before keeps its approval: the decision was about the step, not the attempt.
    await set_step(
        session,
        failed.id,
        now,
        status=StepStatus.APPROVED if was_approved else StepStatus.PENDING,
        error_code=None,
        error_message=None,
        started_at=None,
        completed_at=None,
        output=None,
    )
    await session.execute(
        update(run_t).where(run_t.c.id == data.run_id).values(ended_status=RunState.SUPERSEDED, ended_at=now)
    )
    new_run_id, status, events = await start_run(
        session,
        execution,
        locked.run.plan_id,
        locked.run.attempt + 1,
        failed.position,
        locked.run.mode,
        data.retried_by,
        data.run_id,
        now,
    )
    retried = execution_retried.ControlPlaneExecutionRetriedPayload(
        execution_id=execution.id,
        run_id=new_run_id,
        previous_run_id=data.run_id,
        from_step_id=failed.id,
        attempt=locked.run.attempt + 1,
        retried_at=now,
        retried_by=data.retried_by,
    )
    events.insert(
        0,
        NewEvent(
            spec=execution_retried.SPEC,
            payload=retried,
            occurred_at=now,
            execution_id=execution.id,
            step_id=failed.id,
            actor=data.retried_by,
            run_id=new_run_id,
        ),
    )
    await append_events(session, events)
    return ControlPlaneExecutionRetryOutput(run_id=new_run_id, status=status, phase=status, retried_at=now)


async def _append(session: AsyncSession, locked: LockedRun, spec: Any, payload: Any, at: datetime, actor: str) -> None:
    await append_events(
        session,
        [
            NewEvent(
                spec=spec,
                payload=payload,
                occurred_at=at,
                execution_id=locked.execution.id,
                actor=actor,
                run_id=locked.run.id,
            )
        ],
    )
