"""pendingApprovals: the steps that wait for a decision, the longest waiting first.

One statement whatever the page size, empty or not, the whole of its unit of work: the page (with each request's
terms, who asked for it and whether the caller has voted on it, for `viewerCanDecide`) with its exact total.
"""

from __future__ import annotations

from functools import cache
from operator import attrgetter
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, case, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth import Principal
from app.contracts.control_plane.queries.approval_list import (
    ControlPlaneApprovalListInput,
    ControlPlaneApprovalListOutput,
    ControlPlanePendingApproval,
)
from app.contracts.control_plane.statuses import StepStatus
from app.db.tables import execution_table as execution_t
from app.db.tables import intent_table as intent_t
from app.db.tables import plan_table as plan_t
from app.db.tables import run_table as run_t
from app.db.tables import step_table as step_t
from app.db.tables import vote_table as vote_t
from app.services.approval.eligibility import reasons
from app.services.approval.review import digest_of
from app.services.approval.standing import decidable_by, standing_of
from app.services.kernel.grants import grants_shape, in_grants, in_grants_shaped, shaped_grant_params
from app.services.kernel.paging import PageStatements, page_of


def pending_select() -> Select[Any]:
    """The columns of a pending item, joined (the queue, its snapshot and its live updates share them)."""
    joined = (
        step_t.join(execution_t, execution_t.c.id == step_t.c.execution_id)
        .outerjoin(intent_t, intent_t.c.execution_id == execution_t.c.id)
        .outerjoin(run_t, run_t.c.id == execution_t.c.run_id)
        .outerjoin(plan_t, plan_t.c.id == run_t.c.plan_id)
    )
    return select(
        step_t.c.id,
        step_t.c.position,
        step_t.c.key,
        step_t.c.risk_tier,
        # The input only where the request's digest must be computed from it (opened before digests were stored,
        # review.digest_of): reading and decoding every step's JSON input was a tenth of an inbox page.
        case((or_(step_t.c.review_digest.is_(None), step_t.c.review_digest == ""), step_t.c.input)).label("input"),
        step_t.c.updated_at,
        step_t.c.awaiting_since,
        step_t.c.deadline,
        step_t.c.required_approvals,
        step_t.c.approvals_given,
        step_t.c.approver_roles,
        step_t.c.allow_self_approval,
        step_t.c.review_revision,
        step_t.c.review_digest,
        execution_t.c.id.label("execution_id"),
        execution_t.c.status.label("execution_status"),
        execution_t.c.risk_tier.label("execution_risk_tier"),
        execution_t.c.workspace_id,
        intent_t.c.submitted_by,
        intent_t.c.actor_id.label("intent_actor_id"),
        plan_t.c.deterministic_hash.label("plan_hash"),
    ).select_from(joined)


def pending_item(
    row: Any, principal: Principal | None, *, voted: bool, verdicts: dict[tuple[Any, ...], bool] | None = None
) -> ControlPlanePendingApproval:
    """A row of `pending_select` as the caller sees it (`viewerCanDecide` is theirs). `verdicts`: what the caller
    may decide, kept for the rest of a page (`viewer_can_decide`)."""
    return ControlPlanePendingApproval(
        execution_id=row.execution_id,
        execution_status=row.execution_status,
        execution_risk_tier=row.execution_risk_tier,
        workspace_id=row.workspace_id,
        step_id=row.id,
        position=row.position,
        key=row.key,
        risk_tier=row.risk_tier,
        awaiting_since=row.awaiting_since or row.updated_at,
        required_approvals=row.required_approvals or 1,
        approvals_given=row.approvals_given,
        deadline=row.deadline,
        review_digest=digest_of(row),
        viewer_can_decide=viewer_can_decide(row, principal, voted=voted, verdicts=verdicts),
    )


_STANDING_TERMS = attrgetter("approver_roles", "allow_self_approval", "submitted_by", "intent_actor_id", "workspace_id")
"""What `standing_of` reads of a request's row."""


def viewer_can_decide(
    row: Any, principal: Principal | None, *, voted: bool, verdicts: dict[tuple[Any, ...], bool] | None = None
) -> bool:
    """No eligibility reason stands between the caller and a decision on the request of `row`. A function of the
    request's terms that `standing_of` reads, so `verdicts` keeps its answer per terms for the rest of a page (a
    page of 50 requests has a handful of distinct terms)."""
    if principal is None:
        return False
    terms = (*_STANDING_TERMS(row), voted)
    known = verdicts.get(terms) if verdicts is not None else None
    if known is None:
        known = not reasons(standing_of(row, principal, allow_edit=False, voted=voted), principal, principal.id)
        if verdicts is not None:
            verdicts[terms] = known
    return known


