"""controlPlane.execution.resume"""

from __future__ import annotations

from app.auth import AuthLevel
from app.contracts.control_plane.constants import CORE, meta
from app.contracts.model import define_command
from app.contracts.types import ID, ContractModel, Timestamp


class ControlPlaneExecutionResumeInput(ContractModel):
    run_id: ID
    resumed_by: ID


class ControlPlaneExecutionResumeOutput(ContractModel):
    run_id: ID
    status: str
    resumed_at: Timestamp


SPEC = define_command(
    meta(
        "controlPlane.execution.resume",
        title="Resume Execution",
        description="Let a paused run continue: running again, or awaiting_approval when a step awaits a decision.",
        goal="Undo a pause.",
        context="Only a paused run can be resumed.",
        tags=("lifecycle",),
    ),
    capability=CORE,
    input=ControlPlaneExecutionResumeInput,
    output=ControlPlaneExecutionResumeOutput,
    auth=AuthLevel.ADMIN,
    graphql_name="resumeExecution",
    actor_fields=("resumed_by",),
)
