"""Live delivery from the event log: one follower per server process, fanned out to every subscription.

The log stays the source of truth; notifications are only wake-ups. After a write unit of work commits,
this process wakes the feed (`LogFeed.wake`: app/db/database.py calls it on SQLite and PostgreSQL); with
PostgreSQL, a commit on another server process wakes it through LISTEN/NOTIFY (app/db/listener.py), and
the feed also polls every `poll_interval` seconds, so nothing depends on a notification arriving.

When woken, the feed reads what follows its cursor with `read_after` (the one reader of the log, so the
commit-order guarantees of app/services/kernel/event_reader.py hold here too) and hands each batch to the
inbox of every subscription. One statement per wake-up, whatever the number of subscribers. A subscription
applies its caller's grants and filters to the batch in memory (`reaches`, the rule of `visible_to`), and
reads the log itself (again with `read_after`, grants in SQL) only to replay: from its cursor when it
starts, and after its inbox overflowed (a subscriber that fell far behind costs a re-read, never memory).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth import Principal
from app.contracts.model import UnitOfWorkFactory
from app.services.kernel.event_reader import LoggedEvent, head_cursor, position_of, read_after

logger = logging.getLogger("app.live")

FEED_PRINCIPAL = Principal("system:live-feed", frozenset(), all_workspaces=True)
"""Who the feed reads as: every workspace. Each subscription then keeps only what its caller may see."""

READ_PAGE = 500


def reaches(principal: Principal | None, workspace_id: str | None) -> bool:
    """The rule of `event_reader.visible_to`, for one event in memory: events of the principal's workspaces;
    events of no execution (the skill registry's) need `*`."""
    if principal is None:
        return False
    if principal.all_workspaces:
        return True
    return workspace_id is not None and workspace_id in principal.workspaces


@dataclass(frozen=True, slots=True)
class Batch:
    """Events the feed read in one go, in the log's order; `number` identifies it within this process."""

    number: int
    events: tuple[LoggedEvent, ...]

    @property
    def cursor(self) -> str:
        return self.events[-1].cursor


Preparer = Callable[[Batch], Awaitable[None]]
"""Work done once per batch, before any subscription sees it (a stream's shared reads: `LogFeed.prepare`)."""

OVERFLOW = None
"""What `Inbox.next` returns after batches were dropped: re-read the log from your own cursor."""


class Inbox:
    """One subscription's share of the feed: the batches read after it joined, at most `limit` events."""

    __slots__ = ("_batches", "_feed", "_held", "_limit", "_overflowed", "_waiter", "start")

    def __init__(self, feed: LogFeed, limit: int, start: str) -> None:
        self._feed = feed
        self._limit = limit
        self._batches: deque[Batch] = deque()
        self._held = 0
        self._overflowed = False
        self._waiter: asyncio.Future[None] | None = None
        """The reader's wake-up while it waits (a bare future, made only then: no Event per idle inbox)."""
        self.start = start
        """The feed's cursor when this inbox joined: every later event comes through it."""

    def put(self, batch: Batch) -> None:
        if self._held + len(batch.events) > self._limit:
            # Too far behind: drop what is held (memory stays bounded) and have the reader re-read the log.
            self._batches.clear()
            self._held = 0
            self._overflowed = True
        else:
            self._batches.append(batch)
            self._held += len(batch.events)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def next(self) -> Batch | None:
        """The next batch, waiting for one; OVERFLOW (None) once after batches were dropped."""
        while True:
            if self._overflowed:
                self._overflowed = False
                return OVERFLOW
            if self._batches:
                batch = self._batches.popleft()
                self._held -= len(batch.events)
                return batch
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    def close(self) -> None:
        self._feed.leave(self)


class LogFeed:
    """The follower of the log of one server process (see the module docstring)."""

    def __init__(
        self,
        uow: UnitOfWorkFactory[AsyncConnection],
        *,
        poll_interval: float = 1.0,
        inbox_limit: int = 10_000,
    ) -> None:
        self._uow = uow
        self.poll_interval = poll_interval
        self.inbox_limit = inbox_limit
        self._inboxes: set[Inbox] = set()
        self._cursor: str | None = None
        self._woken = asyncio.Event()
        self._lock = asyncio.Lock()
        self._batches = 0
        self._preparers: list[Preparer] = []
        self.reads = 0
        """Statements the feed ran (for tests and benchmarks: one per wake-up with news, whatever the fan-out)."""

    @property
    def cursor(self) -> str | None:
        """Where the feed has read to (None while nobody follows)."""
        return self._cursor

    @property
    def subscribers(self) -> int:
        return len(self._inboxes)

    @property
    def uow(self) -> UnitOfWorkFactory[AsyncConnection]:
        return self._uow

    def prepare(self, preparer: Preparer) -> None:
        """Have `preparer` run for every batch, awaited by the feed before the batch reaches any inbox.

        What every subscription of a kind would otherwise wait for on its own (the approval queue's load of the
        touched executions) is then ready when each of them wakes: a thousand subscribers cost one read and no
        thousand waits. A preparer that fails leaves the feed's cursor where it was: the batch is read again."""
        self._preparers.append(preparer)

    def wake(self) -> None:
        """Something may have been committed: read the log soon. Cheap, idempotent, callable any time."""
        self._woken.set()

    async def join(self, limit: int | None = None) -> Inbox:
        """A new inbox, caught up first: its `start` is the log as committed now (an event that commits
        afterwards comes through the inbox)."""
        async with self._lock:
            if self._cursor is None:
                self._cursor = await self._head()
            await self._read_locked()
            # The last other follower may have left while this one caught up (`leave` forgets the cursor):
            # start from the head again. No await between the check and the add, so it cannot happen twice.
            while self._cursor is None:
                self._cursor = await self._head()
            inbox = Inbox(self, limit or self.inbox_limit, self._cursor)
            self._inboxes.add(inbox)
        self.wake()
        return inbox

    def leave(self, inbox: Inbox) -> None:
        self._inboxes.discard(inbox)
        if not self._inboxes:
            # Nobody follows: stop reading. The next subscriber starts from the log's head again.
            self._cursor = None

    async def run(self) -> None:
        """The feed's task: wait for a wake-up (or the poll interval), read, fan out; forever."""
        while True:
            if self._inboxes:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._woken.wait(), self.poll_interval)
            else:
                await self._woken.wait()
            self._woken.clear()
            if not self._inboxes:
                continue
            try:
                async with self._lock:
                    await self._read_locked()
            except Exception:  # the database may be away for a moment; the next poll tries again
                logger.exception("the live feed could not read the event log; retrying")
                await asyncio.sleep(self.poll_interval)

    async def _read_locked(self) -> None:
        while self._cursor is not None and self._inboxes:
            async with self._uow(write=False) as session:
                events = await read_after(session, principal=FEED_PRINCIPAL, after=self._cursor, limit=READ_PAGE)
            self.reads += 1
            if not events:
                return
            self._batches += 1
            batch = Batch(self._batches, tuple(events))
            for preparer in self._preparers:
                await preparer(batch)
            self._cursor = batch.cursor
            for inbox in list(self._inboxes):
                inbox.put(batch)
            if len(events) < READ_PAGE:
                return

    async def _head(self) -> str:
        """Where a feed nobody followed yet starts: the newest event `read_after` can return now."""
        async with self._uow(write=False) as session:
            return await head_cursor(session)


async def replay(
    uow: UnitOfWorkFactory[AsyncConnection],
    *,
    principal: Principal | None,
    after: str,
    workspace_id: str | None = None,
    execution_id: str | None = None,
    event_keys: Sequence[str] | None = None,
) -> AsyncIterator[LoggedEvent]:
    """Every event after `after` that the caller may see and the filters keep, page by page, to the end of
    what is committed now (grants in SQL, by `read_after`); a short unit of work per page."""
    cursor = after
    while True:
        async with uow(write=False) as session:
            page = await read_after(
                session,
                principal=principal,
                after=cursor,
                limit=READ_PAGE,
                workspace_id=workspace_id,
                execution_id=execution_id,
                event_keys=event_keys,
            )
        for event in page:
            yield event
        if len(page) < READ_PAGE:
            return
        cursor = page[-1].cursor


def later_than(cursor: str) -> Callable[[LoggedEvent], bool]:
    """A test for events after `cursor` (by position)."""
    position = position_of(cursor)
    return lambda event: event.position > position
