"""approvalRequest: everything a reviewer needs about one request, in three statements.

The request with its execution, intent, plan and terms; the votes on its current input; the steps
before it with their outputs. An id outside the caller's workspaces answers NOT_FOUND, like one that
does not exist.
"""

from __future__ import annotations

from sqlalchemy import and_, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth import Principal
from app.contracts.control_plane.approval import ControlPlaneApprovalVote, ControlPlaneStepOutcome
from app.contracts.control_plane.queries.approval_get import (
    ControlPlaneApprovalGetInput,
    ControlPlaneApprovalGetOutput,
    ControlPlaneApprovalRequest,
)
from app.contracts.control_plane.statuses import TERMINAL_EXECUTION_STATUSES, StepStatus
from app.db.tables import execution_table as execution_t
from app.db.tables import intent_table as intent_t
from app.db.tables import plan_table as plan_t
from app.db.tables import run_table as run_t
from app.db.tables import step_table as step_t
from app.db.tables import vote_table as vote_t
from app.errors import NotFound
from app.services.approval.decisions import legacy_rule
from app.services.approval.eligibility import eligibility
from app.services.approval.review import digest_of
from app.services.approval.rules import rule_from_stored
from app.services.approval.standing import standing_of
from app.services.kernel.grants import by_grants, grants_shape, shaped_grant_params

_REQUEST = by_grants(
    lambda granted: (
        select(
            execution_t.c.id.label("execution_id"),
            execution_t.c.status.label("execution_status"),
            execution_t.c.workspace_id,
            execution_t.c.run_id,
            step_t.c.id,
            step_t.c.position,
            step_t.c.key,
            step_t.c.status,
            step_t.c.risk_tier,
            step_t.c.risk_reason,
            step_t.c.requires_approval,
            step_t.c.input,
            step_t.c.original_input,
            step_t.c.updated_at,
            step_t.c.awaiting_since,
            step_t.c.deadline,
            step_t.c.approval_rule,
            step_t.c.approver_roles,
            step_t.c.required_approvals,
            step_t.c.allow_self_approval,
            step_t.c.review_revision,
            step_t.c.review_digest,
            intent_t.c.text.label("intent_text"),
            intent_t.c.submitted_by,
            intent_t.c.actor_id.label("intent_actor_id"),
            plan_t.c.id.label("plan_id"),
            plan_t.c.deterministic_hash.label("plan_hash"),
        )
        .select_from(execution_t)
        .outerjoin(step_t, and_(step_t.c.id == bindparam("b_step_id"), step_t.c.execution_id == execution_t.c.id))
        .outerjoin(intent_t, intent_t.c.execution_id == execution_t.c.id)
        .outerjoin(run_t, run_t.c.id == execution_t.c.run_id)
        # The run's plan; before the first run (a step of a verified plan, not started), the execution's.
        .outerjoin(plan_t, plan_t.c.id == func.coalesce(run_t.c.plan_id, execution_t.c.plan_id))
        .where(execution_t.c.id == bindparam("b_execution_id"), granted(execution_t.c.workspace_id))
    )
)
_VOTES = (
    select(vote_t.c.actor, vote_t.c.decision, vote_t.c.decided_at, vote_t.c.note, vote_t.c.edited_input)
    .where(vote_t.c.step_id == bindparam("b_step_id"), vote_t.c.review_revision == bindparam("b_revision"))
    .order_by(vote_t.c.decided_at, vote_t.c.id)
)
_PRECEDING = (
    select(step_t.c.id, step_t.c.key, step_t.c.status, step_t.c.output)
    .where(step_t.c.execution_id == bindparam("b_execution_id"), step_t.c.position < bindparam("b_position"))
    .order_by(step_t.c.position)
)


async def get_approval_request(
    session: AsyncConnection, principal: Principal | None, data: ControlPlaneApprovalGetInput
) -> ControlPlaneApprovalGetOutput:
    params = {"b_execution_id": data.execution_id, "b_step_id": data.step_id, **shaped_grant_params(principal)}
    row = (await session.execute(_REQUEST[grants_shape(principal)], params)).one_or_none()
    if row is None:
        raise NotFound(f"Execution {data.execution_id!r} does not exist.")
    if row.id is None:
        raise NotFound(f"Step {data.step_id!r} is not a step of execution {data.execution_id!r}.")
    if not row.requires_approval:
        raise NotFound(f"Step {data.step_id!r} does not require approval, so it has no approval request.")
    votes = (await session.execute(_VOTES, {"b_step_id": row.id, "b_revision": row.review_revision})).all()
    preceding = (
        await session.execute(_PRECEDING, {"b_execution_id": row.execution_id, "b_position": row.position})
    ).all()
    rule = rule_from_stored(row.approval_rule) if row.approval_rule else legacy_rule()
    viewer = principal.id if principal is not None else ""
    standing = standing_of(
        row,
        principal,
        awaiting=row.status == StepStatus.AWAITING_APPROVAL and row.execution_status not in TERMINAL_EXECUTION_STATUSES,
        allow_edit=rule.allow_edit,
        voted=any(vote.actor == viewer for vote in votes),
        rule_roles=rule.approver_roles,
    )
    request = ControlPlaneApprovalRequest(
        execution_id=row.execution_id,
        step_id=row.id,
        workspace_id=row.workspace_id,
        run_id=row.run_id,
        position=row.position,
        key=row.key,
        status=row.status,
        risk_tier=row.risk_tier or "",
        risk_reasons=[part for part in (row.risk_reason or "").split("; ") if part],
        input=row.input,
        original_input=row.original_input,
        intent_text=row.intent_text,
        requested_by=row.intent_actor_id or row.submitted_by,
        plan_id=row.plan_id or "",
        plan_hash=row.plan_hash or "",
        review_digest=digest_of(row),
        awaiting_since=row.awaiting_since,
        deadline=row.deadline,
        rule=rule,
        required_approvals=row.required_approvals or rule.required_approvals,
        approvals=[
            ControlPlaneApprovalVote(
                actor_id=vote.actor,
                decision=vote.decision,
                decided_at=vote.decided_at,
                note=vote.note,
                edited_input=vote.edited_input is not None,
            )
            for vote in votes
        ],
        viewer_eligibility=eligibility(standing, principal, viewer),
        preceding_steps=[
            ControlPlaneStepOutcome(step_id=step.id, key=step.key, status=step.status, output=step.output)
            for step in preceding
        ],
    )
    return ControlPlaneApprovalGetOutput(request=request)
