"""controlPlane.execution.shutdownRequested"""

from __future__ import annotations

from app.contracts.control_plane.constants import CORE, meta
from app.contracts.model import define_event
from app.contracts.types import ID, ContractModel, Timestamp


class ControlPlaneExecutionShutdownRequestedPayload(ContractModel):
    execution_id: ID
    run_id: ID
    requested_at: Timestamp
    requested_by: ID
    reason: str | None = None
    finishing_step_id: ID | None = None


SPEC = define_event(
    meta(
        "controlPlane.execution.shutdownRequested",
        title="Execution Shutdown Requested",
        description="An operator asked a run to stop once its running step ends (project addition).",
        goal="Record a graceful stop that is still in progress.",
        context="Emitted by shutdownExecution while a step is running.",
    ),
    capability=CORE,
    payload=ControlPlaneExecutionShutdownRequestedPayload,
)
