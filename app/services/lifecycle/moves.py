"""A lifecycle move: who acts on which run of which execution, and when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel

from app.contracts.model import EventSpec
from app.services.kernel.event_log import NewEvent


@dataclass(frozen=True, slots=True)
class Move:
    """One lifecycle move: which run of which execution, who makes it and when. Every event of the
    move records these, so `event` only needs what differs."""

    execution_id: str
    run_id: str | None
    actor: str | None
    at: datetime

    def event(self, spec: EventSpec, payload: BaseModel, *, step_id: str | None = None) -> NewEvent:
        return NewEvent(
            spec=spec,
            payload=payload,
            occurred_at=self.at,
            execution_id=self.execution_id,
            step_id=step_id,
            actor=self.actor,
            run_id=self.run_id,
        )
