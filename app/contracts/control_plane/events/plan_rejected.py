"""controlPlane.plan.rejected"""

from __future__ import annotations

from app.contracts.control_plane.constants import CORE, meta
from app.contracts.model import define_event
from app.contracts.types import ID, ContractModel, Timestamp


class ControlPlanePlanRejectedPayload(ContractModel):
    execution_id: ID
    plan_id: ID | None = None
    rejected_at: Timestamp
    reasons: list[str] | None = None


SPEC = define_event(
    meta(
        "controlPlane.plan.rejected",
        title="Plan Rejected",
        description="A plan failed verification and cannot be started.",
        goal="Record why a plan was refused.",
        context="Emitted by verifyPlan.",
    ),
    capability=CORE,
    payload=ControlPlanePlanRejectedPayload,
)
