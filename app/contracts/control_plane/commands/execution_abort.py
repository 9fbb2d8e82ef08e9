"""controlPlane.execution.abort"""

from __future__ import annotations

from pydantic import Field

from app.auth import AuthLevel
from app.contracts.control_plane.commands.reject import MAX_REASON_LENGTH
from app.contracts.control_plane.constants import CORE, meta
from app.contracts.model import define_command
from app.contracts.types import ID, ContractModel, Timestamp


class ControlPlaneExecutionAbortInput(ContractModel):
    run_id: ID
    aborted_by: ID
    reason: str | None = Field(default=None, max_length=MAX_REASON_LENGTH)


class ControlPlaneExecutionAbortOutput(ContractModel):
    run_id: ID
    status: str
    aborted_at: Timestamp


SPEC = define_command(
    meta(
        "controlPlane.execution.abort",
        title="Abort Execution",
        description="Stop a run at once: a running step fails with ABORTED and the rest are skipped.",
        goal="Give operators an emergency stop.",
        context="Allowed while running, awaiting approval, paused or stopping.",
        tags=("lifecycle",),
    ),
    capability=CORE,
    input=ControlPlaneExecutionAbortInput,
    output=ControlPlaneExecutionAbortOutput,
    auth=AuthLevel.ADMIN,
    graphql_name="abortExecution",
    actor_fields=("aborted_by",),
)
