"""controlPlane.execution.aborted"""

from __future__ import annotations

from app.contracts.control_plane.constants import CORE, meta
from app.contracts.model import define_event
from app.contracts.types import ID, ContractModel, Timestamp


class ControlPlaneExecutionAbortedPayload(ContractModel):
    execution_id: ID
    run_id: ID
    aborted_at: Timestamp
    aborted_by: ID
    reason: str | None = None
    interrupted_step_id: ID | None = None


SPEC = define_event(
    meta(
        "controlPlane.execution.aborted",
        title="Execution Aborted",
        description="An operator stopped a run at once (project addition).",
        goal="Record an emergency stop and the step it interrupted.",
        context="Emitted by abortExecution.",
    ),
    capability=CORE,
    payload=ControlPlaneExecutionAbortedPayload,
)
