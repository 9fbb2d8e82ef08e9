"""controlPlane.execution.approve — the twin of reject."""

from __future__ import annotations

from pydantic import Field

from app.auth import AuthLevel
from app.contracts.control_plane.constants import APPROVAL, meta
from app.contracts.model import define_command
from app.contracts.types import ID, ContractModel, Timestamp

MAX_NOTE_LENGTH = 2000


class ControlPlaneExecutionApproveInput(ContractModel):
    execution_id: ID
    step_id: ID
    approved_by: ID
    note: str | None = Field(default=None, max_length=MAX_NOTE_LENGTH)


class ControlPlaneExecutionApproveOutput(ContractModel):
    execution_id: ID
    step_id: ID
    status: str
    approved_at: Timestamp


SPEC = define_command(
    meta(
        "controlPlane.execution.approve",
        title="Approve Execution Step",
        description="Approve a pending execution step.",
        goal="Let operators allow a risky step to run after reviewing it.",
        context="Used by approval workflows to resume an execution that waits for a human decision.",
        tags=("approval",),
    ),
    capability=APPROVAL,
    input=ControlPlaneExecutionApproveInput,
    output=ControlPlaneExecutionApproveOutput,
    auth=AuthLevel.ADMIN,
    graphql_name="approveExecutionStep",
    actor_fields=("approved_by",),
)
