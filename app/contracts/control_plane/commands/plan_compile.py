"""controlPlane.plan.compile — an intent becomes ordered, risk-tiered steps."""

from __future__ import annotations

from pydantic import Field

from app.auth import AuthLevel
from app.contracts.control_plane.constants import CORE, meta
from app.contracts.model import define_command
from app.contracts.types import ID, ContractModel, JSONObject, Timestamp


class ControlPlanePlanCompileInput(ContractModel):
    execution_id: ID
    intent_id: ID
    planner_model: str | None = Field(default=None, min_length=1, max_length=200)
    draft: JSONObject | None = Field(
        default=None,
        description=(
            '{"steps": [{"key": "deploy.service", "input": {...}, "riskTier": "high"}]}; '
            "without it, a single step derived from the intent text."
        ),
    )


class ControlPlanePlanCompileOutput(ContractModel):
    plan_id: ID
    compiled_at: Timestamp
    step_count: int
    deterministic_hash: str


SPEC = define_command(
    meta(
        "controlPlane.plan.compile",
        title="Compile Plan",
        description="Compile an intent into a plan: ordered steps, each with a risk tier from the policy.",
        goal="Make what an execution will do explicit and reviewable before it runs.",
        context=(
            "The same draft always gives the same deterministicHash (SHA-256 of the plan's canonical JSON). "
            "Allowed while the execution is pending; compiling again replaces the plan."
        ),
        tags=("plan",),
    ),
    capability=CORE,
    input=ControlPlanePlanCompileInput,
    output=ControlPlanePlanCompileOutput,
    auth=AuthLevel.ADMIN,
    graphql_name="compilePlan",
)
