"""controlPlane.execution.step.failed"""

from __future__ import annotations

from app.contracts.control_plane.constants import CORE, meta
from app.contracts.model import define_event
from app.contracts.types import ID, ContractModel, Timestamp


class ControlPlaneExecutionStepFailedPayload(ContractModel):
    execution_id: ID
    run_id: ID
    step_id: ID
    failed_at: Timestamp
    error_code: str
    error_message: str | None = None


SPEC = define_event(
    meta(
        "controlPlane.execution.step.failed",
        title="Step Failed",
        description="A runner reported that a step failed (project addition).",
        goal="Record which step failed and why, so a retry can start from it.",
        context="Emitted by reportStepFailed, before controlPlane.execution.failed.",
    ),
    capability=CORE,
    payload=ControlPlaneExecutionStepFailedPayload,
)
