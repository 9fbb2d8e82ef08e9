"""Workspace grants as SQL: every query and command reaches only the workspaces its caller holds.

The filter goes into the statement itself, never onto a fetched page, so totals and paging stay
right; a row outside the grants is simply not found, so an id of another workspace answers exactly
like an id that does not exist. No principal, or one without grants, reaches nothing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, ColumnElement, bindparam, false, or_, true

from app.auth import Principal


def in_grants(principal: Principal | None, workspace: ColumnElement[Any]) -> ColumnElement[bool]:
    """`workspace` is one the principal may reach (for statements built per request)."""
    shape = grants_shape(principal)
    if principal is not None and shape == SOME_GRANTS:
        return workspace.in_(sorted(principal.workspaces))
    return in_grants_shaped(shape, workspace)


def granted(workspace: ColumnElement[Any]) -> ColumnElement[bool]:
    """The same filter with bind parameters, for statements built once; execute them with
    `grant_params(principal)`."""
    return or_(
        bindparam("g_all_workspaces", type_=Boolean),
        workspace.in_(bindparam("g_workspaces", expanding=True)),
    )


def grant_params(principal: Principal | None) -> dict[str, Any]:
    if principal is None:
        return {"g_all_workspaces": False, "g_workspaces": []}
    return {"g_all_workspaces": principal.all_workspaces, "g_workspaces": sorted(principal.workspaces)}


NO_GRANTS, ALL_GRANTS, SOME_GRANTS = "none", "all", "some"


def grants_shape(principal: Principal | None) -> str:
    """Which form the grant filter of a statement built once per shape takes (see `in_grants_shaped`)."""
    if principal is None or not (principal.all_workspaces or principal.workspaces):
        return NO_GRANTS
    return ALL_GRANTS if principal.all_workspaces else SOME_GRANTS


def in_grants_shaped(shape: str, workspace: ColumnElement[Any]) -> ColumnElement[bool]:
    """`in_grants` for a statement built once per shape (`grants_shape`), the workspaces a bind parameter
    (`shaped_grant_params`): the same SQL as `in_grants` builds per request, so the same index ranges."""
    if shape == NO_GRANTS:
        return false()
    if shape == ALL_GRANTS:
        return true()
    return workspace.in_(bindparam("g_workspaces", expanding=True))


def shaped_grant_params(principal: Principal | None) -> dict[str, Any]:
    if principal is not None and grants_shape(principal) == SOME_GRANTS:
        return {"g_workspaces": sorted(principal.workspaces)}
    return {}
