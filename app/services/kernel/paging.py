"""One page of a query and the total it would return unpaged."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, Subquery, bindparam, func, literal_column, select, true
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import UnaryExpression

from app.contracts.control_plane.constants import DEFAULT_PAGE_SIZE
from app.db.database import read_alone
from app.db.sqlite_driver import ALONE


@dataclass(frozen=True, slots=True)
class Page:
    total: int
    rows: Sequence[Any]
    """The rows of the statement (`PageStatements.row`: by name or unpacked in order)."""


async def page(
    session: AsyncConnection,
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
_PAGE_ROW = "page_row"


@dataclass(frozen=True, slots=True)
class PageStatements:
    """A list query built once per shape of its filters (their values are bind parameters), as one statement that
    always returns at least one row: the exact total, an uncorrelated scalar subquery over the same filters
    (computed once, from the same snapshot as the page), outer-joined to the page (`LIMIT :p_limit OFFSET
    :p_offset`) and ordered as the page is. An empty page (nothing matches, or an offset past the end) is the one
    row of the total with every column of the page NULL. So a page is always one statement, and can be the whole
    of its unit of work (`page_of(..., alone=True)`): on PostgreSQL one round trip instead of three (BEGIN, the
    page, COMMIT). Built once, the statement also keeps SQLAlchemy's cache key, which a statement built per request
    computes on every execution."""

    page: Select[Any]
    alone: Select[Any]
    """`page`, marked as the only statement of its read-only unit of work (app/db/database.py, read_alone)."""
    row: Callable[[Iterable[Any]], Any] | None
    """A named tuple of the statement's columns: what `page_of` hands out (a SQLAlchemy `Row`'s attribute read cost
    a quarter of a µs, twenty reads per inbox item; a named tuple's is a C slot); None: the `Row`s as they come,
    for a caller that unpacks them."""

    @classmethod
    def of(cls, query: Select[Any], count: Select[Any], *, paged: bool = True, named: bool = True) -> PageStatements:
        """`query`: the ordered page without limit and offset (`paged=False`: a query that pages itself with
        `p_limit` and `p_offset`), whose ORDER BY columns it selects; `count`: a statement of one value, the number
        of the same rows; `named=False`: the rows stay SQLAlchemy's (`row`)."""
        rows = query.add_columns(literal_column("1").label(_PAGE_ROW))
        if paged:
            rows = rows.limit(bindparam("p_limit")).offset(bindparam("p_offset"))
        page = rows.subquery("page")
        totals = select(count.scalar_subquery().label(PAGE_TOTAL)).subquery("totals")
        statement = (
            select(*page.c, totals.c[PAGE_TOTAL])
            .select_from(totals.outerjoin(page, true()))
            .order_by(*(_outer(clause, page) for clause in query._order_by_clauses))  # noqa: SLF001 - no public accessor
        )
        alone = statement.execution_options(**{ALONE: True})
        if not named:
            return cls(page=statement, alone=alone, row=None)
        row = namedtuple("PageRow", statement.selected_columns.keys())  # type: ignore[misc]  # noqa: PYI024 - names known at run time
        return cls(page=statement, alone=alone, row=row._make)


def _outer(clause: Any, page: Subquery) -> Any:
    """An ORDER BY term of the page's query, on the page's columns (the outer query keeps the page's order)."""
    if isinstance(clause, UnaryExpression) and clause.modifier is operators.desc_op:
        return _outer(clause.element, page).desc()
    column = page.corresponding_column(clause)
    if column is None:
        raise ValueError(f"the page's query orders by {clause}, which it does not select")
    return column


async def page_of(
    session: AsyncConnection,
    statements: PageStatements,
    params: dict[str, Any],
    limit: int | None,
    offset: int | None,
    *,
    alone: bool = False,
) -> Page:
    """One statement, whatever the page holds (PageStatements); `alone`: it is the whole of the caller's read-only
    unit of work (nothing is read after it)."""
    values = {**params, "p_limit": limit or DEFAULT_PAGE_SIZE, "p_offset": offset or 0}
    if alone:
        await read_alone(session)
    result = await session.execute(statements.alone if alone else statements.page, values)
    rows = result.all() if statements.row is None else list(map(statements.row, result))
    total = getattr(rows[0], PAGE_TOTAL)
    if getattr(rows[0], _PAGE_ROW) is None:
        return Page(total=total, rows=[])
    return Page(total=total, rows=rows)
