"""The async engine and the unit of work: one connection and its transaction per operation."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from app.db.sqlite_driver import OneHopConnection, one_hop
from app.settings import Settings

SQLITE_READ_ONLY = "sqlite_read_only"
"""Execution option of the read-only units of work on SQLite: their transactions run on the event loop's thread,
query-only (app/db/sqlite_driver.py)."""


def _sqlite_file(url: str) -> Path | None:
    database = make_url(url).database
    return Path(database) if database and database != ":memory:" else None


EVENTS_CHANNEL = "control_plane_events"
"""The PostgreSQL NOTIFY channel a transaction that appended events notifies at commit (a wake-up only:
listeners read the log itself; app/db/listener.py)."""
_EVENTS_WRITTEN = "control_plane_events_written"
_EVENTS_NOTIFIED = "control_plane_events_notified"
NOTIFY_SQL = f"pg_notify('{EVENTS_CHANNEL}', '')"
"""The wake-up itself: a statement that appends events may call it (app/services/kernel/event_log.py does, so a
decision needs no separate NOTIFY round trip); a transaction that appended events without it gets
`SELECT pg_notify(...)` before its commit. Either way it is delivered when, and only if, the transaction commits."""
_NOTIFY = text(f"SELECT {NOTIFY_SQL}")


def _watch_event_writes(engine: AsyncEngine) -> None:
    """Marks the connection of a transaction that inserts into the event log (whatever statement the event
    log uses to append), so that its unit of work can wake the log's readers when it commits."""

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _on_execute(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "INSERT INTO execution_event" in statement:
            conn.info[_EVENTS_WRITTEN] = True
            if NOTIFY_SQL in statement:
                conn.info[_EVENTS_NOTIFIED] = True

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.info.pop(_EVENTS_WRITTEN, None)
        conn.info.pop(_EVENTS_NOTIFIED, None)


PING_AFTER_IDLE_SECONDS = 1.0
"""A pooled PostgreSQL connection idle for longer than this is pinged before it is handed out."""
_CHECKED_IN = "control_plane_checked_in"


def _ping_idle_connections(engine: AsyncEngine) -> None:
    """SQLAlchemy's `pool_pre_ping`, for connections that sat in the pool: asyncpg's ping is three round trips
    (BEGIN, `;`, ROLLBACK), paid on every checkout, i.e. on every unit of work; a reject opens two. A connection
    returned a moment ago by a request that used it is as alive as a ping would find it (a connection can die
    between a ping and its use either way, and a broken one is invalidated by SQLAlchemy when it fails), so only
    one idle for over PING_AFTER_IDLE_SECONDS is pinged. A failed ping raises DisconnectionError, on which the pool
    discards the connection and checks out another (as pre-ping does)."""
    dialect = engine.dialect

    @event.listens_for(engine.sync_engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info[_CHECKED_IN] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        checked_in = record.info.get(_CHECKED_IN)
        if checked_in is None or time.monotonic() - checked_in <= PING_AFTER_IDLE_SECONDS:
            return  # just connected (pre-ping skips those too), or back from a request a moment ago
        try:
            alive = dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise DisconnectionError(f"the pooled connection failed its ping: {error}") from error
        if alive is False:
            raise DisconnectionError("the pooled connection failed its ping")


def create_engine(settings: Settings) -> AsyncEngine:
    url = settings.resolved_database_url
    if not settings.is_sqlite:
        engine = create_async_engine(
            url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout,
            connect_args={
                "timeout": settings.db_connect_timeout,
                "server_settings": {
                    "application_name": "control-plane",
                    "statement_timeout": str(settings.db_statement_timeout_ms),
                },
            },
        )
        _ping_idle_connections(engine)
        return engine
    path = _sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(
        one_hop(make_url(url)),
        pool_size=settings.db_pool_size,
        max_overflow=0,
        pool_timeout=settings.db_pool_timeout,
        # The read-only transactions run on the event loop's thread, the others in aiosqlite's (sqlite_driver).
        connect_args={"timeout": settings.sqlite_busy_timeout_ms / 1000, "check_same_thread": False},
    )
    busy = settings.sqlite_busy_timeout_ms

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so that BEGIN is ours (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy)}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers take the database lock up front: a deferred transaction that reads and then
        # writes could fail with SQLITE_BUSY instead of waiting when another process writes.
        # The BEGIN goes to the database in the same trip as the transaction's first statement
        # (app/db/sqlite_driver.py); any other driver gets it now.
        options = conn.get_execution_options()
        immediate = options.get("sqlite_immediate", False)
        begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"
        dbapi_connection = conn.connection.dbapi_connection
        if isinstance(dbapi_connection, OneHopConnection):
            dbapi_connection.begin_with_next_statement(begin, inline=options.get(SQLITE_READ_ONLY, False))
        else:
            conn.exec_driver_sql(begin)

    return engine


async def read_alone(connection: AsyncConnection) -> None:
    """The next statement is the whole of this read-only unit of work (and it is marked `sqlite_driver.ALONE`): it
    is sent without BEGIN and COMMIT, since one statement reads one consistent snapshot by itself. On PostgreSQL
    that is an autocommit connection (asyncpg then sends the statement alone: one round trip instead of three); on
    SQLite the driver sees the mark. Call it before the unit of work's first statement; in a writer it does nothing."""
    if (
        connection.dialect.name == "postgresql"
        and connection.sync_connection is not None
        and connection.sync_connection.get_execution_options().get("postgresql_readonly")
        and not connection.in_transaction()
    ):
        await connection.execution_options(isolation_level="AUTOCOMMIT")


class Database:
    """Owns the engine; hands out units of work.

    SQLite has a single writer. Writes are serialized inside the process with one FIFO lock so
    that concurrent requests queue in order instead of failing with "database is locked" or
    spinning in the busy handler. PostgreSQL needs no such lock: correctness never relies on it.
    """

    def __init__(self, settings: Settings, engine: AsyncEngine | None = None) -> None:
        self.settings = settings
        self.engine = engine or create_engine(settings)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        # A read unit of work sees one snapshot across its statements (REPEATABLE READ on PostgreSQL; SQLite's
        # read transaction already does): a precheck that reads the execution, then its steps, must not see
        # a command that committed in between only halfway (the execution before it, the steps after it).
        read_engine = (
            self.engine.execution_options(**{SQLITE_READ_ONLY: True})
            if self.engine.dialect.name == "sqlite"
            else self.engine.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        )
        self._read_engine = read_engine
        write_engine = self.engine.execution_options(sqlite_immediate=True) if self.is_sqlite else self.engine
        self._write_engine = write_engine
        self._write_lock: asyncio.Lock | None = None
        self._commit_listeners: list[Callable[[], None]] = []
        _watch_event_writes(self.engine)

    def on_events_committed(self, listener: Callable[[], None]) -> None:
        """Call `listener` (in this process, right after the commit) whenever a write unit of work that
        appended events commits. On PostgreSQL such a transaction also NOTIFYs EVENTS_CHANNEL, which other
        processes LISTEN to (app/db/listener.py)."""
        self._commit_listeners.append(listener)

    def _wrote_events(self, connection: AsyncConnection) -> bool:
        if not self._commit_listeners:
            return False
        return bool(connection.info.pop(_EVENTS_WRITTEN, False))

    @staticmethod
    def _notified(connection: AsyncConnection) -> bool:
        """The statement that appended the events already called pg_notify."""
        return bool(connection.info.pop(_EVENTS_NOTIFIED, False))

    def _committed(self) -> None:
        for listener in self._commit_listeners:
            listener()

    def _lock(self) -> asyncio.Lock:
        if self._write_lock is None:
            self._write_lock = asyncio.Lock()
        return self._write_lock

    @asynccontextmanager
    async def unit_of_work(self, *, write: bool) -> AsyncIterator[AsyncConnection]:
        """One pooled connection and its transaction: commits when the block ends normally, rolls back whole on any
        exception. A connection, not an ORM session: the services send Core statements only, and the session's own
        bookkeeping around each statement and commit was a tenth of a small read's server time."""
        if not write and self.is_sqlite:
            # Without `async with`: SQLAlchemy's context manager closes the connection in a shielded task (an extra
            # turn of the event loop, a fifth of a small read's CPU). Nothing in a read-only SQLite unit of work
            # waits on the loop (sqlite_driver runs it on the loop's thread), so the close cannot be interrupted.
            # The close rolls back the read transaction: it wrote nothing, so that is its commit.
            connection = await self._read_engine.connect()
            try:
                yield connection
            finally:
                await connection.close()
            return
        if not write:
            async with self._read_engine.connect() as connection:
                yield connection  # the transaction begins with the first statement (read_alone: none at all)
                if connection.in_transaction():
                    await connection.commit()
            return
        if self.is_sqlite:
            async with self._lock(), self._write_engine.connect() as connection, connection.begin():
                yield connection
                wrote = self._wrote_events(connection)
        else:
            async with self._write_engine.connect() as connection, connection.begin():
                yield connection
                wrote = self._wrote_events(connection)
                if wrote and not self._notified(connection):
                    await connection.execute(_NOTIFY)  # delivered to every LISTENer when (and only if) this commits
        if wrote:
            self._committed()

    async def ping(self) -> bool:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True

    async def dispose(self) -> None:
        await self.engine.dispose()
