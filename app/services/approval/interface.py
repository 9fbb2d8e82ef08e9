"""What other capabilities may use of the approval workflow (tests/unit/test_layers.py allows nothing else).

The lifecycle opens an approval request when a step that requires approval is reached: the terms
(the matching rule of the policy in force, its quorum and deadline, the review digest) are stored
with the step in the same transaction, so a later policy change never rewrites an open request.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.contracts.control_plane.events import step_approval_requested
from app.contracts.control_plane.statuses import StepStatus
from app.db.tables import execution_table as execution_t
from app.db.tables import plan_table as plan_t
from app.db.tables import run_table as run_t
from app.db.tables import step_table as step_t
from app.services.approval.review import review_digest, roles_column
from app.services.approval.rules import ApprovalPolicy, load_policy, parse_policy, stored_rule

__all__ = ["ApprovalPolicy", "ApprovalTerms", "load_policy", "parse_policy"]

_CONTEXT = (
    select(execution_t.c.workspace_id, plan_t.c.deterministic_hash.label("plan_hash"))
    .select_from(run_t)
    .join(execution_t, execution_t.c.id == run_t.c.execution_id)
    .join(plan_t, plan_t.c.id == run_t.c.plan_id)
    .where(run_t.c.id == bindparam("b_run_id"))
)
_OPEN = (
    update(step_t)
    .where(step_t.c.id == bindparam("b_step_id"))
    .values(
        status=StepStatus.AWAITING_APPROVAL,
        approval_rule=bindparam("b_rule"),
        approver_roles=bindparam("b_roles"),
        required_approvals=bindparam("b_required"),
        allow_self_approval=bindparam("b_allow_self"),
        approvals_given=0,
        review_revision=step_t.c.review_revision + 1,
        review_digest=bindparam("b_digest"),
        awaiting_since=bindparam("b_at"),
        deadline=bindparam("b_deadline"),
        escalated_at=None,
        updated_at=bindparam("b_at"),
    )
)


class ApprovalTerms:
    """Opens approval requests on the terms of one policy (the server's, read at start)."""

    def __init__(self, policy: ApprovalPolicy) -> None:
        self.policy = policy

    async def open_request(
        self, session: AsyncConnection, *, execution_id: str, run_id: str, step: Any, at: datetime
    ) -> BaseModel:
        """Set `step` (a row of execution_step) awaiting a decision with its terms; returns the
        approvalRequested payload that names them."""
        context = (await session.execute(_CONTEXT, {"b_run_id": run_id})).one()
        tier = step.risk_tier or ""
        rule = self.policy.rule_for(tier, step.key, context.workspace_id)
        deadline = at + timedelta(seconds=rule.timeout_seconds) if rule.timeout_seconds else None
        digest = review_digest(
            execution_id=execution_id,
            step_id=step.id,
            key=step.key,
            step_input=step.input,
            risk_tier=step.risk_tier,
            plan_hash=context.plan_hash,
        )
        await session.execute(
            _OPEN,
            {
                "b_step_id": step.id,
                "b_rule": stored_rule(rule),
                "b_roles": roles_column(rule.approver_roles),
                "b_required": rule.required_approvals,
                "b_allow_self": rule.allow_self_approval,
                "b_digest": digest,
                "b_at": at,
                "b_deadline": deadline,
            },
        )
        return step_approval_requested.ControlPlaneExecutionStepApprovalRequestedPayload(
            execution_id=execution_id,
            run_id=run_id,
            step_id=step.id,
            risk_tier=step.risk_tier,
            requested_at=at,
            rule_id=rule.rule_id,
            policy_version=rule.policy_version,
            required_approvals=rule.required_approvals,
            approver_roles=sorted(rule.approver_roles),
            deadline=deadline,
            review_digest=digest,
        )
