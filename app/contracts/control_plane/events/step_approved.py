"""controlPlane.execution.step.approved"""

from __future__ import annotations

from app.contracts.control_plane.constants import APPROVAL, meta
from app.contracts.model import define_event
from app.contracts.types import ID, ContractModel, Timestamp


class ControlPlaneExecutionStepApprovedPayload(ContractModel):
    execution_id: ID
    run_id: ID | None = None
    step_id: ID
    approved_at: Timestamp
    approved_by: ID
    note: str | None = None
    input_edited: bool = False
    """An approver replaced the step's input (the approvalRecorded event of that vote has both)."""
    review_digest: str | None = None
    """The digest of what was approved."""
    approvers: list[ID] | None = None
    """Everyone whose approval counted toward the quorum, in voting order."""


SPEC = define_event(
    meta(
        "controlPlane.execution.step.approved",
        title="Step Approved",
        description="An operator approved an execution step (project addition).",
        goal="Record who allowed a risky step to run, so the audit trail shows approvals as well as rejections.",
        context="Emitted by approveExecutionStep (the vote that completes the quorum) and by the deadline sweeper "
        "(approvedBy `system:timeout`).",
    ),
    capability=APPROVAL,
    payload=ControlPlaneExecutionStepApprovedPayload,
)
