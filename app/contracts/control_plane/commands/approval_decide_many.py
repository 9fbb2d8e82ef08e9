"""controlPlane.approval.decideMany — decide up to 100 steps in one request (project addition)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from app.auth import AuthLevel
from app.contracts.control_plane.approval import REVIEW_DIGEST_PATTERN
from app.contracts.control_plane.commands.approve import MAX_NOTE_LENGTH
from app.contracts.control_plane.commands.reject import MAX_REASON_LENGTH
from app.contracts.control_plane.constants import APPROVAL, meta
from app.contracts.model import Transactions, define_command
from app.contracts.types import ID, ContractModel

MAX_DECISIONS = 100


class ControlPlaneApprovalDecisionItem(ContractModel):
    execution_id: ID
    step_id: ID
    decision: Literal["approve", "reject"]
    reason: str | None = Field(default=None, max_length=MAX_REASON_LENGTH)
    """Required to reject: why the step must not run."""
    note: str | None = Field(default=None, max_length=MAX_NOTE_LENGTH)
    review_digest: str | None = Field(default=None, pattern=REVIEW_DIGEST_PATTERN)

    @model_validator(mode="after")
    def _reason_to_reject(self) -> ControlPlaneApprovalDecisionItem:
        if self.decision == "reject" and not (self.reason or "").strip():
            raise ValueError("a rejection needs a reason")
        if self.decision == "approve" and self.reason is not None:
            raise ValueError("reason is for rejections; an approval takes a note")
        return self


class ControlPlaneApprovalDecideManyInput(ContractModel):
    decided_by: ID
    decisions: Annotated[list[ControlPlaneApprovalDecisionItem], Field(min_length=1, max_length=MAX_DECISIONS)]

    @field_validator("decisions")
    @classmethod
    def _one_decision_per_step(
        cls, decisions: list[ControlPlaneApprovalDecisionItem]
    ) -> list[ControlPlaneApprovalDecisionItem]:
        seen: set[tuple[str, str]] = set()
        for item in decisions:
            target = (item.execution_id, item.step_id)
            if target in seen:
                raise ValueError(f"step {item.step_id!r} of execution {item.execution_id!r} is decided twice")
            seen.add(target)
        return decisions


class ControlPlaneApprovalDecisionResult(ContractModel):
    """What became of one item, in request order."""

    execution_id: ID
    step_id: ID
    ok: bool
    status: str | None = None
    """The step's status after the decision (`awaiting_approval` while a quorum is incomplete)."""
    code: str | None = None
    """The error code when the item failed (FORBIDDEN, CONFLICT, NOT_FOUND, ...)."""
    message: str | None = None
    current_status: str | None = None


class ControlPlaneApprovalDecideManyOutput(ContractModel):
    results: list[ControlPlaneApprovalDecisionResult]
    succeeded: int
    failed: int


SPEC = define_command(
    meta(
        "controlPlane.approval.decideMany",
        title="Decide Execution Steps",
        description="Approve or reject up to 100 steps in one request, each item in its own transaction.",
        goal="Let an operator clear an inbox, or an agent settle several paused tool calls, in one round trip.",
        context="Results come back in request order; one item's failure never undoes another's decision.",
        tags=("approval",),
    ),
    capability=APPROVAL,
    input=ControlPlaneApprovalDecideManyInput,
    output=ControlPlaneApprovalDecideManyOutput,
    auth=AuthLevel.ADMIN,
    graphql_name="decideExecutionSteps",
    actor_fields=("decided_by",),
    transactions=Transactions.PER_ITEM,
)
