"""controlPlane.execution.reject — the seed command."""

from __future__ import annotations

from pydantic import Field

from app.auth import AuthLevel
from app.contracts.control_plane.approval import REVIEW_DIGEST_PATTERN
from app.contracts.control_plane.constants import APPROVAL, meta
from app.contracts.model import define_command
from app.contracts.types import ID, ContractModel, Text, Timestamp

MAX_REASON_LENGTH = 2000


class ControlPlaneExecutionRejectInput(ContractModel):
    execution_id: ID
    step_id: ID
    rejected_by: ID
    reason: Text(MAX_REASON_LENGTH)  # type: ignore[valid-type]
    review_digest: str | None = Field(default=None, pattern=REVIEW_DIGEST_PATTERN)
    """The `reviewDigest` the reviewer saw: a step that changed since is CONFLICT `review_stale`."""


class ControlPlaneExecutionRejectOutput(ContractModel):
    execution_id: ID
    step_id: ID
    status: str
    rejected_at: Timestamp


SPEC = define_command(
    meta(
        "controlPlane.execution.reject",
        title="Reject Execution Step",
        description="Reject a pending execution step.",
        goal="Allow operators to block unsafe or undesired actions.",
        context="Used by approval workflows to stop execution when policy or operator criteria fail.",
        tags=("approval",),
    ),
    capability=APPROVAL,
    input=ControlPlaneExecutionRejectInput,
    output=ControlPlaneExecutionRejectOutput,
    auth=AuthLevel.ADMIN,
    graphql_name="rejectExecutionStep",
    actor_fields=("rejected_by",),
)
