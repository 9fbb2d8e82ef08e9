"""The execution tally (migration 0010, app/services/lifecycle/tally.py): `executions`' exact totals summed from
signed rows the database's triggers add in the writing transaction, folded now and then to one row per group."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest
from sqlalchemy import delete, func, select, text, update

from app.db.database import Database
from app.db.tables import execution_table as execution_t
from app.db.tables import tally_table as tally_t
from app.services.audit.invariants import check
from app.services.lifecycle.tally import fold
from app.testing.documents import EXECUTIONS, REJECT
from tests.integration.helpers import DEPLOY, MIGRATE_SCHEMA, fetch


async def _matching(database: Database, **filters: str) -> int:
    query = select(func.count()).select_from(execution_t)
    for name, value in filters.items():
        query = query.where(execution_t.c[name] == value)
    (row,) = await fetch(database, query.add_columns(func.count().label("n")))
    return int(row["n"])


async def _every_filter(execute: Any, database: Database) -> list[tuple[dict[str, str], int, int]]:
    """(filters, the total `executions` answers, the executions that match) for every combination of the
    workspaces, statuses and risk tiers in the database, each filter alone and all together."""
    rows = await fetch(database, select(execution_t.c.workspace_id, execution_t.c.status, execution_t.c.risk_tier))
    values = {
        "workspace_id": sorted({r["workspace_id"] for r in rows}),
        "status": [*sorted({r["status"] for r in rows}), "aborted"],  # a status nothing has
        "risk_tier": sorted({r["risk_tier"] for r in rows if r["risk_tier"]}),
    }
    names = {"workspace_id": "workspaceId", "status": "status", "risk_tier": "riskTier"}
    combinations: list[dict[str, str]] = [{}]
    for size in (1, 3):
        for chosen in itertools.combinations(values, size):
            picks = itertools.product(*(values[name] for name in chosen))
            combinations += [dict(zip(chosen, picked, strict=True)) for picked in picks]
    answers = []
    for filters in combinations:
        data = await execute(EXECUTIONS, {"input": {names[k]: v for k, v in filters.items()} | {"limit": 1}})
        answers.append((filters, data["executions"]["total"], await _matching(database, **filters)))
    return answers


async def _tally_problems(database: Database) -> list[Any]:
    async with database.unit_of_work(write=False) as session:
        return [problem for problem in await check(session) if problem.rule == "execution-tally"]


async def _tally_rows(database: Database) -> int:
    (row,) = await fetch(database, select(func.count().label("n")).select_from(tally_t))
    return int(row["n"])


async def test_every_filters_total_is_the_number_of_executions_it_matches(execute, database):
    """After the migration's backfill, after decisions that change statuses, after executions are deleted and after
    a fold, each total is exact (a wrong total would differ from the executions counted directly)."""
    answers = await _every_filter(execute, database)
    assert len(answers) > 40
    assert any(total == 0 for _, total, _ in answers)
    assert [a for a in answers if a[1] != a[2]] == []

    await execute(REJECT, {"input": {**DEPLOY, "rejectedBy": "dana", "reason": "Freeze."}})
    await execute(REJECT, {"input": {**MIGRATE_SCHEMA, "rejectedBy": "dana", "reason": "Not today."}})
    async with database.engine.begin() as connection:  # a workspace and a risk tier changed outside the services
        await connection.execute(
            update(execution_t).where(execution_t.c.id == DEPLOY["executionId"]).values(workspace_id="ws-moved")
        )
        await connection.execute(
            update(execution_t).where(execution_t.c.id == MIGRATE_SCHEMA["executionId"]).values(risk_tier=None)
        )
    assert [a for a in await _every_filter(execute, database) if a[1] != a[2]] == []

    before = await _tally_rows(database)
    async with database.unit_of_work(write=True) as session:
        folded = await fold(session)
    assert folded > 0
    assert await _tally_rows(database) == before - folded
    assert [a for a in await _every_filter(execute, database) if a[1] != a[2]] == []
    assert await _tally_problems(database) == []


async def test_a_fold_leaves_one_row_per_group_and_a_second_fold_nothing_to_do(execute, database):
    await execute(REJECT, {"input": {**DEPLOY, "rejectedBy": "dana", "reason": "Freeze."}})
    groups = await fetch(
        database,
        select(tally_t.c.workspace_id, tally_t.c.status, tally_t.c.risk_tier, func.sum(tally_t.c.n).label("n"))
        .group_by(tally_t.c.workspace_id, tally_t.c.status, tally_t.c.risk_tier)
        .having(func.sum(tally_t.c.n) != 0),
    )
    async with database.unit_of_work(write=True) as session:
        assert await fold(session) > 0
    rows = await fetch(database, select(tally_t.c.workspace_id, tally_t.c.status, tally_t.c.risk_tier, tally_t.c.n))
    assert sorted(map(tuple, rows)) == sorted(map(tuple, groups))
    async with database.unit_of_work(write=True) as session:
        assert await fold(session) == 0


async def test_the_check_reports_a_tally_that_disagrees(database):
    async with database.engine.begin() as connection:
        first = select(func.min(tally_t.c.id)).scalar_subquery()
        await connection.execute(delete(tally_t).where(tally_t.c.id == first))
    (problem,) = await _tally_problems(database)
    assert "tally says 0, executions" in problem.detail


async def test_a_fold_beside_a_writer_still_open_keeps_its_rows(execute, database):
    """A fold that runs while a writing transaction has added tally rows but not committed them neither sums nor
    deletes them: once the writer commits, every total is exact. On PostgreSQL both run at once (the fold is one
    statement of its own snapshot); SQLite's writer lock makes the fold wait for the writer."""
    if database.is_sqlite:

        async def write() -> None:
            async with database.unit_of_work(write=True) as session:
                await session.execute(
                    update(execution_t).where(execution_t.c.id == DEPLOY["executionId"]).values(status="cancelled")
                )
                await asyncio.sleep(0.2)

        async def folding() -> None:
            await asyncio.sleep(0.05)
            async with database.unit_of_work(write=True) as session:
                await fold(session)

        await asyncio.gather(write(), folding())
    else:
        async with database.engine.connect() as writer:
            await writer.execute(
                update(execution_t).where(execution_t.c.id == DEPLOY["executionId"]).values(status="cancelled")
            )
            async with database.unit_of_work(write=True) as session:  # another connection, while the writer is open
                assert await fold(session) > 0
            await writer.commit()
    assert [a for a in await _every_filter(execute, database) if a[1] != a[2]] == []
    assert await _tally_problems(database) == []


