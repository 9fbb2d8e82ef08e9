"""controlPlane.plan.compiled"""

from __future__ import annotations

from app.contracts.control_plane.constants import CORE, meta
from app.contracts.model import define_event
from app.contracts.types import ID, ContractModel, Timestamp


class ControlPlanePlanCompiledPayload(ContractModel):
    execution_id: ID
    plan_id: ID
    compiled_at: Timestamp
    step_count: int


SPEC = define_event(
    meta(
        "controlPlane.plan.compiled",
        title="Plan Compiled",
        description="A plan was compiled for an execution.",
        goal="Record which plan an execution follows.",
        context="Emitted by compilePlan.",
    ),
    capability=CORE,
    payload=ControlPlanePlanCompiledPayload,
)
