"""Runs: start, pause, resume, cancel, abort, shutdown and retry, each checked against the state machine."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

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
    UNVERIFIED,
    Decision,
    ExecutionStatus,
    RunMode,
    RunState,
    StepStatus,
)
from app.db.tables import decision_table as decision_t
from app.db.tables import run_table as run_t
from app.errors import Conflict
from app.services.approval.interface import ApprovalTerms
from app.services.kernel.clock import new_id, utcnow
from app.services.kernel.event_log import Move, NewEvent, append_events
from app.services.lifecycle.locking import execution_state, lock_execution, lock_run
from app.services.lifecycle.plans import current_plan
from app.services.lifecycle.progression import advance, stop_execution
from app.services.lifecycle.rows import load_steps, set_execution, set_step
from app.services.lifecycle.state_machine import Action, allowed


@dataclass(frozen=True, slots=True)
class NewRun:
    """A run to start: the plan it runs, from which step, in which attempt and mode, and why."""

    plan_id: str
    attempt: int
    from_position: int
    mode: str
    retry_of: str | None = None


async def start_run(
    session: AsyncConnection, execution: Row[Any], run: NewRun, move: Move, *, terms: ApprovalTerms
) -> tuple[str, ExecutionStatus, list[NewEvent]]:
    """A new current run: the execution runs again from `run.from_position`; returns (run id, status,
    events). `move.run_id` is ignored: the new run's id is made here."""
    run_id = new_id("run")
    move = replace(move, run_id=run_id)
    await session.execute(
        insert(run_t).values(
            id=run_id,
            execution_id=execution.id,
            plan_id=run.plan_id,
            attempt=run.attempt,
            mode=run.mode,
            from_position=run.from_position,
            retry_of=run.retry_of,
            started_by=move.actor,
            started_at=move.at,
        )
    )
    await set_execution(
        session, execution.id, move.at, status=ExecutionStatus.RUNNING, run_id=run_id, shutdown_requested_at=None
    )
    started = execution_started.ControlPlaneExecutionStartedPayload(
        execution_id=execution.id,
        run_id=run_id,
        plan_id=run.plan_id,
        attempt=run.attempt,
        mode=run.mode,
        started_at=move.at,
    )
    steps = await load_steps(session, execution.id)
    status, _, more = await advance(session, move, steps, ExecutionStatus.RUNNING, terms=terms)
    return run_id, status, [move.event(execution_started.SPEC, started), *more]


async def start_execution(
    session: AsyncConnection,
    principal: Principal | None,
    data: ControlPlaneExecutionStartInput,
    *,
    terms: ApprovalTerms,
) -> ControlPlaneExecutionStartOutput:
    assert principal is not None
    execution = await lock_execution(session, data.execution_id, principal)
    plan = await current_plan(session, execution, data.plan_id)
    allowed(Action.START, execution_state(execution))
    if plan.verdict not in RUNNABLE_VERDICTS:
        state = UNVERIFIED if plan.verdict is None else f"plan_{plan.verdict}"
        raise Conflict(
            f"Plan {plan.id!r} is {'not verified' if plan.verdict is None else plan.verdict}; "
            "only a plan verifyPlan approved (or that needs approval) can start.",
            state,
        )
    now = utcnow()
    run = NewRun(plan_id=plan.id, attempt=1, from_position=1, mode=data.mode or RunMode.LIVE)
    run_id, status, events = await start_run(
        session, execution, run, Move(execution.id, None, principal.id, now), terms=terms
    )
    await append_events(session, events)
    return ControlPlaneExecutionStartOutput(run_id=run_id, status=status, started_at=now)


async def pause_execution(
    session: AsyncConnection, principal: Principal | None, data: ControlPlaneExecutionPauseInput
) -> ControlPlaneExecutionPauseOutput:
    locked = await lock_run(session, data.run_id, principal)
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
    await append_events(session, [locked.move(data.paused_by, now).event(execution_paused.SPEC, payload)])
    return ControlPlaneExecutionPauseOutput(run_id=data.run_id, status=ExecutionStatus.PAUSED, paused_at=now)


async def resume_execution(
    session: AsyncConnection, principal: Principal | None, data: ControlPlaneExecutionResumeInput
) -> ControlPlaneExecutionResumeOutput:
    locked = await lock_run(session, data.run_id, principal)
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
    await append_events(session, [locked.move(data.resumed_by, now).event(execution_resumed.SPEC, payload)])
    return ControlPlaneExecutionResumeOutput(run_id=data.run_id, status=status, resumed_at=now)


