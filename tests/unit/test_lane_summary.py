"""A lane summary (one pass over a run's steps, no texts) says what the detail's derivation says of the same run."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import pytest

from app.contracts.control_plane.shared import ControlPlaneExecutionLaneSummary
from app.contracts.control_plane.statuses import StepStatus
from app.services.lifecycle.lanes import (
    STATE_LANES,
    RunFacts,
    StepFacts,
    StepSummaryFacts,
    _derive,
    _shared,
    run_summary,
)

_NOW = datetime(2026, 12, 3, 12, tzinfo=UTC)


class _SummaryRow(NamedTuple):
    """The summary page's columns (app/services/audit/lane_queries.py, `_runs_with_facts(detail=False)`)."""

    run_id: str
    execution_id: str
    state: str
    updated_at: datetime
    plan_verdict: str | None
    bundle_count: int
    latest_bundle_at: datetime | None


def _expected(facts: RunFacts) -> ControlPlaneExecutionLaneSummary:
    """The summary as the detail's derivation gives it (what run_summary computed before its one-pass form)."""
    derived = _derive(facts)
    return ControlPlaneExecutionLaneSummary(
        **_shared(facts, derived),
        evidence_completeness=round(1 - len(derived.missing_evidence) / derived.required_evidence, 4),
        pending_approval_count=derived.pending_approvals,
        missing_evidence_count=len(derived.missing_evidence),
        missing_approval_count=derived.missing_votes,
    )


def _random_steps(rng: random.Random) -> list[StepFacts]:
    return [
        StepFacts(
            position=position,
            key=f"step.{position}",
            status=rng.choice(list(StepStatus)),
            risk_tier=rng.choice([None, "low", "high", "critical"]),
            requires_approval=rng.random() < 0.5,
            decided=rng.random() < 0.4,
            error_code=rng.choice([None, "E_TIMEOUT"]),
            updated_at=_NOW - timedelta(minutes=position),
            required_approvals=rng.choice([1, 1, 2, 3]),
            approvals_given=rng.choice([0, 0, 1, 2]),
        )
        for position in range(1, rng.randint(0, 6) + 1)
    ]


@pytest.mark.parametrize("state", sorted(STATE_LANES))
def test_the_summary_agrees_with_the_detail_derivation(state: str) -> None:
    rng = random.Random(state)
    seen_counts = set()
    for case in range(400):
        steps = _random_steps(rng)
        verdict = rng.choice([None, "verified", "rejected"])
        bundles = rng.choice([0, 0, 1, 3])
        bundle_at = _NOW + timedelta(seconds=rng.randint(-60, 60)) if bundles else None
        facts = RunFacts(
            run_id=f"run-{case}",
            execution_id=f"exec-{case}",
            state=state,
            attempt=1,
            plan_verified=verdict is not None,
            steps=steps,
            bundle_count=bundles,
            latest_bundle_id=None,
            approval_count=0,
            transition_count=0,
            updated_at=max(_NOW, bundle_at or _NOW),
            now=_NOW,
        )
        row = _SummaryRow(facts.run_id, facts.execution_id, state, _NOW, verdict, bundles, bundle_at)
        summary_steps = [
            StepSummaryFacts(
                s.position,
                s.key,
                s.status,
                s.risk_tier,
                s.requires_approval,
                s.decided,
                s.required_approvals,
                s.approvals_given,
            )
            for s in steps
        ]
        summary = run_summary(row, summary_steps)
        assert summary == _expected(facts), (case, steps)
        seen_counts.add((summary.missing_evidence_count, summary.missing_approval_count, summary.recommended_next_lane))
    assert len(seen_counts) > 10  # the cases reach many different answers, not one repeated
