"""SQLite: read-only units of work, and a writer's statements between its BEGIN IMMEDIATE and its COMMIT, run on
the event loop's thread (app/db/sqlite_driver.py). What keeps that safe: a read never waits for a writer, a write
in a read-only unit of work is refused and changes nothing, the connection is writable again for the next writer,
and a statement that holds the loop long is logged."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from app.db import sqlite_driver
from app.db.database import Database
from tests.conftest import snapshot


@pytest.fixture
def sqlite_database(database: Database) -> Database:
    if not database.is_sqlite:
        pytest.skip("SQLite's driver thread: PostgreSQL's driver has none")
    return database


def _file(database: Database) -> Path:
    name = database.engine.url.database
    assert name is not None
    return Path(name)


async def test_a_read_makes_no_trip_to_the_driver_thread(sqlite_database):
    async with sqlite_database.unit_of_work(write=False) as session:  # the pool's connection, opened in a trip
        await session.execute(text("SELECT 1"))
    trips, inline = sqlite_driver.TRIPS[0], sqlite_driver.INLINE[0]
    async with sqlite_database.unit_of_work(write=False) as session:
        executions = (await session.execute(text("SELECT count(*) FROM execution"))).scalar_one()
        steps = (await session.execute(text("SELECT count(*) FROM execution_step"))).scalar_one()
    assert executions > 0
    assert steps > 0
    assert sqlite_driver.TRIPS[0] == trips
    assert sqlite_driver.INLINE[0] - inline == 3  # BEGIN + the first read, the second read, the closing ROLLBACK


async def _failing_unit(database: Database, statement: str, *, write: bool) -> None:
    async with database.unit_of_work(write=write) as session:
        await session.execute(text(statement))
        _ = 1 / 0


async def test_a_unit_of_work_gives_its_connection_back_however_it_ends(database):
    """Read-only units of work on SQLite close their connection without SQLAlchemy's shielded task, the others
    through it (app/db/database.py): whether a unit ends normally, fails, or its task is cancelled inside, the pool
    gets the connection back, rolled back (on both databases)."""
    pool = database.engine.pool
    before = pool.checkedout()
    for write in (False, True):
        async with database.unit_of_work(write=write) as session:
            await session.execute(text("SELECT count(*) FROM execution"))
        with pytest.raises(ZeroDivisionError):
            await _failing_unit(database, "SELECT 1", write=write)
        entered = asyncio.Event()

        async def held(write: bool = write, entered: asyncio.Event = entered) -> None:
            async with database.unit_of_work(write=write) as session:
                await session.execute(text("SELECT 1"))
                entered.set()
                await asyncio.sleep(60)

        task = asyncio.create_task(held())
        await entered.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert pool.checkedout() == before, write
    before_write = await snapshot(database)
    with pytest.raises(ZeroDivisionError):
        await _failing_unit(database, "UPDATE execution SET status = 'cancelled'", write=True)
    assert await snapshot(database) == before_write


async def test_a_write_in_a_read_only_unit_of_work_is_refused_and_changes_nothing(sqlite_database):
    before = await snapshot(sqlite_database)
    with pytest.raises(OperationalError, match="readonly"):
        async with sqlite_database.unit_of_work(write=False) as session:
            await session.execute(text("UPDATE execution SET status = 'cancelled'"))
    assert await snapshot(sqlite_database) == before

    # Every pooled connection served that read or others: writers still write through any of them.
    for _ in range(sqlite_database.settings.db_pool_size + 1):
        async with sqlite_database.unit_of_work(write=True) as session:
            await session.execute(text("UPDATE execution SET updated_at = updated_at WHERE id = 'none'"))
    async with sqlite_database.engine.begin() as connection:  # a plain transaction (migrations, the CLI) too
        await connection.execute(text("ANALYZE"))


async def test_a_read_does_not_wait_for_another_process_writing(sqlite_database):
    """Another connection holds the write lock (as another process would) with uncommitted changes: a read
    on the loop's thread neither waits nor sees them; a writer here waits for the lock in the driver's thread,
    so the loop goes on meanwhile."""
    count = text("SELECT count(*) FROM execution WHERE status = 'cancelled'")
    async with sqlite_database.unit_of_work(write=False) as session:
        cancelled_before = (await session.execute(count)).scalar_one()
    outside = sqlite3.connect(_file(sqlite_database), isolation_level=None, check_same_thread=False)
    try:
        outside.execute("BEGIN IMMEDIATE")
        outside.execute("UPDATE execution SET status = 'cancelled'")
        async with sqlite_database.unit_of_work(write=False) as session:
            cancelled = (await session.execute(count)).scalar_one()
        assert cancelled == cancelled_before

        async def write() -> None:
            async with sqlite_database.unit_of_work(write=True) as session:
                await session.execute(text("UPDATE execution SET updated_at = updated_at WHERE id = 'none'"))

        writer = asyncio.create_task(write())
        ticks = 0
        while ticks < 20:  # the loop runs while the writer waits for the lock in the driver's thread
            await asyncio.sleep(0.005)
            ticks += 1
        assert not writer.done()
        outside.execute("ROLLBACK")
        await asyncio.wait_for(writer, 5)
    finally:
        outside.close()


async def test_a_statement_that_holds_the_loop_long_is_logged(sqlite_database, monkeypatch, caplog):
    monkeypatch.setattr(sqlite_driver, "INLINE_SLOW_SECONDS", 0.0)
    caplog.set_level("WARNING", logger="app.db.sqlite")
    async with sqlite_database.unit_of_work(write=False) as session:
        await session.execute(text("SELECT count(*) FROM execution_event"))
    assert "held the event loop for" in caplog.text
    assert "SELECT count(*) FROM execution_event" in caplog.text  # the statement, named


async def test_a_statement_marked_threaded_goes_to_the_driver_thread(sqlite_database):
    async with sqlite_database.unit_of_work(write=True) as session:  # the pool's connection, opened in a trip
        await session.execute(text("SELECT 1"))
    trips, inline = sqlite_driver.TRIPS[0], sqlite_driver.INLINE[0]
    async with sqlite_database.unit_of_work(write=True) as session:
        await session.execute(text("SELECT count(*) FROM execution"))  # BEGIN IMMEDIATE with it: a trip
        await session.execute(text("SELECT count(*) FROM execution_step"))  # the lock is held: the loop's thread
        await session.execute(
            text("SELECT count(*) FROM execution_event"), execution_options={sqlite_driver.THREADED: True}
        )
        await session.execute(text("SELECT count(*) FROM execution_run"))  # the lock is still held
    # BEGIN IMMEDIATE + the first, the threaded one, COMMIT; the second and fourth ran on the loop's thread
    assert (sqlite_driver.TRIPS[0] - trips, sqlite_driver.INLINE[0] - inline) == (3, 2)


async def test_a_threaded_write_in_a_read_only_unit_of_work_is_refused_too(sqlite_database):
    before = await snapshot(sqlite_database)
    with pytest.raises(OperationalError, match="readonly"):
        async with sqlite_database.unit_of_work(write=False) as session:
            await session.execute(
                text("UPDATE execution SET status = 'cancelled'"), execution_options={sqlite_driver.THREADED: True}
            )
    assert await snapshot(sqlite_database) == before
