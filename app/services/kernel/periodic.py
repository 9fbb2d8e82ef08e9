"""A pass of background work every few seconds, in each server process, until cancelled."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any


async def every(interval: float, work: Callable[[], Awaitable[Any]], logger: logging.Logger, failed: str) -> None:
    """Runs `work` now and then every `interval` seconds. A failed pass is logged (`failed`, with the interval as
    its one `%` argument) and the next one runs at the next interval: what the work is about stays in the database."""
    while True:
        try:
            await work()
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception(failed, interval)
        await asyncio.sleep(interval)
