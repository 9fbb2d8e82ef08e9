"""controlPlane.execution.step.blocked"""

from __future__ import annotations

from app.contracts.control_plane.constants import APPROVAL, meta
from app.contracts.model import define_event
from app.contracts.types import ID, ContractModel, Timestamp


class ControlPlaneExecutionStepBlockedPayload(ContractModel):
    execution_id: ID
    run_id: ID | None = None
    step_id: ID | None = None
    blocked_at: Timestamp
    reason: str


SPEC = define_event(
    meta(
        "controlPlane.execution.step.blocked",
        title="Step Blocked",
        description="An execution step was blocked, for example rejected by an operator.",
        goal="Record who stopped a step and why.",
        context="Emitted by rejectExecutionStep with the operator's reason.",
    ),
    capability=APPROVAL,
    payload=ControlPlaneExecutionStepBlockedPayload,
)
