"""controlPlane.execution.resumed"""

from __future__ import annotations

from app.contracts.control_plane.constants import CORE, meta
from app.contracts.model import define_event
from app.contracts.types import ID, ContractModel, Timestamp


class ControlPlaneExecutionResumedPayload(ContractModel):
    execution_id: ID
    run_id: ID
    resumed_at: Timestamp
    resumed_by: ID
    status: str


SPEC = define_event(
    meta(
        "controlPlane.execution.resumed",
        title="Execution Resumed",
        description="An operator resumed a paused run (project addition).",
        goal="Record who let a held run continue.",
        context="Emitted by resumeExecution.",
    ),
    capability=CORE,
    payload=ControlPlaneExecutionResumedPayload,
)
