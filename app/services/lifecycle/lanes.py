"""Lanes: the track a run (or an execution) is on, as operators see it. Every field is derived here,
from stored state only (statuses, steps, decisions, events, evidence exports); nothing is typed in.

| field | derived from |
| --- | --- |
| laneKey, laneStatus, ownerRole | the run's state, through `STATE_LANES` (also used in SQL filters) |
| lanePhase | the run's state; before a run: intake / planned / verified / plan_rejected |
| objective | the state and the next step (position, key, tier) |
| pendingApprovalCount | steps awaiting a decision |
| missingApprovals | steps that require approval and are neither decided nor skipped, with the votes |
|  | a quorum still lacks (`step 2 rollout.production (1 of 2 approvals)`); the count is of votes |
| missingEvidence | `plan.verified` until the plan is verified; `approval:<key>` per reached step that |
|  | requires approval and has no decision; `bundle` once the run has ended without a bundle |
| evidenceCompleteness | 1 - missing evidence / required evidence |
| terminalReadiness | not_ready while the run is live; needs_evidence when ended without a bundle; ready |
| blockingRisks | steps awaiting a decision (with tier), a failed step (with its error code), a pause |
| recommendedNextLane | plan -> execute; execute -> review when the next step requires approval, |
|  | else complete; review -> execute |
| teamStatus | waiting_on_<owner> while live, done or stopped after |
| completionPhase | completed steps / all steps |
| evidenceBundleCount, snapshotRef | evidence bundles of the run, the latest one's id |
| approvalCount | decisions on the execution's steps |
| transitionCount | events recorded for the run |
| queueSkew | seconds the oldest request awaiting a decision has waited (0 when none) |
| cleanupStatus | after the end: retryable (failed with steps left), clean otherwise |
| retryCount | attempt - 1 |
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, and_, case, func

from app.contracts.control_plane.shared import (
    ControlPlaneExecutionLaneDetail,
    ControlPlaneExecutionLaneState,
    ControlPlaneExecutionLaneSummary,
)
from app.contracts.control_plane.statuses import (
    DONE_STEP_STATUSES,
    ExecutionStatus,
    LaneKey,
    LaneStatus,
    RunState,
    StepStatus,
    Verdict,
)
from app.db.tables import execution_table as execution_t
from app.db.tables import run_table as run_t
from app.services.kernel.literals import one_of
from app.services.lifecycle.state_machine import is_terminal

_PLAN, _EXECUTE, _REVIEW, _COMPLETE = LaneKey.PLAN, LaneKey.EXECUTE, LaneKey.REVIEW, LaneKey.COMPLETE
_ACTIVE, _BLOCKED, _DONE, _STOPPED = LaneStatus.ACTIVE, LaneStatus.BLOCKED, LaneStatus.DONE, LaneStatus.STOPPED
STATE_LANES: Mapping[str, tuple[LaneKey, LaneStatus, str]] = {
    ExecutionStatus.PENDING: (_PLAN, _ACTIVE, "planner"),
    ExecutionStatus.RUNNING: (_EXECUTE, _ACTIVE, "runner"),
    RunState.STOPPING: (_EXECUTE, _ACTIVE, "runner"),
    ExecutionStatus.PAUSED: (_EXECUTE, _BLOCKED, "operator"),
    ExecutionStatus.AWAITING_APPROVAL: (_REVIEW, _BLOCKED, "approver"),
    ExecutionStatus.COMPLETED: (_COMPLETE, _DONE, "auditor"),
    ExecutionStatus.FAILED: (_COMPLETE, _STOPPED, "operator"),
    ExecutionStatus.REJECTED: (_COMPLETE, _STOPPED, "auditor"),
    ExecutionStatus.CANCELLED: (_COMPLETE, _STOPPED, "auditor"),
    ExecutionStatus.ABORTED: (_COMPLETE, _STOPPED, "auditor"),
    RunState.SUPERSEDED: (_COMPLETE, _STOPPED, "auditor"),
}
"""state -> (lane key, lane status, owner role)."""


def run_state_sql() -> ColumnElement[str]:
    """`state_machine.run_state` in SQL, for filtering runs by lane."""
    return case(
        (run_t.c.id != execution_t.c.run_id, func.coalesce(run_t.c.ended_status, RunState.SUPERSEDED.value)),
        else_=run_state_sql_for_execution(),
    )


def run_state_sql_for_execution() -> ColumnElement[str]:
    """The state of an execution's current run (its status, or stopping), in SQL."""
    return case(
        (
            and_(
                execution_t.c.shutdown_requested_at.is_not(None),
                one_of(execution_t.c.status, (ExecutionStatus.RUNNING, ExecutionStatus.PAUSED)),
            ),
            RunState.STOPPING.value,
        ),
        else_=execution_t.c.status,
    )


