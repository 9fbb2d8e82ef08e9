"""controlPlane.execution.step.started"""

from __future__ import annotations

from app.contracts.control_plane.constants import CORE, meta
from app.contracts.model import define_event
from app.contracts.types import ID, ContractModel, Timestamp


class ControlPlaneExecutionStepStartedPayload(ContractModel):
    execution_id: ID
    run_id: ID
    step_id: ID
    started_at: Timestamp


SPEC = define_event(
    meta(
        "controlPlane.execution.step.started",
        title="Step Started",
        description="A runner started an execution step.",
        goal="Record when each step began.",
        context="Emitted when a runner reports a step as started.",
    ),
    capability=CORE,
    payload=ControlPlaneExecutionStepStartedPayload,
)
