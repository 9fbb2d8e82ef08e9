"""One page of a query and the total it would return unpaged."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, Select, func, select
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