def pending_filters(
    principal: Principal | None, workspace_id: str | None, risk_tier: str | None, *, decidable_by_me: bool | None
) -> list[ColumnElement[bool]]:
    """What waits for a decision that the caller may see, narrowed by the inbox's filters (all in SQL). The workspace
    filters read the step's own copy of its execution's workspace, so status, workspace and the order are one index
    (ix_execution_step_status_workspace_awaiting): the page and the exact count are ranges of it."""
    filters: list[ColumnElement[bool]] = [
        step_t.c.status == StepStatus.AWAITING_APPROVAL,
        in_grants(principal, step_t.c.workspace_id),
    ]
    if workspace_id is not None:
        filters.append(step_t.c.workspace_id == workspace_id)
    if risk_tier is not None:
        filters.append(step_t.c.risk_tier == risk_tier)
    if decidable_by_me:
        filters.append(decidable_by(principal))
    return filters


def pending_count(filters: list[ColumnElement[bool]], *, decidable_by_me: bool | None) -> Select[Any]:
    """The exact number of items `filters` select, from the steps alone (and their intent, which decidableByMe
    reads): every step has its execution (a foreign key), and the outer joins of `pending_select` match at most one
    row each (intent per execution, run and plan by id), so no join adds or drops an item; the count stays a range
    of the step's index instead of four lookups per waiting step."""
    counted = (
        step_t.outerjoin(intent_t, intent_t.c.execution_id == step_t.c.execution_id) if decidable_by_me else step_t
    )
    return select(func.count()).select_from(counted).where(*filters)


@cache
def _page_statements(grants: str, *, workspace: bool, risk_tier: bool) -> PageStatements:
    """The inbox page for one shape of filters, built once (their values are bind parameters)."""
    filters: list[ColumnElement[bool]] = [
        step_t.c.status == StepStatus.AWAITING_APPROVAL,
        in_grants_shaped(grants, step_t.c.workspace_id),
    ]
    if workspace:
        filters.append(step_t.c.workspace_id == bindparam("workspace_id"))
    if risk_tier:
        filters.append(step_t.c.risk_tier == bindparam("risk_tier"))
    return _statements(filters, decidable_by_me=False)


_VIEWER_VOTED = (
    exists()
    .where(
        vote_t.c.step_id == step_t.c.id,
        vote_t.c.review_revision == step_t.c.review_revision,
        vote_t.c.actor == bindparam("viewer"),
    )
    .label("viewer_voted")
)
"""The caller (`viewer`) has voted on the request as it stands: one look-up of uq_approval_vote_actor per item, in
the page's own statement (so that the page is the whole of its unit of work)."""


def _statements(filters: list[ColumnElement[bool]], *, decidable_by_me: bool | None) -> PageStatements:
    return PageStatements.of(
        pending_select().add_columns(_VIEWER_VOTED).where(*filters).order_by(step_t.c.awaiting_since, step_t.c.id),
        pending_count(filters, decidable_by_me=decidable_by_me),
    )


async def list_pending_approvals(
    session: AsyncConnection, principal: Principal | None, data: ControlPlaneApprovalListInput
) -> ControlPlaneApprovalListOutput:
    params: dict[str, Any] = {}
    if data.decidable_by_me:  # the caller's roles and id are in its SQL: built for this request
        filters = pending_filters(principal, data.workspace_id, data.risk_tier, decidable_by_me=True)
        statements = _statements(filters, decidable_by_me=True)
    else:
        shape = grants_shape(principal)
        statements = _page_statements(
            shape, workspace=data.workspace_id is not None, risk_tier=data.risk_tier is not None
        )
        params = {"workspace_id": data.workspace_id, "risk_tier": data.risk_tier, **shaped_grant_params(principal)}
    params["viewer"] = principal.id if principal is not None else None
    found = await page_of(session, statements, params, data.limit, data.offset, alone=True)
    verdicts: dict[tuple[Any, ...], bool] = {}
    items = [pending_item(row, principal, voted=bool(row.viewer_voted), verdicts=verdicts) for row in found.rows]
    return ControlPlaneApprovalListOutput(items=items, total=found.total)
