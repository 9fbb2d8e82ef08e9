"""What every lifecycle write shares: locking an execution, reading its steps, moving to the next step.

Lifecycle commands lock the execution row first (`SELECT ... FOR UPDATE` on PostgreSQL; SQLite
writers are serialized by `BEGIN IMMEDIATE`), then decide from what they read: two operators or
runners acting on one execution at the same moment are applied one after the other, and the second
sees the first's result. Decisions (approve/reject) use their own conditional update and agree with
this lock: each of their writes is conditional on the state it expects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Row, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.contracts.control_plane.events import execution_completed, step_approval_requested
from app.db.tables import execution_table as execution_t
from app.db.tables import run_table as run_t
from app.db.tables import step_table as step_t
from app.errors import NotFound
from app.services.common import NewEvent
from app.services.state_machine import AWAITING, run_state

DONE_STEP_STATUSES = ("completed", "skipped")
OPEN_STEP_STATUSES = ("pending", AWAITING, "approved")
"""Steps that have not run yet; skipped when an execution stops."""


@dataclass(frozen=True, slots=True)
class LockedRun:
    run: Any
    """The run's columns by name (an `execution_run` row)."""
    execution: Any
    """The execution's columns by name, its row locked for this transaction."""

    @property
    def is_current(self) -> bool:
        return bool(self.execution.run_id == self.run.id)

    @property
    def state(self) -> str:
        return (
            execution_state(self.execution) if self.is_current else run_state("", False, False, self.run.ended_status)
        )


def execution_state(execution: Any) -> str:
    """The state of the execution's own (current) run: its status, or `stopping`; before a run, its status."""
    return run_state(execution.status, execution.shutdown_requested_at is not None, True, None)


async def lock_execution(session: AsyncSession, execution_id: str) -> Row[Any]:
    row = (
        await session.execute(select(execution_t).where(execution_t.c.id == execution_id).with_for_update())
    ).one_or_none()
    if row is None:
        raise NotFound(f"Execution {execution_id!r} does not exist.")
    return row


# One round trip for the run and its execution; only the execution row is locked (FOR UPDATE OF).
_RUN_AND_EXECUTION = (
    select(*run_t.c, *execution_t.c)
    .join_from(run_t, execution_t, execution_t.c.id == run_t.c.execution_id)
    .where(run_t.c.id == bindparam("run_id"))
    .with_for_update(of=execution_t)
)
_RUN_COLUMNS = tuple(run_t.c.keys())
_EXECUTION_COLUMNS = tuple(execution_t.c.keys())


async def lock_run(session: AsyncSession, run_id: str) -> LockedRun:
    row = (await session.execute(_RUN_AND_EXECUTION, {"run_id": run_id})).one_or_none()
    if row is None:
        raise NotFound(f"Run {run_id!r} does not exist.")
    values = tuple(row)
    split = len(_RUN_COLUMNS)
    return LockedRun(
        run=SimpleNamespace(**dict(zip(_RUN_COLUMNS, values[:split], strict=True))),
        execution=SimpleNamespace(**dict(zip(_EXECUTION_COLUMNS, values[split:], strict=True))),
    )


async def load_steps(session: AsyncSession, execution_id: str) -> list[Row[Any]]:
    return list(
        (
            await session.execute(
                select(step_t).where(step_t.c.execution_id == execution_id).order_by(step_t.c.position)
            )
        ).all()
    )


def next_step(steps: Sequence[Any]) -> Any | None:
    """The first step that has not completed (nor been skipped): the only one a runner may start."""
    return next((step for step in steps if step.status not in DONE_STEP_STATUSES), None)


def step_of(steps: Sequence[Row[Any]], step_id: str, execution_id: str) -> Row[Any]:
    for step in steps:
        if step.id == step_id:
            return step
    raise NotFound(f"Step {step_id!r} is not a step of execution {execution_id!r}.")


async def set_execution(session: AsyncSession, execution_id: str, at: datetime, **values: Any) -> None:
    await session.execute(update(execution_t).where(execution_t.c.id == execution_id).values(updated_at=at, **values))


async def set_step(session: AsyncSession, step_id: str, at: datetime, **values: Any) -> None:
    await session.execute(update(step_t).where(step_t.c.id == step_id).values(updated_at=at, **values))


async def skip_open_steps(session: AsyncSession, execution_id: str, at: datetime) -> None:
    await session.execute(
        update(step_t)
        .where(step_t.c.execution_id == execution_id, step_t.c.status.in_(OPEN_STEP_STATUSES))
        .values(status="skipped", updated_at=at)
    )


async def stop_execution(
    session: AsyncSession, execution_id: str, steps: Sequence[Any], status: str, error_code: str, at: datetime
) -> str | None:
    """End an execution now: a running step fails with `error_code`, steps not yet run are skipped.
    Returns the id of the step it interrupted, if any."""
    running = next((step for step in steps if step.status == "running"), None)
    if running is not None:
        await set_step(
            session, running.id, at, status="failed", error_code=error_code, error_message=f"Execution {status}."
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
        await set_execution(session, execution.id, at, status="completed", shutdown_requested_at=None)
        payload = execution_completed.ControlPlaneExecutionCompletedPayload(
            execution_id=execution.id, run_id=run_id, completed_at=at, outcome="completed"
        )
        return "completed", None, [NewEvent(execution_completed.SPEC, payload, at, execution.id, None, actor, run_id)]
    if following.status == "pending" and following.requires_approval:
        await set_step(session, following.id, at, status=AWAITING)
        new_status = AWAITING if status == "running" else status
        await set_execution(session, execution.id, at, status=new_status)
        requested = step_approval_requested.ControlPlaneExecutionStepApprovalRequestedPayload(
            execution_id=execution.id,
            run_id=run_id,
            step_id=following.id,
            risk_tier=following.risk_tier,
            requested_at=at,
        )
        event = NewEvent(step_approval_requested.SPEC, requested, at, execution.id, following.id, actor, run_id)
        return new_status, following.id, [event]
    await set_execution(session, execution.id, at, status=status)
    return status, following.id if following.status == AWAITING else None, []