def lane_key_sql(state: ColumnElement[str]) -> ColumnElement[str]:
    return case({str(s): lane[0].value for s, lane in STATE_LANES.items()}, value=state, else_=LaneKey.PLAN.value)


def lane_status_sql(state: ColumnElement[str]) -> ColumnElement[str]:
    return case({str(s): lane[1].value for s, lane in STATE_LANES.items()}, value=state, else_=LaneStatus.ACTIVE.value)


def plan_phase(plan_id: str | None, verdict: str | None) -> str:
    if plan_id is None:
        return "intake"
    if verdict is None:
        return "planned"
    return "plan_rejected" if verdict == Verdict.REJECTED else "verified"


def _next_lane(key: str, *, next_needs_approval: bool) -> str | None:
    if key == LaneKey.PLAN:
        return LaneKey.EXECUTE
    if key == LaneKey.EXECUTE:
        return LaneKey.REVIEW if next_needs_approval else LaneKey.COMPLETE
    if key == LaneKey.REVIEW:
        return LaneKey.EXECUTE
    return None


@lru_cache(maxsize=4096)
def execution_lane(
    state: str, phase: str | None, pending_approvals: int, bundles: int, *, next_needs_approval: bool
) -> ControlPlaneExecutionLaneState:
    """The lane summary shown with an execution; `phase` is its plan phase while pending. A function of a few
    small values whose result is immutable (contract models are frozen), so one object serves every execution in
    the same state: a page of 50 builds and validates a handful instead of 50."""
    key, status, owner = STATE_LANES.get(state, STATE_LANES[ExecutionStatus.PENDING])
    return ControlPlaneExecutionLaneState(
        lane_key=key,
        lane_status=status,
        lane_phase=phase if state == ExecutionStatus.PENDING and phase else state,
        owner_role=owner,
        evidence_bundle_count=bundles,
        pending_approval_count=pending_approvals,
        recommended_next_lane=_next_lane(key, next_needs_approval=next_needs_approval),
    )


def _missing_votes(step: StepFacts | StepSummaryFacts) -> int:
    """The votes an undecided request still lacks (at least one)."""
    return max(step.required_approvals - step.approvals_given, 1)


def _lane_updated_at(updated_at: datetime, latest_bundle_at: datetime | None) -> datetime:
    """A lane changes with its execution and with each evidence export."""
    return max(updated_at, latest_bundle_at or updated_at)


def _readiness(*, ended: bool, bundles: int) -> str:
    return ("ready" if bundles else "needs_evidence") if ended else "not_ready"


class StepFacts(NamedTuple):
    """A step as a lane sees it (a named tuple: a page of 50 lanes builds 250 of them, and a frozen dataclass's
    `__init__` sets each field through `object.__setattr__`)."""

    position: int
    key: str
    status: str
    risk_tier: str | None
    requires_approval: bool
    decided: bool
    error_code: str | None
    updated_at: datetime
    required_approvals: int = 1
    approvals_given: int = 0
    awaiting_since: datetime | None = None

    @property
    def missing_votes(self) -> int:
        return _missing_votes(self)


class StepSummaryFacts(NamedTuple):
    """What a lane summary reads of a step (app/services/audit/lane_queries.py reads them in this order): no
    times, no error code, which only the detail's texts and queue skew use (parsing step times was a tenth of a
    lanes page)."""

    position: int
    key: str
    status: str
    risk_tier: str | None
    requires_approval: bool
    decided: bool
    required_approvals: int
    approvals_given: int

    @property
    def missing_votes(self) -> int:
        return _missing_votes(self)


@dataclass(frozen=True, slots=True)
class RunFacts:
    run_id: str
    execution_id: str
    state: str
    attempt: int
    plan_verified: bool
    steps: Sequence[StepFacts]
    bundle_count: int
    latest_bundle_id: str | None
    approval_count: int
    transition_count: int
    updated_at: datetime
    now: datetime

    @classmethod
    def from_rows(cls, row: Any, steps: Sequence[StepFacts], now: datetime) -> RunFacts:
        """`row`: a run with its facts; `steps`: its execution's (`step_facts`)."""
        return cls(
            run_id=row.run_id,
            execution_id=row.execution_id,
            state=row.state,
            attempt=row.attempt,
            plan_verified=row.plan_verdict is not None,
            steps=list(steps),
            bundle_count=row.bundle_count,
            latest_bundle_id=row.latest_bundle_id,
            approval_count=row.approval_count,
            transition_count=row.transition_count,
            updated_at=_lane_updated_at(row.updated_at, row.latest_bundle_at),
            now=now,
        )


