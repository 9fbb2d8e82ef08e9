"""controlPlane.execution.step.approvalRequested"""

from __future__ import annotations

from app.contracts.control_plane.constants import APPROVAL, meta
from app.contracts.model import define_event
from app.contracts.types import ID, ContractModel, Timestamp


class ControlPlaneExecutionStepApprovalRequestedPayload(ContractModel):
    execution_id: ID
    run_id: ID
    step_id: ID
    risk_tier: str | None = None
    requested_at: Timestamp
    rule_id: str | None = None
    """The approval rule that governs the request (stored with the step; a later policy change keeps it)."""
    policy_version: str | None = None
    required_approvals: int | None = None
    approver_roles: list[str] | None = None
    deadline: Timestamp | None = None
    review_digest: str | None = None


SPEC = define_event(
    meta(
        "controlPlane.execution.step.approvalRequested",
        title="Step Approval Requested",
        description="A step that requires approval was reached and now awaits a decision (project addition).",
        goal="Tell approvers that a risky step waits for them.",
        context="Emitted by startExecution and reportStepCompleted when the next step requires approval.",
    ),
    capability=APPROVAL,
    payload=ControlPlaneExecutionStepApprovalRequestedPayload,
)
