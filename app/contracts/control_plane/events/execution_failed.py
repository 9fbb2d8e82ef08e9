"""controlPlane.execution.failed"""

from __future__ import annotations

from app.contracts.control_plane.constants import CORE, meta
from app.contracts.model import define_event
from app.contracts.types import ID, ContractModel, JSONObject, Timestamp


class ControlPlaneExecutionFailedPayload(ContractModel):
    execution_id: ID
    run_id: ID | None = None
    failed_at: Timestamp
    error_code: str
    error_message: str | None = None
    problem: JSONObject | None = None


SPEC = define_event(
    meta(
        "controlPlane.execution.failed",
        title="Execution Failed",
        description="An execution stopped without completing.",
        goal="Record why an execution stopped.",
        context="Emitted when a step fails or is rejected (errorCode STEP_REJECTED).",
    ),
    capability=CORE,
    payload=ControlPlaneExecutionFailedPayload,
)
