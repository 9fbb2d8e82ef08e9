"""Reading and writing an execution's row and its steps, for the lifecycle commands."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.contracts.control_plane.statuses import DONE_STEP_STATUSES, OPEN_STEP_STATUSES, StepStatus
from app.db.tables import execution_table as execution_t
from app.db.tables import step_table as step_t
from app.errors import NotFound
from app.services.kernel.literals import one_of


async def load_steps(session: AsyncConnection, execution_id: str) -> list[Row[Any]]:
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


async def set_execution(session: AsyncConnection, execution_id: str, at: datetime, **values: Any) -> None:
    await session.execute(update(execution_t).where(execution_t.c.id == execution_id).values(updated_at=at, **values))


async def set_step(session: AsyncConnection, step_id: str, at: datetime, **values: Any) -> None:
    await session.execute(update(step_t).where(step_t.c.id == step_id).values(updated_at=at, **values))


async def skip_open_steps(session: AsyncConnection, execution_id: str, at: datetime) -> None:
    await session.execute(
        update(step_t)
        .where(step_t.c.execution_id == execution_id, one_of(step_t.c.status, OPEN_STEP_STATUSES))
        .values(status=StepStatus.SKIPPED, updated_at=at)
    )
