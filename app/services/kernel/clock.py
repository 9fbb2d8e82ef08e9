"""Time and ids for the services, replaceable while seeding so a demo data set is stable."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

Clock = Callable[[], datetime]
IdFactory = Callable[[str], str | None]

# Replaced only while seeding (see `replayed_as`), so a seeded data set gets readable, stable ids and
# realistic times while going through exactly the same services as every client.
_clock: ContextVar[Clock | None] = ContextVar("clock", default=None)
_ids: ContextVar[IdFactory | None] = ContextVar("ids", default=None)


def utcnow() -> datetime:
    clock = _clock.get()
    return clock() if clock is not None else datetime.now(UTC)


def new_id(prefix: str) -> str:
    """Time-ordered, unguessable: `dec_0194f1c2a7b3e4f5a6b7c8d9`."""
    factory = _ids.get()
    chosen = factory(prefix) if factory is not None else None
    return chosen or f"{prefix}_{int(time.time() * 1000):012x}{secrets.token_hex(6)}"


@contextmanager
def replayed_as(clock: Clock, ids: IdFactory) -> Iterator[None]:
    """Within the block (this task only), services read time from `clock` and ask `ids` for new ids
    (None from `ids` falls back to a random id)."""
    clock_token, ids_token = _clock.set(clock), _ids.set(ids)
    try:
        yield
    finally:
        _clock.reset(clock_token)
        _ids.reset(ids_token)
