"""Alembic migrations own the schema; the server and `python -m app migrate` upgrade to head."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.tables import metadata

MIGRATIONS = Path(__file__).parent / "migrations"
MIGRATION_LOCK_KEY = 0x6370_6D69_6772  # "cpmigr": any constant shared by every server process


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


async def _run(engine: AsyncEngine, action: Any, *args: Any) -> None:
    config = alembic_config()

    def run(sync_connection: Any) -> None:
        config.attributes["connection"] = sync_connection
        action(config, *args)

    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Several processes may start at once on a fresh database: one migrates, the others wait
            # and then find the schema at head (the lock ends with the transaction).
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        await conn.run_sync(run)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    await _run(engine, command.upgrade, revision)


async def downgrade(engine: AsyncEngine, revision: str = "base") -> None:
    await _run(engine, command.downgrade, revision)


async def revision(engine: AsyncEngine, message: str) -> None:
    """Autogenerate a new revision from the difference between the tables and the database."""
    await _run(engine, lambda cfg, msg: command.revision(cfg, message=msg, autogenerate=True), message)


async def pending_diff(engine: AsyncEngine) -> list[Any]:
    """What autogenerate would write: empty when tables and migrations agree."""

    def diff(sync_connection: Any) -> list[Any]:
        context = MigrationContext.configure(sync_connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    async with engine.connect() as conn:
        return await conn.run_sync(diff)
