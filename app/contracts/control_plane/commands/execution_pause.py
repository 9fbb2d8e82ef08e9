"""controlPlane.execution.pause"""

from __future__ import annotations

from pydantic import Field

from app.auth import AuthLevel
from app.contracts.control_plane.commands.reject import MAX_REASON_LENGTH
from app.contracts.control_plane.constants import CORE, meta
from app.contracts.model import define_command
from app.contracts.types import ID, ContractModel, Timestamp


class ControlPlaneExecutionPauseInput(ContractModel):
    run_id: ID
    paused_by: ID
    reason: str | None = Field(default=None, max_length=MAX_REASON_LENGTH)


class ControlPlaneExecutionPauseOutput(ContractModel):
    run_id: ID
    status: str
    paused_at: Timestamp


SPEC = define_command(
    meta(
        "controlPlane.execution.pause",
        title="Pause Execution",
        description="Hold a running run (or one awaiting approval); runners start no new step until it is resumed.",
        goal="Let an operator hold a run while something is checked.",
        context="A step already running may still report its end; decisions on awaiting steps stay possible.",
        tags=("lifecycle",),
    ),
    capability=CORE,
    input=ControlPlaneExecutionPauseInput,
    output=ControlPlaneExecutionPauseOutput,
    auth=AuthLevel.ADMIN,
    graphql_name="pauseExecution",
    actor_fields=("paused_by",),
)
