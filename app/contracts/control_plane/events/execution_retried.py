"""controlPlane.execution.retried"""

from __future__ import annotations

from app.contracts.control_plane.constants import CORE, meta
from app.contracts.model import define_event
from app.contracts.types import ID, ContractModel, Timestamp


class ControlPlaneExecutionRetriedPayload(ContractModel):
    execution_id: ID
    run_id: ID
    previous_run_id: ID
    from_step_id: ID
    attempt: int
    retried_at: Timestamp
    retried_by: ID


SPEC = define_event(
    meta(
        "controlPlane.execution.retried",
        title="Execution Retried",
        description="A failed run was retried as a new run from its failed step (project addition).",
        goal="Record every attempt of an execution and where each started.",
        context="Emitted by retryExecution.",
    ),
    capability=CORE,
    payload=ControlPlaneExecutionRetriedPayload,
)
