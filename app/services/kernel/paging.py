"""One page of a query and the total it would return unpaged."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, Select, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.contracts.control_plane.constants import DEFAULT_PAGE_SIZE


@dataclass(frozen=True, slots=True)
class Page:
    total: int
    rows: Sequence[Row[Any]]


async def page(
    session: AsyncSession,
    query: Select[Any],
    limit: int | None,
    offset: int | None,
    *,
    count: Select[Any] | None = None,
) -> Page:
    """Two statements with the same filters: the count, then the page. `count`, when given, is a cheaper statement
    that counts the same rows (e.g. without joins that never add or drop one); otherwise the query is counted."""
    counting = count if count is not None else select(func.count()).select_from(query.order_by(None).subquery())
    total = (await session.execute(counting)).scalar_one()
    rows = (await session.execute(query.limit(limit or DEFAULT_PAGE_SIZE).offset(offset or 0))).all()
    return Page(total=total, rows=rows)


PAGE_TOTAL = "page_total"


@dataclass(frozen=True, slots=True)
class PageStatements:
    """A list query built once per shape of its filters (their values are bind parameters), as one statement:
    the page (`LIMIT :p_limit OFFSET :p_offset`) with its exact total as an extra column, an uncorrelated scalar
    subquery over the same filters (computed once per statement, on both databases, from the same snapshot as the
    page); and the count alone, for a page that comes back empty (nothing matches, or an offset past the end).
    Built once, the statements also keep SQLAlchemy's cache key, which a statement built per request computes on
    every execution."""

    page: Select[Any]
    count: Select[Any]

    @classmethod
    def of(cls, query: Select[Any], count: Select[Any], *, paged: bool = True) -> PageStatements:
        """`query`: the ordered page without limit and offset (`paged=False`: a query that pages itself with
        `p_limit` and `p_offset`); `count`: a statement of one value, the number of the same rows."""
        with_total = query.add_columns(count.scalar_subquery().label(PAGE_TOTAL))
        if paged:
            with_total = with_total.limit(bindparam("p_limit")).offset(bindparam("p_offset"))
        return cls(page=with_total, count=count)


async def page_of(
    session: AsyncSession, statements: PageStatements, params: dict[str, Any], limit: int | None, offset: int | None
) -> Page:
    """One statement for a page that holds something, two for an empty one (PageStatements)."""
    values = {**params, "p_limit": limit or DEFAULT_PAGE_SIZE, "p_offset": offset or 0}
    rows = (await session.execute(statements.page, values)).all()
    if rows:
        return Page(total=getattr(rows[0], PAGE_TOTAL), rows=rows)
    return Page(total=(await session.execute(statements.count, params)).scalar_one(), rows=rows)
