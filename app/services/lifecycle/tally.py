"""Exact execution counts from the execution tally (app/db/tables.py ExecutionTally, migration 0010).

The triggers of migration 0010 add a signed row per change of an execution's (workspace, status, risk tier), in
the writing transaction, so `tally_count` — the sum of the rows its filters select — is the exact number of
executions they match, in any snapshot, however many executions there are: the tally holds one row per group after
a fold, plus the changes since. `fold` replaces the rows by one per group (keeping every sum); each server process
folds every TALLY_FOLD_INTERVAL_SECONDS when there is anything to fold.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.contracts.model import UnitOfWorkFactory
from app.db.tables import tally_table as tally_t
from app.services.kernel.periodic import every

logger = logging.getLogger(__name__)


def tally_count(filters: list[ColumnElement[bool]]) -> Select[Any]:
    """The exact number of executions matching `filters`, written on the tally's columns (workspace_id, status,
    risk_tier: the execution's risk tier, '' for none)."""
    return select(func.coalesce(func.sum(tally_t.c.n), 0)).where(*filters)


_ROWS = text("SELECT count(*) FROM execution_tally")
_ROWS_AND_GROUPS = text(
    "SELECT count(*), (SELECT count(*) FROM"
    " (SELECT 1 FROM execution_tally GROUP BY workspace_id, status, risk_tier) AS g) FROM execution_tally"
)
_FOLD_POSTGRESQL = text(
    "WITH folded AS (DELETE FROM execution_tally RETURNING workspace_id, status, risk_tier, n)"
    " INSERT INTO execution_tally (workspace_id, status, risk_tier, n)"
    " SELECT workspace_id, status, risk_tier, sum(n) FROM folded"
    " GROUP BY workspace_id, status, risk_tier HAVING sum(n) <> 0"
)
"""One statement, one snapshot: it deletes exactly the rows it sums. Rows of transactions still open are not in its
snapshot, so they are neither deleted nor summed; a concurrent fold skips the rows this one deleted."""
_FOLD_SQLITE = (
    text(
        "INSERT INTO execution_tally (workspace_id, status, risk_tier, n)"
        " SELECT workspace_id, status, risk_tier, sum(n) FROM execution_tally"
        " WHERE id <= :last GROUP BY workspace_id, status, risk_tier HAVING sum(n) <> 0"
    ),
    text("DELETE FROM execution_tally WHERE id <= :last"),
)
"""Two statements in one write transaction: SQLite's one writer lets nothing change the tally in between."""


async def fold(session: AsyncConnection) -> int:
    """Folds the tally to one row per group with a sum other than 0, in the caller's write transaction, when some
    group has more than one row; returns how many rows fewer the tally has."""
    before, groups = (await session.execute(_ROWS_AND_GROUPS)).one()
    if before <= groups:
        return 0
    if session.dialect.name == "postgresql":
        await session.execute(_FOLD_POSTGRESQL)
    else:
        last = (await session.execute(select(func.max(tally_t.c.id)))).scalar_one()
        for statement in _FOLD_SQLITE:
            await session.execute(statement, {"last": last})
    return int(before) - int((await session.execute(_ROWS)).scalar_one())


async def fold_forever(uow: UnitOfWorkFactory[AsyncConnection], interval: float) -> None:
    """The background task of each server process: a fold every `interval` seconds until cancelled. A failed
    fold is logged and tried again at the next interval (counts stay exact without folding, only slower)."""

    async def fold_once() -> None:
        async with uow(write=True) as session:
            await fold(session)

    await every(interval, fold_once, logger, "folding the execution tally failed; retrying in %.1f s")
