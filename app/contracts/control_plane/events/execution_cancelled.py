"""controlPlane.execution.cancelled"""

from __future__ import annotations

from app.contracts.control_plane.constants import CORE, meta
from app.contracts.model import define_event
from app.contracts.types import ID, ContractModel, Timestamp


class ControlPlaneExecutionCancelledPayload(ContractModel):
    execution_id: ID
    run_id: ID | None = None
    cancelled_at: Timestamp
    cancelled_by: ID
    reason: str | None = None
    mode: str


SPEC = define_event(
    meta(
        "controlPlane.execution.cancelled",
        title="Execution Cancelled",
        description="An execution was stopped by an operator before it completed (project addition).",
        goal="Record who stopped an execution and how (mode cancel, or shutdown once the running step ended).",
        context="Emitted by cancelExecution, and by shutdownExecution when the run stops.",
    ),
    capability=CORE,
    payload=ControlPlaneExecutionCancelledPayload,
)
