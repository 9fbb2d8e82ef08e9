"""controlPlane.execution.paused"""

from __future__ import annotations

from app.contracts.control_plane.constants import CORE, meta
from app.contracts.model import define_event
from app.contracts.types import ID, ContractModel, Timestamp


class ControlPlaneExecutionPausedPayload(ContractModel):
    execution_id: ID
    run_id: ID
    paused_at: Timestamp
    paused_by: ID
    reason: str | None = None
    previous_status: str


SPEC = define_event(
    meta(
        "controlPlane.execution.paused",
        title="Execution Paused",
        description="An operator paused a run (project addition).",
        goal="Record who held a run and why.",
        context="Emitted by pauseExecution.",
    ),
    capability=CORE,
    payload=ControlPlaneExecutionPausedPayload,
)