@pytest.mark.parametrize("writers", [8])
async def test_concurrent_decisions_and_folds_keep_every_total_exact(execute, database, writers):
    """Decisions (which move executions between statuses) and folds at the same time."""
    rows = await fetch(
        database,
        text(
            "SELECT execution_id, id FROM execution_step"
            " WHERE status = 'awaiting_approval' AND approver_roles LIKE '%,admin,%' ORDER BY id"
        ),
    )
    steps = [{"executionId": r["execution_id"], "stepId": r["id"]} for r in rows][:writers]

    async def decide(step: dict[str, str]) -> None:
        await execute(REJECT, {"input": {**step, "rejectedBy": "dana", "reason": "Race."}})

    async def folding() -> None:
        for _ in range(5):
            async with database.unit_of_work(write=True) as session:
                await fold(session)
            await asyncio.sleep(0)

    assert len(steps) >= 3
    await asyncio.gather(*map(decide, steps), folding())
    assert [a for a in await _every_filter(execute, database) if a[1] != a[2]] == []
    assert await _tally_problems(database) == []


async def test_folds_of_two_processes_at_once_keep_every_total_exact(execute, database, settings):
    """Two server processes fold on their own schedules: two engines (pools of their own) fold at the same time
    while executions change status in between; every total stays exact and the tally ends one row per group."""
    other = Database(settings)
    try:
        ids = [r["id"] for r in await fetch(database, select(execution_t.c.id).order_by(execution_t.c.id))][:6]

        async def churn() -> None:
            for number, execution_id in enumerate(ids):
                async with database.unit_of_work(write=True) as session:
                    status = "cancelled" if number % 2 else "failed"
                    await session.execute(
                        update(execution_t).where(execution_t.c.id == execution_id).values(status=status)
                    )
                await asyncio.sleep(0)

        async def folds(db: Database) -> None:
            for _ in range(4):
                async with db.unit_of_work(write=True) as session:
                    await fold(session)
                await asyncio.sleep(0)

        await asyncio.gather(churn(), folds(database), folds(other))
        async with other.unit_of_work(write=True) as session:
            await fold(session)
    finally:
        await other.dispose()
    assert [a for a in await _every_filter(execute, database) if a[1] != a[2]] == []
    assert await _tally_problems(database) == []
    async with database.unit_of_work(write=True) as session:
        assert await fold(session) == 0
