"""aiosqlite with one thread hop per statement.

Stock aiosqlite under SQLAlchemy makes four trips to the driver's thread for each statement
(create cursor, execute, fetch, close). Each trip is a queue hand-off and an event-loop wake-up,
and on a busy machine those hand-offs, not SQLite, were most of a write's cost. This adapter runs
the whole statement — execute, fetch every row, close — in one trip. Everything else (pooling,
transactions, error translation) is SQLAlchemy's own aiosqlite dialect.

Fewer trips per transaction, with the same statements in the same order:

- A transaction's `BEGIN` rides along with its first statement (`begin_with_next_statement`): it is sent
  in the same trip, just before that statement, so a unit of work of one read costs two trips (`BEGIN` +
  the read, then `COMMIT`) instead of three. Nothing else runs on the connection in between, so the
  transaction starts exactly where it did before.
- A transaction that sends no statement never begins at all, and its commit or rollback makes no trip;
  nor does the pool's rollback of a connection returned after its transaction ended.
- A statement marked `DEFERRED` (its result is never read) waits for the next trip: the writes at the end
  of a decision (a vote, a decision row, the execution, the skipped steps, the events) go to the database
  together with the COMMIT, in one trip. SQLite runs them in the same order and the same transaction.
- A read marked `ALONE` that is the whole of its read-only unit of work goes without BEGIN and COMMIT.

Reads make no trip at all: a transaction begun `inline` (the read-only units of work, app/db/database.py) runs its
statements, its COMMIT and its ROLLBACK on the event loop's thread, synchronously. A trip cost 90-140 µs of CPU
here (a queue hand-off, a wake-up of the loop through its self-pipe) where SQLite answers a page of an indexed
read in tens of µs; and a read in WAL mode never waits for a lock (readers do not block writers nor writers
readers), so nothing can hold the loop but the statement's own work. Such a connection is `PRAGMA query_only`
while it reads, so a write in a read-only unit of work fails instead of taking the database's write lock on the
loop (the next other transaction turns that off again with its first statement). A writer's BEGIN IMMEDIATE, which may
wait for another process's write lock, and its COMMIT, which may checkpoint the WAL to disk, go to the driver's
thread; the statements in between run on the loop's thread too (`holds_write_lock`: the lock is taken, nothing is
left to wait for). A statement that holds the loop longer than INLINE_SLOW_SECONDS is logged.
"""

from __future__ import annotations

import collections
import logging
import sqlite3
import time
from typing import Any, cast

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    SQLiteDialect_aiosqlite,
)
from sqlalchemy.engine import URL
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

DRIVER = "aiosqlite_onehop"

DEFERRED = "sqlite_deferred"
"""Execution option (`statement.execution_options(sqlite_deferred=True)`): the statement's result is never read
(an INSERT or UPDATE without RETURNING whose rowcount nobody looks at), so on SQLite it waits and goes to the
database in the trip of the transaction's next statement or of its COMMIT, in order. An error it raises then
fails that later statement (or the commit), and the unit of work rolls back whole as it would have anyway.
Other dialects ignore the option."""

ALONE = "sqlite_alone"
"""Execution option: this read is the whole of its read-only unit of work. Sent as the transaction's first
statement, it goes without the pending BEGIN (a statement reads one consistent snapshot by itself), so that the
unit of work makes one trip instead of two (no COMMIT either); in any other place it runs as usual. A statement
after it in the same unit of work is refused (it would not share its snapshot)."""

THREADED = "sqlite_threaded"
"""Execution option: this statement runs in the driver's thread even where statements run on the event loop's
(a read, or a writer holding the lock): for statements known to take long, such as the bulk builder's multi-row
inserts, so that the loop goes on serving meanwhile."""

Deferred = list[tuple[str, Any, bool]]
"""(statement, parameters, executemany) waiting for the next trip."""

INLINE_SLOW_SECONDS = 0.05
"""A statement run on the event loop's thread for longer than this is logged (app.db.sqlite)."""

logger = logging.getLogger("app.db.sqlite")

_IMMEDIATE = "BEGIN IMMEDIATE"
_QUERY_ONLY = "PRAGMA query_only=ON"
_WRITABLE = "PRAGMA query_only=OFF"


def _statement(cursor: sqlite3.Cursor, operation: str, parameters: Any, many: bool) -> None:
    if many:
        cursor.executemany(operation, parameters)
    elif parameters is None:
        cursor.execute(operation)
    else:
        cursor.execute(operation, parameters)


Pending = tuple[str | None, str | None, Deferred | None]
"""What goes before the next statement: the PRAGMA that puts the connection in its transaction's mode (query-only
while it reads, writable otherwise) when it is not in it yet, the BEGIN, the deferred statements."""


