"""controlPlane.execution.completed"""

from __future__ import annotations

from app.contracts.control_plane.constants import CORE, meta
from app.contracts.model import define_event
from app.contracts.types import ID, ContractModel, Timestamp


class ControlPlaneExecutionCompletedPayload(ContractModel):
    execution_id: ID
    run_id: ID
    completed_at: Timestamp
    outcome: str | None = None


SPEC = define_event(
    meta(
        "controlPlane.execution.completed",
        title="Execution Completed",
        description="An execution finished all its steps.",
        goal="Record the outcome of an execution.",
        context="Emitted when the last step of a run completes.",
    ),
    capability=CORE,
    payload=ControlPlaneExecutionCompletedPayload,
)
