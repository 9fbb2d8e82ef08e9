"""Models of the approval workflow that several contracts share (CONTRACTS.md, "Approval workflow")."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from app.contracts.control_plane.statuses import Value
from app.contracts.types import ID, ContractModel, JSONObject, Timestamp

MAX_REQUIRED_APPROVALS = 20
"""The largest quorum a rule may ask for: more distinct people than this never answer in time."""
MAX_TIMEOUT_SECONDS = 366 * 24 * 3600
REVIEW_DIGEST_PATTERN = r"^sha256:[0-9a-f]{64}$"
ROLE_PATTERN = r"^[a-z][a-z0-9_.:-]{0,63}$"

RoleName = Annotated[str, Field(pattern=ROLE_PATTERN)]


class TimeoutAction(Value):
    """What happens to a step nobody decided by its deadline."""

    REJECT = "reject"
    APPROVE = "approve"
    ESCALATE = "escalate"


class EligibilityCode(Value):
    """Why a person may not decide a step (ControlPlaneEligibilityReason.code)."""

    NOT_AWAITING = "NOT_AWAITING"
    WORKSPACE_NOT_GRANTED = "WORKSPACE_NOT_GRANTED"
    ROLE_REQUIRED = "ROLE_REQUIRED"
    SELF_APPROVAL = "SELF_APPROVAL"
    ALREADY_VOTED = "ALREADY_VOTED"
    EDIT_NOT_ALLOWED = "EDIT_NOT_ALLOWED"
    REVIEW_STALE = "REVIEW_STALE"


REVIEW_STALE_STATUS = "review_stale"
"""The `currentStatus` of a CONFLICT whose reviewDigest no longer matches the step."""
TIMEOUT_PRINCIPAL = "system:timeout"
"""Who approved a step whose rule approves at the deadline."""
APPROVAL_EXPIRED = "APPROVAL_EXPIRED"
"""The error code of an execution stopped because nobody decided its step in time."""


class ControlPlaneApprovalRule(ContractModel):
    """One rule of the approval policy, as stored with the step it governs."""

    rule_id: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")]
    description: str | None = Field(default=None, max_length=500)
    match_tiers: list[str] | None = None
    match_keys: list[Annotated[str, Field(min_length=1, max_length=200)]] | None = None
    match_workspaces: list[ID] | None = None
    approver_roles: Annotated[list[RoleName], Field(min_length=1, max_length=20)]
    required_approvals: Annotated[int, Field(ge=1)] = 1
    allow_self_approval: bool = False
    allow_edit: bool = False
    timeout_seconds: Annotated[int, Field(ge=1, le=MAX_TIMEOUT_SECONDS)] | None = None
    on_timeout: TimeoutAction | None = None
    escalate_to_roles: list[RoleName] | None = None
    policy_version: str


class ControlPlaneApprovalVote(ContractModel):
    """One person's decision on a step, counted toward its quorum (or its veto)."""

    actor_id: ID
    decision: str
    decided_at: Timestamp
    note: str | None = None
    edited_input: bool


class ControlPlaneEligibilityReason(ContractModel):
    code: str
    message: str


class ControlPlaneApprovalEligibility(ContractModel):
    """Whether the caller may decide the step now, and every reason when not."""

    can_decide: bool
    reasons: list[ControlPlaneEligibilityReason]


class ControlPlaneStepOutcome(ContractModel):
    """A step before the one under review, with what it produced."""

    step_id: ID
    key: str
    status: str
    output: JSONObject | None = None
