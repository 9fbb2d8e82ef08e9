"""One LISTEN connection per server process: PostgreSQL tells it when another process committed events.

A notification is only a wake-up (the readers read the log itself); a lost one costs at most the poll
interval of the feed (app/services/kernel/live.py). The connection reconnects after a failure.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from functools import partial
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from app.db.database import EVENTS_CHANNEL

logger = logging.getLogger("app.db.listener")


def _set(event: asyncio.Event, *_: Any) -> None:
    event.set()


def asyncpg_dsn(url: str) -> str:
    """A SQLAlchemy URL (postgresql+asyncpg://...) as asyncpg's DSN."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def listen_forever(
    url: str, wake: Callable[[], None], *, channel: str = EVENTS_CHANNEL, retry_seconds: float = 1.0
) -> None:
    """LISTEN on `channel` and call `wake` for every notification (and after each reconnect, in case one
    was missed while away); runs until cancelled."""
    dsn = asyncpg_dsn(url)

    def on_notify(*_: Any) -> None:
        wake()

    while True:
        connection: Any = None
        try:
            connection = await asyncpg.connect(dsn, timeout=10, server_settings={"application_name": "cp-listener"})
            lost = asyncio.Event()
            connection.add_termination_listener(partial(_set, lost))
            await connection.add_listener(channel, on_notify)
            wake()
            await lost.wait()
            logger.warning("the LISTEN connection was closed; reconnecting")
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("LISTEN %s failed; retrying in %.1f s", channel, retry_seconds)
        finally:
            if connection is not None and not connection.is_closed():
                await connection.close(timeout=5)
        await asyncio.sleep(retry_seconds)
