"""What the approval queue's subscribers share in one process (app/services/approval/live.py): one load per
batch whatever the number of subscribers, done by the feed before any of them wakes; one step of the shown
state per view class, so subscribers of one view class get the very same change objects; a subscriber of
another view class gets its own."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from app.auth import Principal
from app.contracts.control_plane.subscriptions.approval_stream import (
    ControlPlaneApprovalQueueChange,
    ControlPlaneApprovalStreamInput,
)
from app.services.approval.live import ApprovalLive, stream_approval_queue
from app.services.kernel.live import Batch, Inbox, LogFeed

REJECT = """
mutation($input: ControlPlaneExecutionRejectInput!) { rejectExecutionStep(input: $input) { status } }
"""

ADMIN = Principal.of("dana", {"admin"}, {"*"})
OTHER_ADMIN = Principal.of("erin", {"admin"}, {"*"})


PENDING_TOTAL = "{ pendingApprovals(input: {limit: 1}) { total } }"


async def _snapshot(
    stream: AsyncIterator[ControlPlaneApprovalQueueChange], size: int
) -> list[ControlPlaneApprovalQueueChange]:
    """The first `size` changes (cancelling a pending `anext` would end the stream: read exactly those)."""
    changes = [await anext(stream) for _ in range(size)]
    assert {change.kind for change in changes} == {"snapshot"}
    return changes


async def test_subscribers_of_one_view_share_the_load_the_step_and_the_change_objects(database, execute, monkeypatch):
    feed = LogFeed(database.unit_of_work, poll_interval=0.05)
    live = ApprovalLive(feed)
    database.on_events_committed(feed.wake)
    running = asyncio.create_task(feed.run())
    everything = ControlPlaneApprovalStreamInput()
    streams: list[AsyncIterator[ControlPlaneApprovalQueueChange]] = [
        stream_approval_queue(database.unit_of_work, ADMIN, everything, live=live),
        stream_approval_queue(database.unit_of_work, ADMIN, everything, live=live),
        stream_approval_queue(database.unit_of_work, OTHER_ADMIN, everything, live=live),
    ]
    pending: list[asyncio.Future[ControlPlaneApprovalQueueChange]] = []
    size = (await execute(PENDING_TOTAL))["pendingApprovals"]["total"]
    assert size >= 1
    try:
        snapshots = [await _snapshot(stream, size) for stream in streams]
        assert live.subscribers == 3
        assert [change.item.step_id for change in snapshots[0]] == [change.item.step_id for change in snapshots[2]]
        target = next(change.item for change in snapshots[0] if change.item.viewer_can_decide)
        loads_before = live.loads
        batches: list[Batch] = []
        real_put = Inbox.put

        def recording_put(inbox: Inbox, batch: Batch) -> None:
            if not batches or batches[-1] is not batch:
                batches.append(batch)
            real_put(inbox, batch)

        monkeypatch.setattr(Inbox, "put", recording_put)
        pending = [asyncio.ensure_future(anext(stream)) for stream in streams]
        await execute(
            REJECT,
            {
                "input": {
                    "executionId": target.execution_id,
                    "stepId": target.step_id,
                    "rejectedBy": "dana",
                    "reason": "not now",
                }
            },
        )
        changes = await asyncio.wait_for(asyncio.gather(*pending), 10)
    finally:
        running.cancel()
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for stream in streams:
            await stream.aclose()  # type: ignore[attr-defined]
    assert [(change.kind, change.item.step_id) for change in changes] == [("removed", target.step_id)] * 3
    assert changes[0] is changes[1], "the same view class gets the very same change object"
    assert changes[2] is not changes[0], "another caller's view is computed for it"
    assert live.loads == loads_before + 1, "one load for the batch, whatever the number of subscribers"
    loaded = live.loaded(batches[-1])
    assert loaded is not None
    assert loaded.steps_computed == 2, "one step per view class (dana's twice, erin's once), not per subscriber"
    assert live.subscribers == 0
