"""verifyPlan: the policy's verdict on a compiled plan, recorded with the policy version that gave it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth import Principal
from app.contracts.control_plane.commands.plan_verify import ControlPlanePlanVerifyInput, ControlPlanePlanVerifyOutput
from app.contracts.control_plane.events import plan_rejected, plan_verified
from app.contracts.control_plane.statuses import Verdict
from app.db.tables import execution_table as execution_t
from app.db.tables import plan_table as plan_t
from app.errors import BadUserInput
from app.services.kernel.clock import utcnow
from app.services.kernel.event_log import Move, append_events
from app.services.lifecycle.interface import (
    Action,
    PlanStepView,
    Policy,
    allowed,
    current_plan,
    execution_state,
    lock_execution,
)


@dataclass(frozen=True, slots=True)
class PlanVerifier:
    policy: Policy

    async def verify_plan(
        self, session: AsyncConnection, principal: Principal | None, data: ControlPlanePlanVerifyInput
    ) -> ControlPlanePlanVerifyOutput:
        assert principal is not None
        if data.policy_version is not None and data.policy_version != self.policy.version:
            raise BadUserInput(
                f"Unknown policy version {data.policy_version!r}; this server enforces {self.policy.version!r}.",
                {"policyVersion": f"must be {self.policy.version!r} or absent"},
            )
        execution = await lock_execution(session, data.execution_id, principal)
        plan = await current_plan(session, execution, data.plan_id)
        allowed(Action.VERIFY, execution_state(execution))
        views = [
            PlanStepView(position=step["position"], key=step["key"], tier=step["riskTier"], known=step["known"])
            for step in plan.document["steps"]
        ]
        verdict = self.policy.verify(views)
        now = utcnow()
        await session.execute(
            update(plan_t)
            .where(plan_t.c.id == plan.id)
            .values(
                verdict=verdict.verdict,
                blocked_reasons=list(verdict.blocked_reasons) or None,
                policy_version=self.policy.version,
                verified_by=principal.id,
                verified_at=now,
            )
        )
        await session.execute(update(execution_t).where(execution_t.c.id == execution.id).values(updated_at=now))
        move = Move(execution.id, None, principal.id, now)
        if verdict.verdict == Verdict.REJECTED:
            rejected = plan_rejected.ControlPlanePlanRejectedPayload(
                execution_id=execution.id, plan_id=plan.id, rejected_at=now, reasons=list(verdict.blocked_reasons)
            )
            event = move.event(plan_rejected.SPEC, rejected)
        else:
            verified = plan_verified.ControlPlanePlanVerifiedPayload(
                execution_id=execution.id,
                plan_id=plan.id,
                verdict=verdict.verdict,
                requires_approval=verdict.requires_approval,
                policy_version=self.policy.version,
                verified_at=now,
            )
            event = move.event(plan_verified.SPEC, verified)
        await append_events(session, [event])
        return ControlPlanePlanVerifyOutput(
            verdict=verdict.verdict,
            requires_approval=verdict.requires_approval,
            blocked_reasons=list(verdict.blocked_reasons),
            verified_at=now,
        )
