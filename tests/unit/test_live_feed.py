"""The live feed's join when the last other follower leaves meanwhile (found by the console's browser
test: an inbox that changed its filters completed its old subscription while the new one joined, and
the new one's snapshot failed on a start cursor of None)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from app.services.kernel import live
from app.services.kernel.event_reader import LoggedEvent
from app.services.kernel.live import Batch, LogFeed


@contextlib.asynccontextmanager
async def _no_session(*, write: bool) -> AsyncIterator[Any]:
    yield None


class _Feed(LogFeed):
    heads = 0

    async def _head(self) -> str:
        self.heads += 1
        return "7"


async def test_a_follower_joining_while_the_last_other_leaves_still_gets_a_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    feed = _Feed(_no_session)  # the session is never used: read_after is replaced
    first = await feed.join()
    assert first.start == "7"
    left = asyncio.Event()

    async def read_after(session: object, **_: object) -> list[object]:
        first.close()  # the old subscription completes while the new one catches up
        left.set()
        await asyncio.sleep(0)
        return []

    monkeypatch.setattr(live, "read_after", read_after)
    second = await feed.join()

    assert left.is_set()
    assert feed.cursor == "7"
    assert second.start == "7", "a new follower always has a start cursor"
    assert feed.heads == 2, "the head was read again once the last other follower had left"
    second.close()
    assert feed.cursor is None


def _event(position: int) -> LoggedEvent:
    return LoggedEvent(
        cursor=str(position),
        position=position,
        key="controlPlane.execution.step.blocked",
        version="1.0.0",
        workspace_id="ws-acme",
        execution_id="exec-1",
        run_id=None,
        step_id=None,
        actor=None,
        stream_version=position,
        occurred_at=datetime.now(UTC),
        payload={},
    )


async def test_a_preparer_runs_once_per_batch_before_any_inbox_has_it_and_a_failed_one_rereads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    feed = _Feed(_no_session)
    log: list[LoggedEvent] = []

    async def read_after(session: object, *, after: str, **_: object) -> list[LoggedEvent]:
        return [event for event in log if event.position > int(after)]

    monkeypatch.setattr(live, "read_after", read_after)
    inboxes = [await feed.join() for _ in range(3)]  # they join at the head, "7"
    prepared: list[tuple[int, ...]] = []
    failures = [RuntimeError("the database is away")]

    async def preparer(batch: Batch) -> None:
        if failures:
            raise failures.pop()
        assert all(not inbox._batches for inbox in inboxes), "no inbox has the batch before it is prepared"
        prepared.append(tuple(event.position for event in batch.events))

    feed.prepare(preparer)
    log += [_event(8), _event(9)]  # committed after every inbox joined
    with pytest.raises(RuntimeError):
        await feed._read_locked()
    assert feed.cursor == "7", "a batch whose preparation failed is read again"
    await feed._read_locked()
    assert prepared == [(8, 9)], "prepared once for every inbox"
    batches = [await inbox.next() for inbox in inboxes]
    assert all(batch is batches[0] for batch in batches)
    assert feed.cursor == "9"
