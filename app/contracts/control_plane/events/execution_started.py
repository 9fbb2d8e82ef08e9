"""controlPlane.execution.started"""

from __future__ import annotations

from app.contracts.control_plane.constants import CORE, meta
from app.contracts.model import define_event
from app.contracts.types import ID, ContractModel, Timestamp


class ControlPlaneExecutionStartedPayload(ContractModel):
    execution_id: ID
    run_id: ID
    plan_id: ID
    attempt: int
    mode: str
    started_at: Timestamp


SPEC = define_event(
    meta(
        "controlPlane.execution.started",
        title="Execution Started",
        description="A run of a verified plan started (project addition).",
        goal="Record when and under which plan each run began.",
        context="Emitted by startExecution and by retryExecution (a new run).",
    ),
    capability=CORE,
    payload=ControlPlaneExecutionStartedPayload,
)