def _prelude(conn: sqlite3.Connection, switch: str | None, begin: str | None, deferred: Deferred | None) -> None:
    """The mode switch, the pending BEGIN and the deferred statements, in the order they were sent."""
    if switch is not None:
        conn.execute(switch)
    if begin is not None:
        conn.execute(begin)
    if deferred:
        cursor = conn.cursor()
        try:
            for operation, parameters, many in deferred:
                _statement(cursor, operation, parameters, many)
        finally:
            cursor.close()


def _run(
    conn: sqlite3.Connection, pending: Pending, operation: str, parameters: Any, many: bool
) -> tuple[Any, list[Any], int, Any]:
    """Runs in the driver's thread: the pending `BEGIN` and deferred statements (if any), then the whole
    statement, in one go."""
    _prelude(conn, *pending)
    cursor = conn.cursor()
    try:
        _statement(cursor, operation, parameters, many)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


def _commit(conn: sqlite3.Connection, pending: Pending) -> None:
    _prelude(conn, *pending)
    conn.commit()


TRIPS = [0]
"""Trips to the driver's thread so far (statements, commits, rollbacks): what tests of round trips count."""

INLINE = [0]
"""Statements, commits and rollbacks run on the event loop's thread so far (no trip)."""


async def _nothing() -> None:
    return None


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ("_alone", "_arraysize", "_description", "_lastrowid", "_rowcount", "_threaded")

    def __init__(self, adapt_connection: Any) -> None:
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]  # no driver cursor is kept between statements
        self._soft_closed_memoized = EMPTY_DICT
        self._rows: collections.deque[Any] = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: Any = None
        self._arraysize = 1
        self._alone = False
        self._threaded = False

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> Any:
        return self._lastrowid

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    async def _async_soft_close(self) -> None:
        return None

    def close(self) -> None:
        self._rows.clear()

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        try:
            return await_(self._go(operation, parameters, many=False))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        try:
            return await_(self._go(operation, seq_of_parameters, many=True))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def defer(self, operation: str, parameters: Any, *, many: bool) -> None:
        """A statement whose result nobody reads (DEFERRED): sent with the next trip."""
        cast(OneHopConnection, self._adapt_connection).defer(operation, parameters, many=many)
        self._description, self._rowcount, self._lastrowid = None, -1, None
        self._rows = collections.deque()
        # SQLAlchemy's AsyncConnection.execute insists that a statement awaits something (a sync driver behind an
        # async engine would block the loop): hand it an await that does nothing.
        await_(_nothing())

    async def _go(self, operation: Any, parameters: Any, *, many: bool) -> None:
        connection, adapted = self._connection, cast(OneHopConnection, self._adapt_connection)
        alone, self._alone = self._alone, False
        threaded, self._threaded = self._threaded, False
        async with adapted._execute_mutex:
            pending = adapted.take_pending_for(alone=alone)
            if (adapted.inline or adapted.holds_write_lock) and not threaded:
                outcome = adapted.run_inline(_run, pending, operation, parameters, many, operation=operation)
            else:
                TRIPS[0] += 1
                outcome = await connection._execute(_run, connection._conn, pending, operation, parameters, many)
                adapted.holds_write_lock = adapted.holds_write_lock or pending[1] == _IMMEDIATE
        self._description, rows, self._rowcount, self._lastrowid = outcome
        self._rows = collections.deque(rows)


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("_alone_sent", "_deferred", "_pending_begin", "_query_only", "holds_write_lock", "inline")
    _cursor_cls = OneHopCursor

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self._pending_begin: str | None = None
        self._deferred: Deferred | None = None
        self._alone_sent = False
        self.inline = False
        """The open (or pending) transaction is read-only and runs on the event loop's thread."""
        self.holds_write_lock = False
        """The open transaction is a writer's whose BEGIN IMMEDIATE went through: its next statements run on the
        event loop's thread (nothing is left to wait for), its COMMIT in the driver's."""
        self._query_only = False

    def run_inline(self, work: Any, *args: Any, operation: str = "COMMIT") -> Any:
        """`work(sqlite3 connection, *args)` now, on this thread, timed (module docstring). `operation`: the
        statement, named in the log when it holds the loop long."""
        raw: sqlite3.Connection = self._connection._conn
        INLINE[0] += 1
        started = time.perf_counter()
        try:
            return work(raw, *args)
        finally:
            held = time.perf_counter() - started
            if held > INLINE_SLOW_SECONDS:
                logger.warning(
                    "a statement held the event loop for %.0f ms: %.160s", held * 1000, " ".join(operation.split())
                )

    def take_pending_for(self, *, alone: bool) -> Pending:
        """What goes before the next statement; nothing for an ALONE read opening a read-only transaction."""
        if alone and self._pending_begin == "BEGIN" and not self._deferred:
            self._alone_sent = True
            return self._mode_switch(), None, None
        if self._alone_sent:
            raise RuntimeError("a statement followed a read marked as its unit of work's only one (ALONE)")
        return self.take_pending()

    def begin_with_next_statement(self, statement: str, *, inline: bool = False) -> None:
        """`statement` (`BEGIN`, `BEGIN IMMEDIATE`) is sent in the trip of the next statement; `inline`: a
        read-only transaction (`BEGIN`), run on the event loop's thread (module docstring)."""
        if inline and statement != "BEGIN":
            raise ValueError(f"only a read-only transaction runs inline, not {statement!r}")
        self._pending_begin = statement
        self.inline = inline
        self.holds_write_lock = False

    def defer(self, operation: str, parameters: Any, *, many: bool) -> None:
        if self._deferred is None:
            self._deferred = []
        self._deferred.append((operation, parameters, many))

    def take_pending(self) -> Pending:
        begin, deferred = self._pending_begin, self._deferred
        self._pending_begin = self._deferred = None
        return self._mode_switch(), begin, deferred

    def _mode_switch(self) -> str | None:
        """The PRAGMA that puts the connection in its transaction's mode (query-only while it reads: a write in a
        read-only unit of work fails instead of taking the write lock), None when it is in it; sent with what goes
        next, whichever thread runs it."""
        if self._query_only == self.inline:
            return None
        self._query_only = self.inline
        return _QUERY_ONLY if self.inline else _WRITABLE

    def _unsent(self, switch: str | None) -> None:
        """`switch` was taken but never reached the database: the connection is still in its former mode."""
        if switch is not None:
            self._query_only = not self._query_only

    def _in_transaction(self) -> bool:
        """SQLite has a transaction open (`in_transaction` only reads its autocommit flag; no statement is in
        flight on this connection while SQLAlchemy commits or rolls back)."""
        raw = self._connection._connection
        return raw is not None and raw.in_transaction

    def commit(self) -> None:
        self._alone_sent = False
        inline = self.inline
        switch, begin, deferred = pending = self.take_pending()
        self.inline = self.holds_write_lock = False
        if not deferred and (begin is not None or not self._in_transaction()):
            self._unsent(switch)
            return  # nothing was sent, or nothing is open: a COMMIT would do nothing
        try:
            if inline:
                self.run_inline(_commit, pending)
                return
            TRIPS[0] += 1
            await_(self._connection._execute(_commit, self._connection._conn, pending))
        except Exception as error:
            self._handle_exception(error)

    def rollback(self) -> None:
        self._alone_sent = False
        inline = self.inline
        switch, begin, _ = self.take_pending()  # deferred statements never reach the database
        self.inline = self.holds_write_lock = False
        self._unsent(switch)
        if begin is None and self._in_transaction():
            if inline:
                try:
                    self.run_inline(sqlite3.Connection.rollback, operation="ROLLBACK")
                except Exception as error:
                    self._handle_exception(error)
                return
            TRIPS[0] += 1
            super().rollback()


class OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> OneHopConnection:
        connection = self.aiosqlite.connect(*arg, **kw)
        connection._thread.daemon = True
        return OneHopConnection(self, await_(connection))


class OneHopSQLiteDialect(SQLiteDialect_aiosqlite):
    supports_statement_cache = True

    def do_execute(self, cursor: Any, statement: str, parameters: Any, context: Any = None) -> None:
        if context is not None and isinstance(cursor, OneHopCursor):
            options = context.execution_options
            if options.get(DEFERRED):
                cursor.defer(statement, parameters, many=False)
                return
            cursor._alone = bool(options.get(ALONE))
            cursor._threaded = bool(options.get(THREADED))
        super().do_execute(cursor, statement, parameters, context)  # type: ignore[no-untyped-call]

    def do_executemany(self, cursor: Any, statement: str, parameters: Any, context: Any = None) -> None:
        if context is not None and isinstance(cursor, OneHopCursor):
            if context.execution_options.get(DEFERRED):
                cursor.defer(statement, parameters, many=True)
                return
            cursor._threaded = bool(context.execution_options.get(THREADED))
        super().do_executemany(cursor, statement, parameters, context)  # type: ignore[no-untyped-call]

    @classmethod
    def import_dbapi(cls) -> OneHopDBAPI:
        return OneHopDBAPI(__import__("aiosqlite"), __import__("sqlite3"))


def one_hop(url: URL) -> URL:
    """`sqlite+aiosqlite://...` served by this adapter (registered on first use, not at import)."""
    registry.register(f"sqlite.{DRIVER}", __name__, "OneHopSQLiteDialect")
    return url.set(drivername=f"sqlite+{DRIVER}") if url.drivername == "sqlite+aiosqlite" else url
