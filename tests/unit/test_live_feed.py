"""The live feed's join when the last other follower leaves meanwhile (found by the console's browser
test: an inbox that changed its filters completed its old subscription while the new one joined, and
the new one's snapshot failed on a start cursor of None)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from app.services.kernel import live
from app.services.kernel.live import LogFeed


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
