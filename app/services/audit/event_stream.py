"""The `events` subscription: the log after a cursor, then live; no gap and no duplicate at the seam.

How the seam holds: the subscription joins the process's feed first (from then on every batch the feed
reads is kept in its inbox), then replays from its cursor with `read_after` to the end of what is committed,
remembering the last position replayed. Whatever the inbox holds at or before that position was replayed
already and is skipped; the rest is new. An inbox that overflows (a reader far behind) is answered the same
way: replay from the last position delivered, then carry on with the inbox.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth import Principal
from app.contracts.control_plane.event_log import ControlPlaneEventRecord
from app.contracts.control_plane.subscriptions.event_stream import ControlPlaneEventStreamInput
from app.contracts.model import UnitOfWorkFactory
from app.services.audit.events import event_record
from app.services.kernel.event_reader import LoggedEvent, position_of
from app.services.kernel.live import OVERFLOW, LogFeed, reaches, replay


def _keeps(principal: Principal | None, data: ControlPlaneEventStreamInput, event: LoggedEvent) -> bool:
    """The filters of `read_after` (and the caller's grants), for one event of the feed."""
    return (
        reaches(principal, event.workspace_id)
        and (data.workspace_id is None or event.workspace_id == data.workspace_id)
        and (data.execution_id is None or event.execution_id == data.execution_id)
        and (not data.event_keys or event.key in data.event_keys)
    )


async def stream_events(
    uow: UnitOfWorkFactory[AsyncConnection],
    principal: Principal | None,
    data: ControlPlaneEventStreamInput,
    *,
    feed: LogFeed,
) -> AsyncIterator[ControlPlaneEventRecord]:
    inbox = await feed.join()
    try:
        # Position of the last event delivered or passed over; everything up to it is done.
        resume = data.after if data.after is not None else inbox.start
        done = position_of(resume)
        pending_replay = data.after is not None
        while True:
            if pending_replay:
                async for event in replay(
                    uow,
                    principal=principal,
                    after=resume,
                    workspace_id=data.workspace_id,
                    execution_id=data.execution_id,
                    event_keys=data.event_keys,
                ):
                    done, resume = event.position, event.cursor
                    yield event_record(event)
                pending_replay = False
            batch = await inbox.next()
            if batch is OVERFLOW:
                pending_replay = True
                continue
            for event in batch.events:
                if event.position <= done:
                    continue
                done, resume = event.position, event.cursor
                if _keeps(principal, data, event):
                    yield event_record(event)
    finally:
        inbox.close()
