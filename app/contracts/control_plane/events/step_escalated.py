"""controlPlane.execution.step.escalated — the deadline passed; other roles may now decide (project addition)."""

from __future__ import annotations

from app.contracts.control_plane.constants import APPROVAL, meta
from app.contracts.model import define_event
from app.contracts.types import ID, ContractModel, Timestamp


class ControlPlaneExecutionStepEscalatedPayload(ContractModel):
    execution_id: ID
    run_id: ID | None = None
    step_id: ID
    escalated_at: Timestamp
    previous_deadline: Timestamp
    deadline: Timestamp
    """The second deadline; when it passes too, the step expires."""
    approver_roles: list[str]
    """The roles that may decide from now on (the rule's escalateToRoles)."""
    rule_id: str
    policy_version: str


SPEC = define_event(
    meta(
        "controlPlane.execution.step.escalated",
        title="Step Escalated",
        description="A step's approval deadline passed and the request moved to the rule's escalation roles "
        "with a new deadline (project addition).",
        goal="Bring a waiting request to people who will decide it before it expires.",
        context="Emitted once per request by the deadline sweeper when the rule's onTimeout is escalate.",
    ),
    capability=APPROVAL,
    payload=ControlPlaneExecutionStepEscalatedPayload,
)
