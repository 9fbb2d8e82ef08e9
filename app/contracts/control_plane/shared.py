"""Models more than one control-plane contract uses."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from app.contracts.control_plane.constants import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from app.contracts.types import ID, ContractModel, JSONObject, Timestamp

Limit = Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE, description=f"Page size, 1 to {MAX_PAGE_SIZE}.")]
Offset = Annotated[int, Field(ge=0, le=1_000_000, description="Items to skip.")]


class ControlPlaneExecutionLaneState(ContractModel):
    """The track an execution is on as operators see it, derived from stored state."""

    lane_key: str | None = None
    lane_status: str | None = None
    lane_phase: str | None = None
    owner_role: str | None = None
    evidence_bundle_count: int | None = None
    pending_approval_count: int | None = None
    recommended_next_lane: str | None = None


class ControlPlaneExecutionStep(ContractModel):
    """One step of an execution's plan."""

    step_id: ID
    position: int
    key: str
    status: str
    risk_tier: str | None = None
    requires_approval: bool
    decided_by: ID | None = None
    decided_at: Timestamp | None = None
    decision_note: str | None = None


class ControlPlaneExecutionRecord(ContractModel):
    """An execution with its steps."""

    execution_id: ID
    intent_id: ID | None = None
    plan_id: ID | None = None
    run_id: ID | None = None
    status: str
    risk_tier: str | None = None
    requires_approval: bool | None = None
    lane: ControlPlaneExecutionLaneState | None = None
    created_at: Timestamp
    updated_at: Timestamp
    steps: list[ControlPlaneExecutionStep]


class ControlPlaneExecutionSummary(ContractModel):
    """An execution in a list."""

    execution_id: ID
    status: str
    risk_tier: str | None = None
    lane: ControlPlaneExecutionLaneState | None = None
    updated_at: Timestamp


class ControlPlaneTraceEntry(ContractModel):
    timestamp: Timestamp
    stage: str
    status: str
    actor_id: ID | None = None
    metadata: JSONObject | None = None


class ControlPlaneSkillVerificationIssue(ContractModel):
    code: str
    message: str


DEFAULT_LIMIT = DEFAULT_PAGE_SIZE


class ControlPlaneExecutionLaneSummary(ContractModel):
    """A run's lane in a list; every field is derived from stored state (see app/services/lifecycle/lanes.py)."""

    run_id: ID
    execution_id: ID
    lane_key: str
    lane_status: str
    lane_phase: str
    owner_role: str
    objective: str
    evidence_completeness: float
    terminal_readiness: str | None = None
    pending_approval_count: int
    missing_evidence_count: int | None = None
    missing_approval_count: int | None = None
    """Approvals still missing: the votes each undecided request lacks, summed."""
    recommended_next_lane: str | None = None
    updated_at: Timestamp


class ControlPlaneExecutionLaneDetail(ContractModel):
    """Everything about a run's lane; every field is derived from stored state (see app/services/lifecycle/lanes.py)."""

    run_id: ID
    execution_id: ID
    lane_key: str
    lane_status: str
    lane_phase: str
    owner_role: str
    objective: str
    team_status: str | None = None
    completion_phase: str | None = None
    terminal_readiness: str | None = None
    missing_evidence: list[str] | None = None
    missing_approvals: list[str] | None = None
    blocking_risks: list[str] | None = None
    recommended_next_lane: str | None = None
    evidence_bundle_count: int
    approval_count: int
    transition_count: int
    queue_skew: int | None = None
    cleanup_status: str | None = None
    retry_count: int | None = None
    snapshot_ref: str | None = None
    updated_at: Timestamp
