import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, select

from app.db import migrate
from app.db.database import Database
from app.db.tables import execution_table, metadata, step_table
from app.services.audit.invariants import check
from tests.conftest import make_settings


async def test_tables_and_migrations_agree(tmp_path: Path, empty_database_url: str):
    database = Database(make_settings(tmp_path, empty_database_url))
    try:
        await migrate.upgrade(database.engine)
        assert await migrate.pending_diff(database.engine) == []
    finally:
        await database.dispose()


async def test_upgrade_downgrade_upgrade_on_a_fresh_database(tmp_path: Path, empty_database_url: str):
    database = Database(make_settings(tmp_path, empty_database_url))

    async def tables() -> set[str]:
        async with database.engine.connect() as conn:
            return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))

    try:
        await migrate.upgrade(database.engine)
        assert set(metadata.tables) <= await tables()
        await migrate.downgrade(database.engine)
        assert not (set(metadata.tables) & await tables())
        await migrate.upgrade(database.engine)
        assert set(metadata.tables) <= await tables()
    finally:
        await database.dispose()


async def test_processes_starting_together_migrate_once(tmp_path: Path, empty_database_url: str, backend):
    """Several servers starting at once on a fresh database all end at head, none fails."""
    if backend.name != "postgresql":
        pytest.skip("SQLite deployments are one machine; `serve` migrates before starting workers")
    databases = [Database(make_settings(tmp_path, empty_database_url)) for _ in range(4)]
    try:
        await asyncio.gather(*(migrate.upgrade(database.engine) for database in databases))
        assert await migrate.pending_diff(databases[0].engine) == []
    finally:
        for database in databases:
            await database.dispose()


async def test_0009_fills_the_step_workspace_from_the_execution_and_downgrades(database):
    """0009 on a database with data: every step takes its execution's workspace (NOT NULL), the inbox and lane
    indexes exist; its downgrade removes them and restores 0006's lane indexes; upgrading again refills it."""
    engine = database.engine

    async def shape() -> tuple[dict[str, Any], set[str], set[str]]:
        async with engine.connect() as conn:

            def read(c: Any) -> tuple[dict[str, Any], set[str], set[str]]:
                found = inspect(c)
                columns = {column["name"]: column for column in found.get_columns("execution_step")}
                step_indexes = {index["name"] for index in found.get_indexes("execution_step")}
                execution_indexes = {index["name"] for index in found.get_indexes("execution")}
                return columns, step_indexes, execution_indexes

            shaped: tuple[dict[str, Any], set[str], set[str]] = await conn.run_sync(read)
            return shaped

    columns, step_indexes, execution_indexes = await shape()
    assert columns["workspace_id"]["nullable"] is False
    assert "ix_execution_step_status_workspace_awaiting" in step_indexes
    assert {"ix_execution_lane_key_updated_run", "ix_execution_lane_status_updated_run"} <= execution_indexes

    await migrate.downgrade(database.engine, "0008")
    columns, step_indexes, execution_indexes = await shape()
    assert "workspace_id" not in columns
    assert "ix_execution_step_status_workspace_awaiting" not in step_indexes
    assert {"ix_execution_lane_key_updated", "ix_execution_lane_status_updated"} <= execution_indexes
    assert not {"ix_execution_lane_key_updated_run", "ix_execution_lane_status_updated_run"} & execution_indexes

    await migrate.upgrade(database.engine)
    columns, step_indexes, _ = await shape()
    assert columns["workspace_id"]["nullable"] is False
    async with engine.connect() as conn:
        pairs = (
            await conn.execute(
                select(step_table.c.workspace_id, execution_table.c.workspace_id).join_from(
                    step_table, execution_table, execution_table.c.id == step_table.c.execution_id
                )
            )
        ).all()
    assert pairs
    assert all(step == execution for step, execution in pairs)
    assert await migrate.pending_diff(engine) == []
    async with database.unit_of_work(write=False) as session:
        assert await check(session) == []
