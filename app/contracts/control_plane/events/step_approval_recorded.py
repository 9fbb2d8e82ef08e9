"""controlPlane.execution.step.approvalRecorded — one vote toward a quorum (project addition)."""

from __future__ import annotations

from app.contracts.control_plane.constants import APPROVAL, meta
from app.contracts.model import define_event
from app.contracts.types import ID, ContractModel, JSONObject, Timestamp


class ControlPlaneExecutionStepApprovalRecordedPayload(ContractModel):
    execution_id: ID
    run_id: ID | None = None
    step_id: ID
    actor_id: ID
    decision: str
    note: str | None = None
    recorded_at: Timestamp
    approvals_given: int
    """Approvals counted for the step's current input, this one included."""
    required_approvals: int
    rule_id: str
    review_digest: str
    """The digest of what this vote approved (after the edit, for an approval with edits)."""
    edited_input: JSONObject | None = None
    """The input this approver replaced the step's input with."""
    original_input: JSONObject | None = None
    """The input before the edit."""


SPEC = define_event(
    meta(
        "controlPlane.execution.step.approvalRecorded",
        title="Step Approval Recorded",
        description="One person's approval of a step that requires approval, toward its quorum (project addition).",
        goal="Show how a quorum was reached, vote by vote, and who edited what.",
        context="Emitted by approveExecutionStep and decideExecutionSteps for every counted approval; a reject "
        "vetoes at once and is recorded by step.blocked and execution.failed.",
    ),
    capability=APPROVAL,
    payload=ControlPlaneExecutionStepApprovalRecordedPayload,
)
