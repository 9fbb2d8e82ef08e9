"""controlPlane.execution.cancel"""

from __future__ import annotations

from pydantic import Field

from app.auth import AuthLevel
from app.contracts.control_plane.commands.reject import MAX_REASON_LENGTH
from app.contracts.control_plane.constants import CORE, meta
from app.contracts.model import define_command
from app.contracts.types import ID, ContractModel, Timestamp


class ControlPlaneExecutionCancelInput(ContractModel):
    execution_id: ID
    cancelled_by: ID
    reason: str | None = Field(default=None, max_length=MAX_REASON_LENGTH)


class ControlPlaneExecutionCancelOutput(ContractModel):
    execution_id: ID
    status: str
    cancelled_at: Timestamp


SPEC = define_command(
    meta(
        "controlPlane.execution.cancel",
        title="Cancel Execution",
        description="Cancel an execution that has not finished: pending, running, awaiting approval or paused.",
        goal="Let an operator stop work that is no longer wanted, before or during its run.",
        context=(
            "Steps not yet finished are skipped (a running one fails with CANCELLED); "
            "CONFLICT once the execution has ended."
        ),
        tags=("lifecycle",),
    ),
    capability=CORE,
    input=ControlPlaneExecutionCancelInput,
    output=ControlPlaneExecutionCancelOutput,
    auth=AuthLevel.ADMIN,
    graphql_name="cancelExecution",
    actor_fields=("cancelled_by",),
)