def step_facts(columns: Sequence[Any]) -> StepFacts:
    """A step's facts from its columns in this order (a row unpacked: attribute reads of SQLAlchemy rows were a
    fifth of a lanes page): position, key, status, risk tier, requires approval, decided by, error code, updated at,
    required approvals, approvals given, awaiting since."""
    (
        position,
        key,
        status,
        risk_tier,
        requires_approval,
        decided_by,
        error_code,
        updated_at,
        required_approvals,
        approvals_given,
        awaiting_since,
    ) = columns
    return StepFacts(
        position,
        key,
        status,
        risk_tier,
        requires_approval,
        decided_by is not None,
        error_code,
        updated_at,
        required_approvals or 1,
        approvals_given or 0,
        awaiting_since,
    )


_NOT_REACHED = frozenset((StepStatus.PENDING, StepStatus.SKIPPED))
"""Steps a run has not reached: their approvals are not yet evidence it lacks."""


def _needs_approval(following: StepFacts | StepSummaryFacts | None) -> bool:
    """Whether the next step will stop for a decision (recommendedNextLane: review rather than complete)."""
    return (
        following is not None
        and bool(following.requires_approval)
        and following.status in (StepStatus.PENDING, StepStatus.AWAITING_APPROVAL)
    )


def _label(step: StepFacts) -> str:
    return f"step {step.position} {step.key}"


def _missing_approval(step: StepFacts) -> str:
    if step.required_approvals > 1:
        return f"{_label(step)} ({step.approvals_given} of {step.required_approvals} approvals)"
    return _label(step)


@dataclass(frozen=True, slots=True)
class _Derived:
    key: str
    status: str
    owner: str
    objective: str
    missing_evidence: list[str]
    required_evidence: int
    missing_approvals: list[str]
    missing_votes: int
    blocking_risks: list[str]
    pending_approvals: int
    next_lane: str | None
    readiness: str


def _derive(facts: RunFacts) -> _Derived:
    key, status, owner = STATE_LANES.get(facts.state, STATE_LANES[ExecutionStatus.PENDING])
    steps = facts.steps
    following = next((s for s in steps if s.status not in DONE_STEP_STATUSES), None)
    awaiting = [s for s in steps if s.status == StepStatus.AWAITING_APPROVAL]
    ended = is_terminal(facts.state)
    reached = [s for s in steps if s.status not in _NOT_REACHED]
    required = ["plan.verified"] + [f"approval:{s.key}" for s in reached if s.requires_approval]
    missing = [] if facts.plan_verified else ["plan.verified"]
    missing += [f"approval:{s.key}" for s in reached if s.requires_approval and not s.decided]
    if ended:
        required.append("bundle")
        if facts.bundle_count == 0:
            missing.append("bundle")
    undecided = [s for s in steps if s.requires_approval and not s.decided and s.status != StepStatus.SKIPPED]
    missing_approvals = [_missing_approval(s) for s in undecided]
    risks = [f"{_label(s)} is {s.risk_tier} risk and awaits a decision" for s in awaiting]
    risks += [f"{_label(s)} failed: {s.error_code}" for s in steps if s.status == StepStatus.FAILED]
    if facts.state == ExecutionStatus.PAUSED:
        risks.append("the run is paused")
    readiness = _readiness(ended=ended, bundles=facts.bundle_count)
    return _Derived(
        key=key,
        status=status,
        owner=owner,
        objective=_objective(facts.state, facts.bundle_count, following, len(steps)),
        missing_evidence=missing,
        required_evidence=len(required),
        missing_approvals=missing_approvals,
        missing_votes=sum(s.missing_votes for s in undecided),
        blocking_risks=risks,
        pending_approvals=len(awaiting),
        next_lane=_next_lane(key, next_needs_approval=_needs_approval(following)),
        readiness=readiness,
    )


_OBJECTIVES: Mapping[str, str] = {
    ExecutionStatus.RUNNING: "Run {where}",
    RunState.STOPPING: "Finish {where}, then stop",
    ExecutionStatus.AWAITING_APPROVAL: "Decide {where}{tier}",
    ExecutionStatus.PAUSED: "Resume or stop the paused run at {where}",
    ExecutionStatus.FAILED: "Retry from {where}",
    RunState.SUPERSEDED: "Superseded by a retry",
}
"""A live (or failed) run's objective; `where` is its next step, `tier` that step's risk."""