async def cancel_execution(
    session: AsyncConnection, principal: Principal | None, data: ControlPlaneExecutionCancelInput
) -> ControlPlaneExecutionCancelOutput:
    execution = await lock_execution(session, data.execution_id, principal)
    # The execution's own run is current by definition; before startExecution there is none.
    allowed(Action.CANCEL, execution_state(execution))
    move = Move(execution.id, execution.run_id, data.cancelled_by, utcnow())
    now = move.at
    steps = await load_steps(session, execution.id)
    await stop_execution(session, move, steps, ExecutionStatus.CANCELLED, "CANCELLED")
    payload = execution_cancelled.ControlPlaneExecutionCancelledPayload(
        execution_id=execution.id,
        run_id=execution.run_id,
        cancelled_at=now,
        cancelled_by=data.cancelled_by,
        reason=data.reason,
        mode="cancel",
    )
    await append_events(session, [move.event(execution_cancelled.SPEC, payload)])
    return ControlPlaneExecutionCancelOutput(
        execution_id=execution.id, status=ExecutionStatus.CANCELLED, cancelled_at=now
    )


async def abort_execution(
    session: AsyncConnection, principal: Principal | None, data: ControlPlaneExecutionAbortInput
) -> ControlPlaneExecutionAbortOutput:
    locked = await lock_run(session, data.run_id, principal)
    allowed(Action.ABORT, locked.state)
    move = locked.move(data.aborted_by, utcnow())
    now = move.at
    steps = await load_steps(session, locked.execution.id)
    interrupted = await stop_execution(session, move, steps, ExecutionStatus.ABORTED, "ABORTED")
    payload = execution_aborted.ControlPlaneExecutionAbortedPayload(
        execution_id=locked.execution.id,
        run_id=data.run_id,
        aborted_at=now,
        aborted_by=data.aborted_by,
        reason=data.reason,
        interrupted_step_id=interrupted,
    )
    await append_events(session, [move.event(execution_aborted.SPEC, payload)])
    return ControlPlaneExecutionAbortOutput(run_id=data.run_id, status=ExecutionStatus.ABORTED, aborted_at=now)


async def shutdown_execution(
    session: AsyncConnection, principal: Principal | None, data: ControlPlaneExecutionShutdownInput
) -> ControlPlaneExecutionShutdownOutput:
    locked = await lock_run(session, data.run_id, principal)
    target = allowed(Action.SHUTDOWN, locked.state)
    move = locked.move(data.shutdown_by, utcnow())
    now = move.at
    steps = await load_steps(session, locked.execution.id)
    running = next((step for step in steps if step.status == StepStatus.RUNNING), None)
    if target == RunState.STOPPING and running is not None:
        # The running step may finish; its report then stops the run (see runner_reports.py).
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
        await append_events(session, [move.event(execution_shutdown_requested.SPEC, requested)])
        return ControlPlaneExecutionShutdownOutput(run_id=data.run_id, status=RunState.STOPPING, shutdown_at=now)
    await stop_execution(session, move, steps, ExecutionStatus.CANCELLED, "SHUTDOWN")
    cancelled = execution_cancelled.ControlPlaneExecutionCancelledPayload(
        execution_id=locked.execution.id,
        run_id=data.run_id,
        cancelled_at=now,
        cancelled_by=data.shutdown_by,
        reason=data.reason,
        mode="shutdown",
    )
    await append_events(session, [move.event(execution_cancelled.SPEC, cancelled)])
    return ControlPlaneExecutionShutdownOutput(run_id=data.run_id, status=ExecutionStatus.CANCELLED, shutdown_at=now)


async def retry_execution(
    session: AsyncConnection,
    principal: Principal | None,
    data: ControlPlaneExecutionRetryInput,
    *,
    terms: ApprovalTerms,
) -> ControlPlaneExecutionRetryOutput:
    locked = await lock_run(session, data.run_id, principal)
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
    run = NewRun(
        plan_id=locked.run.plan_id,
        attempt=locked.run.attempt + 1,
        from_position=failed.position,
        mode=locked.run.mode,
        retry_of=data.run_id,
    )
    new_run_id, status, events = await start_run(
        session, execution, run, Move(execution.id, None, data.retried_by, now), terms=terms
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
    retry = Move(execution.id, new_run_id, data.retried_by, now)
    await append_events(session, [retry.event(execution_retried.SPEC, retried, step_id=failed.id), *events])
    return ControlPlaneExecutionRetryOutput(run_id=new_run_id, status=status, phase=status, retried_at=now)
