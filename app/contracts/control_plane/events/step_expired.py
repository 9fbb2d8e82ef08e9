"""controlPlane.execution.step.expired — nobody decided in time (project addition)."""

from __future__ import annotations

from app.contracts.control_plane.constants import APPROVAL, meta
from app.contracts.model import define_event
from app.contracts.types import ID, ContractModel, Timestamp


class ControlPlaneExecutionStepExpiredPayload(ContractModel):
    execution_id: ID
    run_id: ID | None = None
    step_id: ID
    expired_at: Timestamp
    deadline: Timestamp
    rule_id: str
    policy_version: str
    escalated: bool
    """The deadline that passed was the second one, after an escalation."""


SPEC = define_event(
    meta(
        "controlPlane.execution.step.expired",
        title="Step Expired",
        description="A step's approval deadline passed without a decision; the execution was rejected "
        "(project addition).",
        goal="Make a forgotten request end visibly instead of waiting forever.",
        context="Emitted by the deadline sweeper when the rule's onTimeout is reject (or after an escalation).",
    ),
    capability=APPROVAL,
    payload=ControlPlaneExecutionStepExpiredPayload,
)
