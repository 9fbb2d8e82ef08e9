"""controlPlane.execution.shutdown"""

from __future__ import annotations

from pydantic import Field

from app.auth import AuthLevel
from app.contracts.control_plane.commands.reject import MAX_REASON_LENGTH
from app.contracts.control_plane.constants import CORE, meta
from app.contracts.model import define_command
from app.contracts.types import ID, ContractModel, Timestamp


class ControlPlaneExecutionShutdownInput(ContractModel):
    run_id: ID
    shutdown_by: ID
    reason: str | None = Field(default=None, max_length=MAX_REASON_LENGTH)


class ControlPlaneExecutionShutdownOutput(ContractModel):
    run_id: ID
    status: str
    shutdown_at: Timestamp


SPEC = define_command(
    meta(
        "controlPlane.execution.shutdown",
        title="Shutdown Execution",
        description=(
            "Stop a run gracefully: a running step may finish, then the run stops (cancelled); "
            "with no step running it stops now."
        ),
        goal="Stop work without cutting a step in half.",
        context="Status is stopping while the running step finishes; the final status is cancelled.",
        tags=("lifecycle",),
    ),
    capability=CORE,
    input=ControlPlaneExecutionShutdownInput,
    output=ControlPlaneExecutionShutdownOutput,
    auth=AuthLevel.ADMIN,
    graphql_name="shutdownExecution",
    actor_fields=("shutdown_by",),
)
