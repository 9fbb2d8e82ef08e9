"""Intents and plans: submitIntent and compilePlan (verifyPlan is audit's: app/services/audit/plan_verification.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel
from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth import Principal
from app.contracts.control_plane.commands.intent_submit import (
    ControlPlaneIntentSubmitInput,
    ControlPlaneIntentSubmitOutput,
)
from app.contracts.control_plane.commands.plan_compile import (
    ControlPlanePlanCompileInput,
    ControlPlanePlanCompileOutput,
)
from app.contracts.control_plane.events import intent_received, plan_compiled
from app.contracts.control_plane.statuses import ExecutionStatus, RiskTier, RunState, StepStatus
from app.db.tables import execution_table as execution_t
from app.db.tables import intent_table as intent_t
from app.db.tables import plan_table as plan_t
from app.db.tables import step_table as step_t
from app.errors import BadUserInput, Conflict, Forbidden, NotFound
from app.services.kernel.canonical import sha256_digest
from app.services.kernel.clock import new_id, utcnow
from app.services.kernel.event_log import Move, append_events
from app.services.lifecycle.locking import execution_state, lock_execution
from app.services.lifecycle.policy import MAX_PLAN_STEPS, STEP_KEY_PATTERN, Policy, highest_tier
from app.services.lifecycle.state_machine import Action, allowed

PLAN_FORMAT = "control-plane.plan/1"


class _DraftModel(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=False, frozen=True)


class DraftStep(_DraftModel):
    key: str = Field(min_length=1, max_length=200)
    input: dict[str, Any] | None = None
    risk_tier: RiskTier | None = None

    @field_validator("key")
    @classmethod
    def _key_shape(cls, value: str) -> str:
        if not STEP_KEY_PATTERN.match(value):
            raise ValueError("a step key is lowercase words and digits joined by . _ : or - (e.g. deploy.service)")
        return value


class Draft(_DraftModel):
    steps: list[DraftStep] = Field(max_length=MAX_PLAN_STEPS)


def read_draft(raw: dict[str, Any]) -> Draft:
    try:
        return Draft.model_validate(raw)
    except ValidationError as error:
        fields: dict[str, str] = {}
        for item in error.errors(include_url=False, include_input=False):
            path = ".".join(str(part) for part in ("draft", *item["loc"]))
            fields.setdefault(path, item["msg"].removeprefix("Value error, "))
        summary = "; ".join(f"{name}: {message}" for name, message in fields.items())
        raise BadUserInput(f"Invalid draft: {summary}.", fields) from None


@dataclass(frozen=True, slots=True)
class Plans:
    policy: Policy

    async def submit_intent(
        self, session: AsyncConnection, principal: Principal | None, data: ControlPlaneIntentSubmitInput
    ) -> ControlPlaneIntentSubmitOutput:
        assert principal is not None  # the contract needs a user
        if not principal.may_reach(data.workspace_id):
            raise Forbidden(f"You hold no grant for workspace {data.workspace_id!r}; ask for it in your token.")
        now = utcnow()
        execution_id, intent_id = new_id("exe"), new_id("int")
        await session.execute(
            insert(execution_t).values(
                id=execution_id,
                workspace_id=data.workspace_id,
                intent_id=intent_id,
                status=ExecutionStatus.PENDING,
                requires_approval=False,
                created_at=now,
                updated_at=now,
            )
        )
        await session.execute(
            insert(intent_t).values(
                id=intent_id,
                execution_id=execution_id,
                workspace_id=data.workspace_id,
                actor_id=data.actor_id,
                submitted_by=principal.id,
                channel_key=data.channel_key,
                text=data.text,
                intent_metadata=data.metadata,
                trace_id=data.trace_id,
                received_at=now,
            )
        )
        payload = intent_received.ControlPlaneIntentReceivedPayload(
            execution_id=execution_id,
            intent_id=intent_id,
            received_at=now,
            actor_id=data.actor_id,
            channel_key=data.channel_key,
        )
        await append_events(session, [Move(execution_id, None, principal.id, now).event(intent_received.SPEC, payload)])
        return ControlPlaneIntentSubmitOutput(
            execution_id=execution_id, intent_id=intent_id, status=ExecutionStatus.PENDING, received_at=now
        )

    def plan_document(self, draft: Draft) -> dict[str, Any]:
        """What the plan hash covers: the steps as compiled and the policy that tiered them (no ids, no
        times), so the same draft always gives the same hash."""
        steps = []
        for position, step in enumerate(draft.steps, start=1):
            risk = self.policy.assess(step.key, step.risk_tier)
            steps.append(
                {
                    "position": position,
                    "key": step.key,
                    "input": step.input or {},
                    "riskTier": risk.tier,
                    "requiresApproval": risk.requires_approval,
                    "riskReason": risk.reason,
                    "known": risk.known,
                }
            )
        return {"format": PLAN_FORMAT, "policyVersion": self.policy.version, "steps": steps}

    async def compile_plan(
        self, session: AsyncConnection, principal: Principal | None, data: ControlPlanePlanCompileInput
    ) -> ControlPlanePlanCompileOutput:
        assert principal is not None
        execution = await lock_execution(session, data.execution_id, principal)
        if execution.intent_id != data.intent_id:
            raise NotFound(f"Intent {data.intent_id!r} is not the intent of execution {data.execution_id!r}.")
        allowed(Action.COMPILE, execution_state(execution))
        if data.draft is not None:
            draft = read_draft(data.draft)
        else:
            text = (await session.execute(select(intent_t.c.text).where(intent_t.c.id == data.intent_id))).scalar_one()
            draft = Draft(steps=[DraftStep(key=self.policy.default_step_key(text), input={"text": text})])
        document = self.plan_document(draft)
        digest = sha256_digest(document)
        if execution.plan_id is not None:
            current = (
                await session.execute(
                    select(plan_t.c.id, plan_t.c.deterministic_hash, plan_t.c.compiled_at, plan_t.c.step_count).where(
                        plan_t.c.id == execution.plan_id
                    )
                )
            ).one()
            if current.deterministic_hash == digest:
                # The same plan again: nothing changes, no second event (a retried request is safe).
                return ControlPlanePlanCompileOutput(
                    plan_id=current.id,
                    compiled_at=current.compiled_at,
                    step_count=current.step_count,
                    deterministic_hash=digest,
                )
            await session.execute(delete(step_t).where(step_t.c.execution_id == execution.id))
        now = utcnow()
        plan_id = new_id("pln")
        steps = document["steps"]
        tier = highest_tier([step["riskTier"] for step in steps]) or "low"
        requires = any(step["requiresApproval"] for step in steps)
        await session.execute(
            insert(plan_t).values(
                id=plan_id,
                execution_id=execution.id,
                intent_id=data.intent_id,
                planner_model=data.planner_model,
                document=document,
                deterministic_hash=digest,
                step_count=len(steps),
                risk_tier=tier,
                requires_approval=requires,
                compiled_by=principal.id,
                compiled_at=now,
            )
        )
        if steps:
            await session.execute(
                insert(step_t),
                [
                    {
                        "id": new_id("stp"),
                        "execution_id": execution.id,
                        "workspace_id": execution.workspace_id,
                        "position": step["position"],
                        "key": step["key"],
                        "input": step["input"],
                        "risk_tier": step["riskTier"],
                        "risk_reason": step["riskReason"],
                        "requires_approval": step["requiresApproval"],
                        "status": StepStatus.PENDING,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for step in steps
                ],
            )
        await session.execute(
            update(execution_t)
            .where(execution_t.c.id == execution.id)
            .values(plan_id=plan_id, risk_tier=tier, requires_approval=requires, updated_at=now)
        )
        payload = plan_compiled.ControlPlanePlanCompiledPayload(
            execution_id=execution.id, plan_id=plan_id, compiled_at=now, step_count=len(steps)
        )
        await append_events(session, [Move(execution.id, None, principal.id, now).event(plan_compiled.SPEC, payload)])
        return ControlPlanePlanCompileOutput(
            plan_id=plan_id, compiled_at=now, step_count=len(steps), deterministic_hash=digest
        )


async def current_plan(session: AsyncConnection, execution: Any, plan_id: str) -> Any:
    """The plan `plan_id` when it is the execution's current plan; NOT_FOUND or CONFLICT otherwise."""
    plan = (
        await session.execute(select(plan_t).where(plan_t.c.id == plan_id, plan_t.c.execution_id == execution.id))
    ).one_or_none()
    if plan is None:
        raise NotFound(f"Plan {plan_id!r} is not a plan of execution {execution.id!r}.")
    if plan.id != execution.plan_id:
        raise Conflict(f"Plan {plan_id!r} was replaced by plan {execution.plan_id!r}.", RunState.SUPERSEDED)
    return plan
