"""controlPlane.execution.step.completed"""

from __future__ import annotations

from app.contracts.control_plane.constants import CORE, meta
from app.contracts.model import define_event
from app.contracts.types import ID, ContractModel, Timestamp


class ControlPlaneExecutionStepCompletedPayload(ContractModel):
    execution_id: ID
    run_id: ID
    step_id: ID
    completed_at: Timestamp


SPEC = define_event(
    meta(
        "controlPlane.execution.step.completed",
        title="Step Completed",
        description="A runner completed an execution step.",
        goal="Record when each step finished.",
        context="Emitted when a runner reports a step as completed.",
    ),
    capability=CORE,
    payload=ControlPlaneExecutionStepCompletedPayload,
)