def _objective(state: str, bundle_count: int, following: StepFacts | StepSummaryFacts | None, total: int) -> str:
    template = _OBJECTIVES.get(state)
    if template is None:
        return "Done: evidence exported" if bundle_count else f"Export evidence of the {state} run"
    where = f"step {following.position} of {total} ({following.key})" if following else "the last step"
    tier = f", {following.risk_tier} risk" if following and following.risk_tier else ""
    return template.format(where=where, tier=tier)


def _shared(facts: RunFacts, d: _Derived) -> dict[str, Any]:
    """The fields the lane summary and the lane detail have in common."""
    return {
        "run_id": facts.run_id,
        "execution_id": facts.execution_id,
        "lane_key": d.key,
        "lane_status": d.status,
        "lane_phase": facts.state,
        "owner_role": d.owner,
        "objective": d.objective,
        "terminal_readiness": d.readiness,
        "recommended_next_lane": d.next_lane,
        "updated_at": facts.updated_at,
    }


def run_summary(run: Any, steps: Sequence[StepSummaryFacts]) -> ControlPlaneExecutionLaneSummary:
    """A run's lane in a list, in one pass over its steps and without the detail's texts (`_derive` builds them
    for the detail; tests/unit/test_lane_summary.py holds the two to the same answers). `run`: a row of the
    summary facts (run_id, execution_id, state, plan_verdict, bundle_count, updated_at, latest_bundle_at)."""
    state = run.state
    key, status, owner = STATE_LANES.get(state, STATE_LANES[ExecutionStatus.PENDING])
    following: StepSummaryFacts | None = None
    awaiting = votes = 0
    required = 1  # plan.verified
    missing = 0 if run.plan_verdict is not None else 1
    for step in steps:
        step_status = step.status
        if following is None and step_status not in DONE_STEP_STATUSES:
            following = step
        if step_status == StepStatus.AWAITING_APPROVAL:
            awaiting += 1
        if step.requires_approval:
            if step_status not in _NOT_REACHED:
                required += 1
                missing += not step.decided
            if not step.decided and step_status != StepStatus.SKIPPED:
                votes += step.missing_votes
    bundles = run.bundle_count
    ended = is_terminal(state)
    if ended:
        required += 1
        missing += bundles == 0
    return ControlPlaneExecutionLaneSummary(
        run_id=run.run_id,
        execution_id=run.execution_id,
        lane_key=key,
        lane_status=status,
        lane_phase=state,
        owner_role=owner,
        objective=_objective(state, bundles, following, len(steps)),
        terminal_readiness=_readiness(ended=ended, bundles=bundles),
        recommended_next_lane=_next_lane(key, next_needs_approval=_needs_approval(following)),
        updated_at=_lane_updated_at(run.updated_at, run.latest_bundle_at),
        evidence_completeness=round(1 - missing / required, 4),
        pending_approval_count=awaiting,
        missing_evidence_count=missing,
        missing_approval_count=votes,
    )


def run_detail(facts: RunFacts) -> ControlPlaneExecutionLaneDetail:
    d = _derive(facts)
    ended = is_terminal(facts.state)
    waiting = [s.awaiting_since or s.updated_at for s in facts.steps if s.status == StepStatus.AWAITING_APPROVAL]
    completed = sum(1 for s in facts.steps if s.status == StepStatus.COMPLETED)
    if not ended:
        team, cleanup = f"waiting_on_{d.owner}", None
    else:
        team = "done" if facts.state == ExecutionStatus.COMPLETED else "stopped"
        left = any(s.status in (StepStatus.PENDING, StepStatus.APPROVED, StepStatus.FAILED) for s in facts.steps)
        cleanup = "retryable" if facts.state == ExecutionStatus.FAILED and left else "clean"
    return ControlPlaneExecutionLaneDetail(
        **_shared(facts, d),
        team_status=team,
        completion_phase=f"{completed}/{len(facts.steps)}",
        missing_evidence=d.missing_evidence,
        missing_approvals=d.missing_approvals,
        blocking_risks=d.blocking_risks,
        evidence_bundle_count=facts.bundle_count,
        approval_count=facts.approval_count,
        transition_count=facts.transition_count,
        queue_skew=int((facts.now - min(waiting)).total_seconds()) if waiting else 0,
        cleanup_status=cleanup,
        retry_count=facts.attempt - 1,
        snapshot_ref=facts.latest_bundle_id,
    )
