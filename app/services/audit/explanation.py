"""policyExplanation: why the policy gave an execution (or one step) its tier and verdict."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth import Principal
from app.contracts.control_plane.queries.policy_explain import (
    ControlPlanePolicyExplainInput,
    ControlPlanePolicyExplainOutput,
)
from app.contracts.control_plane.statuses import UNVERIFIED, RiskTier, StepStatus, Verdict
from app.db.tables import execution_table as execution_t
from app.db.tables import plan_table as plan_t
from app.db.tables import step_table as step_t
from app.errors import NotFound
from app.services.kernel.grants import in_grants
from app.services.lifecycle.interface import Policy


@dataclass(frozen=True, slots=True)
class Explainer:
    policy: Policy

    async def explain(
        self, session: AsyncConnection, principal: Principal | None, data: ControlPlanePolicyExplainInput
    ) -> ControlPlanePolicyExplainOutput:
        row = (
            await session.execute(
                select(
                    execution_t.c.id,
                    execution_t.c.plan_id,
                    execution_t.c.risk_tier,
                    plan_t.c.verdict,
                    plan_t.c.blocked_reasons,
                    plan_t.c.policy_version,
                    plan_t.c.document,
                )
                .select_from(execution_t.outerjoin(plan_t, plan_t.c.id == execution_t.c.plan_id))
                .where(execution_t.c.id == data.execution_id, in_grants(principal, execution_t.c.workspace_id))
            )
        ).one_or_none()
        if row is None:
            raise NotFound(f"Execution {data.execution_id!r} does not exist.")
        version = row.policy_version or (row.document or {}).get("policyVersion") or self.policy.version
        if row.plan_id is None:
            return ControlPlanePolicyExplainOutput(
                verdict=UNVERIFIED,
                risk_tier=RiskTier.LOW,
                reasons=["no plan yet: compilePlan assigns each step a risk tier"],
                policy_version=version,
            )
        verdict = row.verdict or UNVERIFIED
        if data.step_id is None:
            reasons = [
                f"step {s['position']} {s['key']!r}: {s['riskTier']} ({s['riskReason']})" for s in row.document["steps"]
            ]
            reasons += list(row.blocked_reasons or [])
            for tier in sorted({s["riskTier"] for s in row.document["steps"]}):
                note = self.policy.approver_note(tier)
                if note:
                    reasons.append(note)
            if not row.verdict:
                reasons.append("the plan has not been verified: verifyPlan gives the verdict")
            return ControlPlanePolicyExplainOutput(
                verdict=verdict, risk_tier=row.risk_tier or RiskTier.LOW, reasons=reasons, policy_version=version
            )
        step = (
            await session.execute(
                select(step_t).where(step_t.c.id == data.step_id, step_t.c.execution_id == data.execution_id)
            )
        ).one_or_none()
        if step is None:
            raise NotFound(f"Step {data.step_id!r} is not a step of execution {data.execution_id!r}.")
        tier = step.risk_tier or RiskTier.LOW
        reasons = [f"step {step.position} {step.key!r}: {tier} ({step.risk_reason or 'no reason recorded'})"]
        reasons += [reason for reason in row.blocked_reasons or [] if f"step {step.position} " in reason]
        note = self.policy.approver_note(tier)
        if note:
            reasons.append(note)
        if step.decided_by:
            reasons.append(
                f"{step.status} by {step.decided_by}" + (f": {step.decision_note}" if step.decision_note else "")
            )
        return ControlPlanePolicyExplainOutput(
            verdict=_step_verdict(verdict, step.status, requires_approval=step.requires_approval),
            risk_tier=tier,
            reasons=reasons,
            policy_version=version,
        )


def _step_verdict(plan_verdict: str, status: str, *, requires_approval: bool) -> str:
    if plan_verdict in (Verdict.REJECTED, UNVERIFIED):
        return plan_verdict
    if status in (StepStatus.APPROVED, StepStatus.REJECTED):
        return status
    if requires_approval and status in (StepStatus.PENDING, StepStatus.AWAITING_APPROVAL):
        return Verdict.NEEDS_APPROVAL
    return Verdict.APPROVED
