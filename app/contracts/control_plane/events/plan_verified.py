"""controlPlane.plan.verified"""

from __future__ import annotations

from app.contracts.control_plane.constants import AUDIT, meta
from app.contracts.model import define_event
from app.contracts.types import ID, ContractModel, Timestamp


class ControlPlanePlanVerifiedPayload(ContractModel):
    execution_id: ID
    plan_id: ID
    verdict: str
    requires_approval: bool
    policy_version: str
    verified_at: Timestamp


SPEC = define_event(
    meta(
        "controlPlane.plan.verified",
        title="Plan Verified",
        description="A plan passed verification, with or without required approvals (project addition).",
        goal="Record the verdict and the policy version a plan was started under.",
        context="Emitted by verifyPlan when the verdict is approved or needs_approval.",
    ),
    capability=AUDIT,
    payload=ControlPlanePlanVerifiedPayload,
)
