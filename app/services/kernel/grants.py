"""Workspace grants as SQL: every query and command reaches only the workspaces its caller holds.

The filter goes into the statement itself, never onto a fetched page, so totals and paging stay
right; a row outside the grants is simply not found, so an id of another workspace answers exactly
like an id that does not exist. No principal, or one without grants, reaches nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, bindparam, false, true

from app.auth import Principal


def in_grants(principal: Principal | None, workspace: ColumnElement[Any]) -> ColumnElement[bool]:
    """`workspace` is one the principal may reach (for statements built per request)."""
    shape = grants_shape(principal)
    if principal is not None and shape == SOME_GRANTS:
        return workspace.in_(sorted(principal.workspaces))
    return in_grants_shaped(shape, workspace)


NO_GRANTS, ALL_GRANTS, SOME_GRANTS = "none", "all", "some"

GrantFilter = Callable[[ColumnElement[Any]], ColumnElement[bool]]
"""Given a workspace column, the grant filter of one shape (`in_grants_shaped`)."""

Built = TypeVar("Built")


def by_grants(build: Callable[[GrantFilter], Built]) -> dict[str, Built]:
    """A statement built once per shape of the grants (`grants_shape`: none, all, some), `build` given that shape's
    filter; pick one with `grants_shape(principal)`, execute it with `shaped_grant_params(principal)`. Only the
    shape of some workspaces has a list to bind (an expanding IN, which SQLAlchemy rewrites at every execution); a
    filter of one form for every shape (`:all_workspaces OR workspace IN (:list)`) made every caller pay for that
    rewrite, an admin with an empty list too."""
    return {shape: build(partial(in_grants_shaped, shape)) for shape in (NO_GRANTS, ALL_GRANTS, SOME_GRANTS)}


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
