"""controlPlane.execution.approve — the twin of reject."""

from __future__ import annotations

import json
from typing import Annotated

from pydantic import AfterValidator, Field

from app.auth import AuthLevel
from app.contracts.control_plane.approval import REVIEW_DIGEST_PATTERN
from app.contracts.control_plane.constants import APPROVAL, meta
from app.contracts.model import define_command
from app.contracts.types import ID, ContractModel, JSONObject, Timestamp

MAX_NOTE_LENGTH = 2000
MAX_EDITED_INPUT_BYTES = 65_536


def _bounded(value: JSONObject | None) -> JSONObject | None:
    if value is not None and len(json.dumps(value, ensure_ascii=False).encode("utf-8")) > MAX_EDITED_INPUT_BYTES:
        raise ValueError(f"must be at most {MAX_EDITED_INPUT_BYTES} bytes of JSON")
    return value


class ControlPlaneExecutionApproveInput(ContractModel):
    execution_id: ID
    step_id: ID
    approved_by: ID
    note: str | None = Field(default=None, max_length=MAX_NOTE_LENGTH)
    review_digest: str | None = Field(default=None, pattern=REVIEW_DIGEST_PATTERN)
    """The `reviewDigest` the approver saw: a step that changed since is CONFLICT `review_stale`."""
    edited_input: Annotated[JSONObject | None, AfterValidator(_bounded)] = None
    """Approve with edits (where the rule allows it): the step runs with this input instead."""


class ControlPlaneExecutionApproveOutput(ContractModel):
    execution_id: ID
    step_id: ID
    status: str
    """`awaiting_approval` until the quorum is reached, then `approved`."""
    approved_at: Timestamp
    approvals_given: int
    required_approvals: int


SPEC = define_command(
    meta(
        "controlPlane.execution.approve",
        title="Approve Execution Step",
        description="Approve a pending execution step: one vote toward the quorum its approval rule asks for.",
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
