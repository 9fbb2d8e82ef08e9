import asyncio
from pathlib import Path

import pytest
from sqlalchemy import inspect

from app.db import migrate
from app.db.database import Database
from app.db.tables import metadata
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
