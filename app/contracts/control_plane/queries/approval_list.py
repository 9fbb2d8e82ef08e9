"""controlPlane.approval.list — what waits for a decision (project addition)."""

from __future__ import annotations

from app.auth import AuthLevel
from app.contracts.control_plane.constants import APPROVAL, DEFAULT_PAGE_SIZE, meta
from app.contracts.control_plane.shared import Limit, Offset
from app.contracts.control_plane.statuses import RiskTier
from app.contracts.model import define_query
from app.contracts.types import ID, ContractModel, Timestamp


class ControlPlaneApprovalListInput(ContractModel):
    workspace_id: ID | None = None
    risk_tier: RiskTier | None = None
    decidable_by_me: bool | None = None
    """Only the steps the caller may decide now ("my inbox")."""
    limit: Limit | None = DEFAULT_PAGE_SIZE
    offset: Offset | None = 0


class ControlPlanePendingApproval(ContractModel):
    """A step awaiting a decision, with the execution it belongs to."""

    execution_id: ID
    execution_status: str
    execution_risk_tier: str | None = None
    workspace_id: ID
    step_id: ID
    position: int
    key: str
    risk_tier: str | None = None
    awaiting_since: Timestamp
    required_approvals: int
    approvals_given: int
    deadline: Timestamp | None = None
    review_digest: str
    viewer_can_decide: bool


class ControlPlaneApprovalListOutput(ContractModel):
    items: list[ControlPlanePendingApproval]
    total: int


SPEC = define_query(
    meta(
        "controlPlane.approval.list",
        title="List Pending Approvals",
        description="List the steps awaiting a decision across executions, oldest first.",
        goal="Show operators what waits for them, so nothing risky waits forever.",
        context="Used by Studio's approval inbox; each item carries the ids that approve and reject need.",
        tags=("approval",),
    ),
    capability=APPROVAL,
    input=ControlPlaneApprovalListInput,
    output=ControlPlaneApprovalListOutput,
    auth=AuthLevel.ADMIN,
    graphql_name="pendingApprovals",
)
