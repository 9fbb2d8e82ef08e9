"""Lifecycle commands refused by the state machine are answered from a read: a CONFLICT (or a NOT_FOUND)
never waits for the writer. What a precheck allows, the command checks again under its row lock, so a
state that changed in between is still refused there (the lock, not the precheck, decides)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth import Principal
from app.contracts.model import Precheck
from app.services.lifecycle.locking import execution_state, lock_execution, lock_run
from app.services.lifecycle.state_machine import Action, allowed


def on_run(action: Action) -> Precheck[AsyncConnection]:
    """For commands addressed by `run_id` that consult the state machine first."""

    async def precheck(session: AsyncConnection, principal: Principal | None, data: Any) -> None:
        allowed(action, (await lock_run(session, data.run_id, principal, lock=False)).state)

    precheck.__qualname__ = precheck.__name__ = f"precheck_{action.name.lower()}"
    return precheck


async def precheck_cancel(session: AsyncConnection, principal: Principal | None, data: Any) -> None:
    execution = await lock_execution(session, data.execution_id, principal, lock=False)
    allowed(Action.CANCEL, execution_state(execution))
