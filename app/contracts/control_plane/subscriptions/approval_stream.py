"""controlPlane.approval.stream — the approval queue, live (project addition)."""

from __future__ import annotations

from typing import Literal

from app.auth import AuthLevel
from app.contracts.control_plane.constants import APPROVAL, meta
from app.contracts.control_plane.queries.approval_list import ControlPlanePendingApproval
from app.contracts.control_plane.statuses import RiskTier
from app.contracts.model import define_subscription
from app.contracts.types import ID, ContractModel

QueueChangeKind = Literal["snapshot", "added", "updated", "removed"]


class ControlPlaneApprovalStreamInput(ContractModel):
    workspace_id: ID | None = None
    risk_tier: RiskTier | None = None
    decidable_by_me: bool | None = None
    """Only the steps the caller may decide now ("my inbox"): a step leaves it when the caller votes, when it
    is decided, expires, or is escalated to roles the caller does not hold."""


class ControlPlaneApprovalQueueChange(ContractModel):
    """One change of the approval queue as the caller sees it."""

    kind: QueueChangeKind
    """`snapshot`: an item waiting when the subscription started (all of them come first); `added`: a step
    started to wait (or entered the caller's view); `updated`: a waiting item changed (a vote, an edit, an
    escalation); `removed`: the item left the queue (decided, expired, cancelled) or the caller's view."""
    item: ControlPlanePendingApproval
    """The item as it is now (for `removed`: as it was last seen)."""
    cursor: str
    """The event log position this change reflects: the queue is as of this cursor."""


SPEC = define_subscription(
    meta(
        "controlPlane.approval.stream",
        title="Stream The Approval Queue",
        description="First the steps awaiting a decision now (`snapshot`), then every change: a step starts to "
        "wait, collects a vote, is decided, expires, or is escalated out of the caller's roles (project addition).",
        goal="Tell operators the moment something needs them, instead of making them poll.",
        context="Studio's live approval inbox; items are those of pendingApprovals, with viewerCanDecide for the "
        "caller.",
        tags=("approval",),
    ),
    capability=APPROVAL,
    input=ControlPlaneApprovalStreamInput,
    output=ControlPlaneApprovalQueueChange,
    auth=AuthLevel.ADMIN,
    graphql_name="approvalQueue",
)
