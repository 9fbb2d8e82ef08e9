"""Whether a caller may decide a request, in SQL (for "my inbox") and from rows (for `viewerCanDecide`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, exists, false, func, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth import Principal
from app.db.tables import intent_table as intent_t
from app.db.tables import step_table as step_t
from app.db.tables import vote_table as vote_t
from app.services.approval.eligibility import Standing
from app.services.approval.review import roles_of


def decidable_by(principal: Principal | None) -> ColumnElement[bool]:
    """The caller holds one of the request's roles, may approve their own request or did not ask for it,
    and has not voted on its current input (joined with intent_t)."""
    if principal is None or not principal.roles:
        return false()
    return and_(
        or_(*(step_t.c.approver_roles.contains(f",{role},", autoescape=True) for role in sorted(principal.roles))),
        or_(
            step_t.c.allow_self_approval,
            and_(
                func.coalesce(intent_t.c.submitted_by, "") != principal.id,
                func.coalesce(intent_t.c.actor_id, "") != principal.id,
            ),
        ),
        not_(
            exists().where(
                vote_t.c.step_id == step_t.c.id,
                vote_t.c.review_revision == step_t.c.review_revision,
                vote_t.c.actor == principal.id,
            )
        ),
    )


_VOTES_ON = select(vote_t.c.step_id, vote_t.c.review_revision).where(
    vote_t.c.actor == bindparam("actor"), vote_t.c.step_id.in_(bindparam("steps", expanding=True))
)


async def voted_on(session: AsyncConnection, actor: str, requests: Iterable[tuple[str, int]]) -> set[tuple[str, int]]:
    """Of (step id, revision) pairs, those `actor` has voted on: one statement for a whole page. It asks for the
    actor's votes on the page's steps (a range of ix_approval_vote_actor per step) and keeps the revisions asked
    for: SQLite answers a (step_id, review_revision) IN (...) row-value list by scanning every vote."""
    wanted = set(requests)
    if not wanted:
        return set()
    rows = await session.execute(_VOTES_ON, {"actor": actor, "steps": sorted({step for step, _ in wanted})})
    return {(row.step_id, row.review_revision) for row in rows} & wanted


def standing_of(
    row: Any,
    principal: Principal | None,
    *,
    awaiting: bool = True,
    allow_edit: bool,
    voted: bool,
    rule_roles: Iterable[str] = (),
) -> Standing:
    """`row` has approver_roles, allow_self_approval, submitted_by, intent_actor_id and workspace_id;
    `rule_roles` stand in for approver_roles on a request stored without them."""
    return Standing(
        awaiting=awaiting,
        workspace_granted=principal is not None and principal.may_reach(row.workspace_id),
        approver_roles=roles_of(row.approver_roles) or frozenset(rule_roles),
        requesters=frozenset(who for who in (row.submitted_by, row.intent_actor_id) if who),
        allow_self_approval=bool(row.allow_self_approval),
        allow_edit=allow_edit,
        voted=voted,
    )
