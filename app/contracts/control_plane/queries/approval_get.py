"""controlPlane.approval.get — everything a reviewer needs about one request (project addition)."""

from __future__ import annotations

from app.auth import AuthLevel
from app.contracts.control_plane.approval import (
    ControlPlaneApprovalEligibility,
    ControlPlaneApprovalRule,
    ControlPlaneApprovalVote,
    ControlPlaneStepOutcome,
)
from app.contracts.control_plane.constants import APPROVAL, meta
from app.contracts.model import define_query
from app.contracts.types import ID, ContractModel, JSONObject, Timestamp


class ControlPlaneApprovalGetInput(ContractModel):
    execution_id: ID
    step_id: ID


class ControlPlaneApprovalRequest(ContractModel):
    """A step that requires approval, with what the reviewer approves and on which terms."""

    execution_id: ID
    step_id: ID
    workspace_id: ID
    run_id: ID | None = None
    position: int
    key: str
    status: str
    risk_tier: str
    risk_reasons: list[str]
    input: JSONObject | None = None
    """The input the step will run with (the edited one after an approval with edits)."""
    original_input: JSONObject | None = None
    """The input as planned, when an approver edited it."""
    intent_text: str | None = None
    requested_by: ID | None = None
    """Who submitted the intent (its `actorId` when given, else `submittedBy`)."""
    plan_id: ID
    plan_hash: str
    review_digest: str
    awaiting_since: Timestamp | None = None
    deadline: Timestamp | None = None
    rule: ControlPlaneApprovalRule
    required_approvals: int
    approvals: list[ControlPlaneApprovalVote]
    """The votes on the input as it is now, oldest first."""
    viewer_eligibility: ControlPlaneApprovalEligibility
    preceding_steps: list[ControlPlaneStepOutcome]


class ControlPlaneApprovalGetOutput(ContractModel):
    request: ControlPlaneApprovalRequest


SPEC = define_query(
    meta(
        "controlPlane.approval.get",
        title="Approval Request",
        description="One step's approval request: the step and its input, the intent and requester, the rule, "
        "the votes so far, the review digest and whether the caller may decide.",
        goal="Let a reviewer see exactly what they approve before they approve it.",
        context="Studio's review page; the decision then carries the reviewDigest shown here.",
        tags=("approval",),
    ),
    capability=APPROVAL,
    input=ControlPlaneApprovalGetInput,
    output=ControlPlaneApprovalGetOutput,
    auth=AuthLevel.ADMIN,
    graphql_name="approvalRequest",
)
