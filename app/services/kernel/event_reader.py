"""Reading the event log in its order, from a cursor: the one way the `events` query, subscriptions and
webhook delivery read it.

A reader that pages with the cursor of the last event it saw gets every event exactly once and never
skips one that commits later: `read_after` returns only events no transaction still in flight can
precede (app/services/kernel/event_log.py explains how positions are taken so that this holds).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, func, literal_column, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth import Principal
from app.db.tables import event_table as event_t
from app.errors import BadUserInput
from app.services.kernel.event_log import POSITIONS_PER_TRANSACTION
from app.services.kernel.grants import in_grants

# PostgreSQL: below this position every event is committed (or rolled back), and none can still appear:
# it is where the oldest transaction still in flight that could write this database's log would put its
# first event (event_log.py). That is the oldest transaction id in the reader's snapshot that is still in
# progress (`pg_snapshot_xip`), leaving out those known to belong to sessions of *other* databases: a
# session is connected to one database for its life, so such a transaction can never append here, and a
# long one elsewhere in the cluster (a migration, a bulk load) does not hold this log's readers back, as
# `pg_snapshot_xmin` alone would. Leaving one out only on positive knowledge keeps it safe whatever the
# timing: a transaction whose session `pg_stat_activity` does not show (yet, or any more) still counts.
# With none in progress, the snapshot's xmax (the next id to be assigned); the reader's own transaction
# counts too when it has an id (its events are not committed while it reads).
_HORIZON = (
    literal_column(
        """(SELECT LEAST(
        COALESCE(MIN(running.xid), pg_snapshot_xmax(pg_current_snapshot())),
        COALESCE(pg_current_xact_id_if_assigned(), pg_snapshot_xmax(pg_current_snapshot()))
    )::text::bigint
    FROM pg_snapshot_xip(pg_current_snapshot()) AS running(xid)
    WHERE xid(running.xid) NOT IN (
        SELECT other.backend_xid FROM pg_stat_activity AS other
        WHERE other.backend_xid IS NOT NULL AND other.datname IS DISTINCT FROM current_database()
    ))""",
        BigInteger,
    )
    * POSITIONS_PER_TRANSACTION
)


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    cursor: str
    position: int
    key: str
    version: str
    workspace_id: str | None
    execution_id: str | None
    run_id: str | None
    step_id: str | None
    actor: str | None
    stream_version: int | None
    occurred_at: datetime
    payload: dict[str, Any]


def cursor_of(position: int) -> str:
    return str(position)


def position_of(cursor: str | None) -> int:
    """The position a cursor resumes after (0: the start of the log); BAD_USER_INPUT when malformed."""
    if cursor is None:
        return 0
    head = cursor.split(".", 1)[0]
    if not head.isdigit():
        raise BadUserInput(f"Invalid input: after: {cursor!r} is not a cursor of this log.", {"after": "not a cursor"})
    return int(head)


def visible_to(principal: Principal | None) -> ColumnElement[bool]:
    """Events of the principal's workspaces; events of no execution (the skill registry's) need `*`."""
    if principal is not None and principal.all_workspaces:
        return true()
    return in_grants(principal, event_t.c.workspace_id)


async def head_cursor(session: AsyncConnection) -> str:
    """The cursor of the newest event a reader can see now: following from here, nothing committed later is
    missed (on PostgreSQL, the newest position below the visibility horizon, not the newest inserted)."""
    statement = select(func.max(event_t.c.sequence))
    if session.dialect.name == "postgresql":
        statement = statement.where(event_t.c.sequence < _HORIZON)
    position = (await session.execute(statement)).scalar_one_or_none()
    return cursor_of(position or 0)


async def read_after(  # noqa: PLR0913 - the reader and its filters, all by keyword
    session: AsyncConnection,
    *,
    principal: Principal | None,
    after: str | None,
    limit: int,
    workspace_id: str | None = None,
    execution_id: str | None = None,
    event_keys: Sequence[str] | None = None,
) -> list[LoggedEvent]:
    """At most `limit` events after the cursor `after`, in the log's order."""
    filters: list[ColumnElement[bool]] = [event_t.c.sequence > position_of(after), visible_to(principal)]
    if session.dialect.name == "postgresql":
        filters.append(event_t.c.sequence < _HORIZON)
    if workspace_id is not None:
        filters.append(event_t.c.workspace_id == workspace_id)
    if execution_id is not None:
        filters.append(event_t.c.execution_id == execution_id)
    if event_keys:
        filters.append(event_t.c.event_key.in_(list(event_keys)))
    rows = await session.execute(select(event_t).where(*filters).order_by(event_t.c.sequence).limit(limit))
    return [
        LoggedEvent(
            cursor=cursor_of(row.sequence),
            position=row.sequence,
            key=row.event_key,
            version=row.event_version,
            workspace_id=row.workspace_id,
            execution_id=row.execution_id,
            run_id=row.run_id,
            step_id=row.step_id,
            actor=row.actor,
            stream_version=row.stream_version,
            occurred_at=row.occurred_at,
            payload=row.payload,
        )
        for row in rows
    ]


async def end_cursor(session: AsyncConnection) -> str | None:
    """`head_cursor`, None when no event is visible yet: a reader that starts after it reads only what
    commits from now on (a webhook endpoint starts there)."""
    head = await head_cursor(session)
    return None if head == cursor_of(0) else head
