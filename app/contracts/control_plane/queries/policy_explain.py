"""controlPlane.policy.explain — why the policy says what it says."""

from __future__ import annotations

from app.auth import AuthLevel
from app.contracts.control_plane.constants import AUDIT, meta
from app.contracts.model import define_query
from app.contracts.types import ID, ContractModel


class ControlPlanePolicyExplainInput(ContractModel):
    execution_id: ID
    step_id: ID | None = None


class ControlPlanePolicyExplainOutput(ContractModel):
    verdict: str
    risk_tier: str
    reasons: list[str] | None = None
    policy_version: str


SPEC = define_query(
    meta(
        "controlPlane.policy.explain",
        title="Explain Policy",
        description="The verdict, risk tier, reasons and policy version of an execution's plan, or of one step.",
        goal="Show an operator why a step needs a decision before they take it.",
        context="Read from what compilePlan and verifyPlan stored; verdict is unverified before verifyPlan ran.",
        tags=("policy",),
    ),
    capability=AUDIT,
    input=ControlPlanePolicyExplainInput,
    output=ControlPlanePolicyExplainOutput,
    auth=AuthLevel.ADMIN,
    graphql_name="policyExplanation",
)
