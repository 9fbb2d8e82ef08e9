"""Locking an execution (and a run with it) before a lifecycle command decides.

Lifecycle commands lock the execution row first (`SELECT ... FOR UPDATE` on PostgreSQL; SQLite
writers are serialized by `BEGIN IMMEDIATE`), then decide from what they read: two operators or
runners acting on one execution at the same moment are applied one after the other, and the second
sees the first's result. Decisions (approve/reject) use their own conditional update and agree with
this lock: each of their writes is conditional on the state it expects.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Row, bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth import Principal
from app.db.tables import execution_table as execution_t
from app.db.tables import run_table as run_t
from app.errors import NotFound
from app.services.kernel.event_log import Move
from app.services.kernel.grants import by_grants, grants_shape, shaped_grant_params
from app.services.lifecycle.state_machine import State, run_state


@dataclass(frozen=True, slots=True)
class LockedRun:
    run: Any
    """The run's columns by name (an `execution_run` row)."""
    execution: Any
    """The execution's columns by name, its row locked for this transaction."""

    @property
    def is_current(self) -> bool:
        return bool(self.execution.run_id == self.run.id)

    def move(self, actor: str | None, at: datetime) -> Move:
        """A move on this run (what its events record)."""
        return Move(self.execution.id, self.run.id, actor, at)

    @property
    def state(self) -> State:
        return (
            execution_state(self.execution)
            if self.is_current
            else run_state("", shutdown_requested=False, is_current=False, ended_status=self.run.ended_status)
        )


def execution_state(execution: Any) -> State:
    """The state of the execution's own (current) run: its status, or `stopping`; before a run, its status."""
    return run_state(
        execution.status,
        shutdown_requested=execution.shutdown_requested_at is not None,
        is_current=True,
        ended_status=None,
    )


_READ_EXECUTION = by_grants(
    lambda granted: select(execution_t).where(
        execution_t.c.id == bindparam("execution_id"), granted(execution_t.c.workspace_id)
    )
)
_EXECUTION = {shape: statement.with_for_update() for shape, statement in _READ_EXECUTION.items()}


async def lock_execution(
    session: AsyncConnection, execution_id: str, principal: Principal | None, *, lock: bool = True
) -> Row[Any]:
    """The execution, its row locked (`lock=False`: only read, for a precheck); NOT_FOUND as well outside
    the caller's workspaces."""
    params = {"execution_id": execution_id, **shaped_grant_params(principal)}
    statement = (_EXECUTION if lock else _READ_EXECUTION)[grants_shape(principal)]
    row = (await session.execute(statement, params)).one_or_none()
    if row is None:
        raise NotFound(f"Execution {execution_id!r} does not exist.")
    return row


# One round trip for the run and its execution; only the execution row is locked (FOR UPDATE OF).
_READ_RUN_AND_EXECUTION = by_grants(
    lambda granted: (
        select(*run_t.c, *execution_t.c)
        .join_from(run_t, execution_t, execution_t.c.id == run_t.c.execution_id)
        .where(run_t.c.id == bindparam("run_id"), granted(execution_t.c.workspace_id))
    )
)
_RUN_AND_EXECUTION = {
    shape: statement.with_for_update(of=execution_t) for shape, statement in _READ_RUN_AND_EXECUTION.items()
}
_RUN_COLUMNS = tuple(run_t.c.keys())
_EXECUTION_COLUMNS = tuple(execution_t.c.keys())


async def lock_run(
    session: AsyncConnection, run_id: str, principal: Principal | None, *, lock: bool = True
) -> LockedRun:
    """The run and its execution, the execution's row locked (`lock=False`: only read, for a precheck);
    NOT_FOUND as well outside the caller's workspaces."""
    params = {"run_id": run_id, **shaped_grant_params(principal)}
    statement = (_RUN_AND_EXECUTION if lock else _READ_RUN_AND_EXECUTION)[grants_shape(principal)]
    row = (await session.execute(statement, params)).one_or_none()
    if row is None:
        raise NotFound(f"Run {run_id!r} does not exist.")
    values = tuple(row)
    split = len(_RUN_COLUMNS)
    return LockedRun(
        run=SimpleNamespace(**dict(zip(_RUN_COLUMNS, values[:split], strict=True))),
        execution=SimpleNamespace(**dict(zip(_EXECUTION_COLUMNS, values[split:], strict=True))),
    )
