"""The benchmark database builder (app/seeding/bulk.py): its clones are what the services write, and a
bulk-built database passes `python -m app check`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from app.db import migrate
from app.db.tables import event_table, execution_table, run_table, step_table
from app.seeding.bulk import _TABLES, AWAITING_APPROVAL, build_executions, execution_id, step_id
from app.seeding.dataset import Scenario, ScenarioStep
from app.server import Services, build_services
from app.services.audit.invariants import check
from tests.conftest import make_settings

THREE_STEPS = [
    ScenarioStep(key="fetch.config", input={"ref": "main"}),
    ScenarioStep(key="deploy.production", input={"region": "eu-west-1"}),
    ScenarioStep(key="notify.team", input={"channel": "#ops"}),
]
RETRIED = Scenario(
    name="shape-retried",
    workspace="ws-bench-mixed",
    text="Ship it, with one retry.",
    at=AWAITING_APPROVAL.at,
    steps=THREE_STEPS,
    actions=[
        *("compile", "verify", "start", "complete", {"approve": "ok"}),
        *("begin", {"fail": "TIMEOUT: slow"}, "retry", "complete", "complete"),
    ],
)
REJECTED = Scenario(
    name="shape-rejected",
    workspace="ws-bench-mixed",
    text="Ship it, rejected.",
    at=AWAITING_APPROVAL.at,
    steps=THREE_STEPS,
    actions=["compile", "verify", "start", "complete", {"reject": "Not today."}],
)
SHAPES = (AWAITING_APPROVAL, RETRIED, REJECTED)


async def rows_of(services: Services, index: int) -> dict[str, list[dict[str, Any]]]:
    """Every row of execution `index`, events in order with their positions replaced by their rank (positions
    depend on the writing transactions; their order is what a clone must keep)."""
    rows: dict[str, list[dict[str, Any]]] = {}
    async with services.database.unit_of_work(write=False) as session:
        for table in _TABLES:
            key = table.c.id if table is execution_table else table.c.execution_id
            found = [
                dict(row) for row in (await session.execute(select(table).where(key == execution_id(index)))).mappings()
            ]
            if table is event_table:
                found.sort(key=lambda row: row["sequence"])
                for rank, row in enumerate(found):
                    row["sequence"] = rank
            rows[table.name] = sorted(found, key=repr)
    return rows


async def test_a_bulk_built_database_passes_the_checker(services: Services):
    report = await build_executions(services.database, services.executor, shapes=SHAPES, count=30, batch=7)
    assert (report.executions, report.played) == (30, 3)
    async with services.database.unit_of_work(write=False) as session:
        assert [str(problem) for problem in await check(session)] == []
        runs = (await session.execute(select(func.count()).select_from(run_table))).scalar_one()
        by_status = select(execution_table.c.status, func.count()).group_by(execution_table.c.status)
        statuses: dict[str, int] = dict((await session.execute(by_status)).all())
    assert runs >= 30 + 10  # every execution has its run; the retried shape has two
    assert statuses["awaiting_approval"] >= 10
    assert statuses["rejected"] >= 10
    assert statuses["completed"] >= 10


async def test_a_clone_is_what_the_services_write(services: Services, empty_database_url: str, tmp_path: Path):
    """Execution 4 cloned in bulk equals execution 4 played through the services, row for row."""
    await build_executions(services.database, services.executor, shapes=SHAPES, count=6)
    directory = tmp_path / "played"
    directory.mkdir()
    played = build_services(make_settings(directory, empty_database_url))
    try:
        await migrate.upgrade(played.database.engine)
        await build_executions(played.database, played.executor, shapes=SHAPES[1:2], count=1, first=4)
        cloned, direct = await rows_of(services, 4), await rows_of(played, 4)
    finally:
        await played.database.dispose()
    assert len(direct["execution_run"]) == 2
    assert len(direct["execution_event"]) > 10
    assert cloned == direct


async def test_the_bench_ids_are_the_seeded_ones(services: Services):
    await build_executions(services.database, services.executor, count=3)
    async with services.database.unit_of_work(write=False) as session:
        rows = await session.execute(select(step_table.c.id, step_table.c.status).where(step_table.c.id == step_id(2)))
        assert [tuple(row) for row in rows] == [(step_id(2), "awaiting_approval")]
