"""controlPlane.plan.verify — the policy's verdict on a plan."""

from __future__ import annotations

from pydantic import Field

from app.auth import AuthLevel
from app.contracts.control_plane.constants import AUDIT, meta
from app.contracts.model import define_command
from app.contracts.types import ID, ContractModel, Timestamp


class ControlPlanePlanVerifyInput(ContractModel):
    execution_id: ID
    plan_id: ID
    policy_version: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="The policy version to verify against; the current one when absent.",
    )


class ControlPlanePlanVerifyOutput(ContractModel):
    verdict: str
    requires_approval: bool
    blocked_reasons: list[str] | None = None
    verified_at: Timestamp


SPEC = define_command(
    meta(
        "controlPlane.plan.verify",
        title="Verify Plan",
        description="Check a plan against the policy: approved, needs_approval, or rejected with every violated rule.",
        goal="Never start a plan the policy forbids, and say exactly why.",
        context=(
            "A rejected plan emits controlPlane.plan.rejected and cannot be started; "
            "the verdict keeps its policy version."
        ),
        tags=("plan", "policy"),
    ),
    capability=AUDIT,
    input=ControlPlanePlanVerifyInput,
    output=ControlPlanePlanVerifyOutput,
    auth=AuthLevel.ADMIN,
    graphql_name="verifyPlan",
)
