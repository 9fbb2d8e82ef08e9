"""The statements a read sends and how the database plans them (tests/integration/test_query_plans.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

BIG_TABLES = ("execution", "execution_run", "execution_step", "execution_event")
"""The tables that grow with executions (runs: one or more per execution)."""
VOTE_TABLES = ("approval_vote",)
"""Grow with decisions, and are only ever looked up by step or actor: reading one whole, even through an index
(SQLite's `SCAN approval_vote USING COVERING INDEX ...`), is a full scan."""
_SQLITE_FULL_SCAN = re.compile(r"^SCAN (\w+)(?: AS \w+)?$")
_SQLITE_INDEX_SCAN = re.compile(r"^SCAN (\w+)(?: AS \w+)? USING (?:COVERING )?INDEX")
_PG_FULL_SCAN = re.compile(r"Seq Scan on (\w+)")


@dataclass(frozen=True, slots=True)
class Sent:
    statement: str
    parameters: Any


@contextmanager
def recording(engine: AsyncEngine) -> Iterator[list[Sent]]:
    """Every statement the engine sends while inside, with its parameters (BEGIN and executemany left out)."""
    sent: list[Sent] = []

    def on_statement(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, executemany: bool
    ) -> None:
        if not executemany and statement.lstrip().upper().startswith("SELECT"):
            sent.append(Sent(statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", on_statement)
    try:
        yield sent
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", on_statement)


async def plan_of(engine: AsyncEngine, sent: Sent) -> list[str]:
    """The plan's lines: SQLite's EXPLAIN QUERY PLAN details, PostgreSQL's EXPLAIN text with sequential scans
    disabled (so a Seq Scan in it means no index can serve the statement, not that the planner preferred one)."""
    async with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            rows = await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sent.statement}", sent.parameters)
            return [str(row[-1]) for row in rows]  # (id, parent, notused, detail)
        await connection.execute(text("SET LOCAL enable_seqscan = off"))
        rows = await connection.exec_driver_sql(f"EXPLAIN {sent.statement}", sent.parameters)
        lines = [str(row[0]) for row in rows]
        await connection.rollback()
        return lines


def full_scans(lines: list[str]) -> list[str]:
    """The big tables read whole, row by row (an index scan in order, cut short by LIMIT, is not one)."""
    found = []
    for line in lines:
        match = _SQLITE_FULL_SCAN.match(line.strip()) or _PG_FULL_SCAN.search(line)
        whole = _SQLITE_INDEX_SCAN.match(line.strip())
        if (match and match.group(1) in BIG_TABLES + VOTE_TABLES) or (whole and whole.group(1) in VOTE_TABLES):
            found.append(line.strip())
    return found


def indexes_used(lines: list[str]) -> set[str]:
    return set(re.findall(r"\b((?:ix|uq|pk)_\w+|sqlite_autoindex_\w+|\w+_pkey)\b", "\n".join(lines)))
