"""Audit reads: the trace of an execution and the policy's explanation of it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal
from app.contracts.control_plane.queries.policy_explain import (
    ControlPlanePolicyExplainInput,
    ControlPlanePolicyExplainOutput,
)
from app.contracts.control_plane.queries.trace_get import ControlPlaneTraceGetInput, ControlPlaneTraceGetOutput
from app.contracts.control_plane.shared import ControlPlaneTraceEntry
from app.db.tables import event_table as event_t
from app.db.tables import execution_table as execution_t
from app.db.tables import plan_table as plan_t
from app.db.tables import step_table as step_t
from app.errors import NotFound
from app.services.policy import Policy

# event key -> the status the execution (or, for step events, the step) had after it
TRACE_STATUS: Mapping[str, str] = {
    "controlPlane.intent.received": "pending",
    "controlPlane.plan.compiled": "compiled",
    "controlPlane.plan.verified": "verified",
    "controlPlane.plan.rejected": "rejected",
    "controlPlane.execution.started": "running",
    "controlPlane.execution.step.approvalRequested": "awaiting_approval",
    "controlPlane.execution.step.approved": "approved",
    "controlPlane.execution.step.blocked": "rejected",
    "controlPlane.execution.step.started": "running",
    "controlPlane.execution.step.completed": "completed",
    "controlPlane.execution.step.failed": "failed",
    "controlPlane.execution.paused": "paused",
    "controlPlane.execution.shutdownRequested": "stopping",
    "controlPlane.execution.retried": "running",
    "controlPlane.execution.completed": "completed",
    "controlPlane.execution.failed": "failed",
    "controlPlane.execution.cancelled": "cancelled",
    "controlPlane.execution.aborted": "aborted",
    "controlPlane.execution.evidence.exported": "exported",
}


def stage_of(event_key: str) -> str:
    """`controlPlane.execution.step.started` -> `step.started`; `controlPlane.plan.compiled` -> `plan.compiled`."""
    parts = event_key.split(".")[1:]
    return ".".join(parts[1:] if parts[0] == "execution" and len(parts) > 2 else parts)


async def get_trace(
    session: AsyncSession, principal: Principal | None, data: ControlPlaneTraceGetInput
) -> ControlPlaneTraceGetOutput:
    exists = (
        await session.execute(select(execution_t.c.id).where(execution_t.c.id == data.execution_id))
    ).one_or_none()
    if exists is None:
        raise NotFound(f"Execution {data.execution_id!r} does not exist.")
    rows = await session.execute(
        select(event_t).where(event_t.c.execution_id == data.execution_id).order_by(event_t.c.sequence)
    )
    entries = []
    for row in rows:
        metadata: dict[str, object] = {
            "sequence": row.sequence,
            "eventKey": row.event_key,
            "eventVersion": row.event_version,
        }
        if row.run_id:
            metadata["runId"] = row.run_id
        if row.step_id:
            metadata["stepId"] = row.step_id
        if data.include_payloads:
            metadata["payload"] = row.payload
        status = TRACE_STATUS.get(row.event_key, "recorded")
        if row.event_key == "controlPlane.execution.resumed":
            status = str(row.payload.get("status", "running"))
        elif row.event_key == "controlPlane.execution.failed" and row.payload.get("errorCode") == "STEP_REJECTED":
            status = "rejected"  # a rejection ends the execution as rejected (see decisions.py), not failed
        entries.append(
            ControlPlaneTraceEntry(
                timestamp=row.occurred_at,
                stage=stage_of(row.event_key),
                status=status,
                actor_id=row.actor,
                metadata=metadata,
            )
        )
    return ControlPlaneTraceGetOutput(execution_id=data.execution_id, entries=entries)


@dataclass(frozen=True, slots=True)
class Explainer:
    policy: Policy

    async def explain(
        self, session: AsyncSession, principal: Principal | None, data: ControlPlanePolicyExplainInput
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
                .where(execution_t.c.id == data.execution_id)
            )
        ).one_or_none()
        if row is None:
            raise NotFound(f"Execution {data.execution_id!r} does not exist.")
        version = row.policy_version or (row.document or {}).get("policyVersion") or self.policy.version
        if row.plan_id is None:
            return ControlPlanePolicyExplainOutput(
                verdict="unverified",
                risk_tier="low",
                reasons=["no plan yet: compilePlan assigns each step a risk tier"],
                policy_version=version,
            )
        verdict = row.verdict or "unverified"
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
                verdict=verdict, risk_tier=row.risk_tier or "low", reasons=reasons, policy_version=version
            )
        step = (
            await session.execute(
                select(step_t).where(step_t.c.id == data.step_id, step_t.c.execution_id == data.execution_id)
            )
        ).one_or_none()
        if step is None:
            raise NotFound(f"Step {data.step_id!r} is not a step of execution {data.execution_id!r}.")
        tier = step.risk_tier or "low"
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
            verdict=_step_verdict(verdict, step.status, step.requires_approval),
            risk_tier=tier,
            reasons=reasons,
            policy_version=version,
        )


def _step_verdict(plan_verdict: str, status: str, requires_approval: bool) -> str:
    if plan_verdict in ("rejected", "unverified"):
        return plan_verdict
    if status in ("approved", "rejected"):
        return status
    if requires_approval and status in ("pending", "awaiting_approval"):
        return "needs_approval"
    return "approved"
