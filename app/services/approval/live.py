"""The `approvalQueue` subscription: the waiting items first (`snapshot`), then every change.

Each subscription joins the process's log feed (app/services/kernel/live.py) before it reads its snapshot,
so nothing that commits in between is missed. For every batch of events the feed reads, the steps that
await a decision in the executions those events touch are loaded once for the whole process
(`ApprovalLive.load`: two statements per batch, whatever the number of subscribers); each subscription
then diffs those executions' items, as its caller sees them, against what it showed last: a step that
appears is `added`, one that changed `updated`, one that is gone (decided, expired, cancelled, voted on
or escalated out of the caller's roles under `decidableByMe`) `removed`. Reading the current rows, not the
events, makes a change idempotent: an event whose effect the snapshot already showed changes nothing.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth import Principal
from app.contracts.control_plane.queries.approval_list import ControlPlanePendingApproval
from app.contracts.control_plane.statuses import StepStatus
from app.contracts.control_plane.subscriptions.approval_stream import (
    ControlPlaneApprovalQueueChange,
    ControlPlaneApprovalStreamInput,
    QueueChangeKind,
)
from app.contracts.model import UnitOfWorkFactory
from app.db.tables import step_table as step_t
from app.db.tables import vote_table as vote_t
from app.services.approval.queue import pending_filters, pending_item, pending_select
from app.services.approval.standing import voted_on
from app.services.kernel.live import OVERFLOW, Batch, LogFeed

Items = dict[str, ControlPlanePendingApproval]
"""step id -> item, oldest waiting first."""

_KEPT_LOADS = 32
_KEPT_SNAPSHOTS = 64
YIELD_EVERY = 32
"""Changes a subscription hands on before it lets the event loop run others (writers are not starved)."""


@dataclass(slots=True)
class Loaded:
    """The waiting steps of the executions a batch touched, and every vote on them, read once."""

    executions: frozenset[str]
    rows: tuple[Any, ...]
    votes: frozenset[tuple[str, int, str]]
    """(step id, review revision, actor)."""
    _views: dict[tuple[Any, ...], Items] = field(default_factory=dict)
    _fresh: dict[tuple[Any, ...], Items] = field(default_factory=dict)
    _changes: dict[tuple[str, int], tuple[ControlPlanePendingApproval, ControlPlaneApprovalQueueChange]] = field(
        default_factory=dict
    )
    _steps: dict[tuple[Any, ...], tuple[Items, Items, list[ControlPlaneApprovalQueueChange]]] = field(
        default_factory=dict
    )
    steps_computed: int = 0
    """Steps `advance` computed for this batch, not found shared (for tests and benchmarks)."""

    def advance(
        self, principal: Principal | None, data: ControlPlaneApprovalStreamInput, shown: Items, cursor: str
    ) -> tuple[Items, list[ControlPlaneApprovalQueueChange]]:
        """What a subscription that showed `shown` shows after this batch, and the changes that take it there.

        `shown` is never changed in place, so subscriptions of one view class that joined together and saw the
        same batches hold the very same object: the step is computed once for all of them (keyed by that
        object, which the entry keeps alive so that its id is not reused), and each keeps a reference, not a
        copy, of what it shows."""
        key = (_viewer(principal), _input_key(data), id(shown))
        found = self._steps.get(key)
        if found is not None and found[0] is shown:
            return found[1], found[2]
        after, kinds = _diff(shown, self.fresh_for(principal, data), self.executions)
        changes = [self.change(kind, item, cursor) for kind, item in kinds]
        self._steps[key] = (shown, after, changes)
        self.steps_computed += 1
        return after, changes

    def fresh_for(self, principal: Principal | None, data: ControlPlaneApprovalStreamInput) -> Items:
        """The items a subscription with this caller and input keeps (computed once per such class)."""
        key = (_viewer(principal), _input_key(data))
        found = self._fresh.get(key)
        if found is None:
            found = {
                step_id: item for step_id, item in self.items_for(principal).items() if _wanted(principal, data, item)
            }
            self._fresh[key] = found
        return found

    def change(
        self, kind: QueueChangeKind, item: ControlPlanePendingApproval, cursor: str
    ) -> ControlPlaneApprovalQueueChange:
        """One change object per (kind, item) of this batch: subscribers with the same view get the very same
        object, so its GraphQL execution and JSON encoding are done once (app/graphql/shared_events.py)."""
        key = (kind, id(item))
        found = self._changes.get(key)
        if found is not None and found[0] is item:
            return found[1]
        change = ControlPlaneApprovalQueueChange(kind=kind, item=item, cursor=cursor)
        self._changes[key] = (item, change)  # holds the item: its id is not reused while the entry lives
        return change

    def items_for(self, principal: Principal | None) -> Items:
        """The rows as `principal` sees them (computed once per distinct caller)."""
        key = _viewer(principal)
        found = self._views.get(key)
        if found is None:
            found = {
                row.id: pending_item(
                    row,
                    principal,
                    voted=principal is not None and (row.id, row.review_revision, principal.id) in self.votes,
                )
                for row in self.rows
            }
            self._views[key] = found
        return found


def _input_key(data: ControlPlaneApprovalStreamInput) -> tuple[Any, ...]:
    return (data.workspace_id, data.risk_tier, bool(data.decidable_by_me))


@dataclass(slots=True)
class Snapshot:
    """The waiting items of one view class as of one feed cursor, and their `snapshot` changes, shared."""

    items: Items
    changes: tuple[ControlPlaneApprovalQueueChange, ...]


def _viewer(principal: Principal | None) -> tuple[Any, ...]:
    if principal is None:
        return ()
    return (principal.id, principal.roles, principal.all_workspaces, principal.workspaces)


class ApprovalLive:
    """What the approval queue subscriptions of one process share: the feed and the per-batch loads."""

    def __init__(self, feed: LogFeed) -> None:
        self.feed = feed
        self._loads: OrderedDict[int, asyncio.Task[Loaded]] = OrderedDict()
        self._snapshots: OrderedDict[tuple[Any, ...], asyncio.Task[Snapshot]] = OrderedDict()
        self.loads = 0
        self.snapshots = 0
        self.subscribers = 0
        feed.prepare(self._prepare)

    def loaded(self, batch: Batch) -> Loaded | None:
        """This batch's load if it is done (None otherwise)."""
        task = self._loads.get(batch.number)
        if task is None or not task.done() or task.cancelled() or task.exception() is not None:
            return None
        return task.result()

    async def _prepare(self, batch: Batch) -> None:
        """The feed's preparer: load the batch once before the subscriptions wake, so that each finds it done."""
        if self.subscribers:
            await self.load(self.feed.uow, batch)

    async def snapshot(
        self,
        uow: UnitOfWorkFactory[AsyncConnection],
        principal: Principal | None,
        data: ControlPlaneApprovalStreamInput,
        start: str,
    ) -> Snapshot:
        """The snapshot of a subscription that joined the feed at `start`, read once for every subscription of
        the same view class (caller's view, input) joining at the same cursor: whatever commits after `start`
        reaches all of them through the feed, and applying a change the snapshot already shows changes nothing."""
        key = (_viewer(principal), _input_key(data), start)
        task = self._snapshots.get(key)
        if task is None or (task.done() and (task.cancelled() or task.exception() is not None)):
            task = asyncio.ensure_future(self._snapshot(uow, principal, data, start))
            self._snapshots[key] = task
            while len(self._snapshots) > _KEPT_SNAPSHOTS:
                self._snapshots.popitem(last=False)
        return await asyncio.shield(task)

    async def _snapshot(
        self,
        uow: UnitOfWorkFactory[AsyncConnection],
        principal: Principal | None,
        data: ControlPlaneApprovalStreamInput,
        start: str,
    ) -> Snapshot:
        self.snapshots += 1
        items = await _snapshot(uow, principal, data)
        changes = tuple(
            ControlPlaneApprovalQueueChange(kind="snapshot", item=item, cursor=start) for item in items.values()
        )
        return Snapshot(items, changes)

    async def load(self, uow: UnitOfWorkFactory[AsyncConnection], batch: Batch) -> Loaded:
        task = self._loads.get(batch.number)
        if task is None:
            task = asyncio.ensure_future(self._load(uow, batch))
            self._loads[batch.number] = task
            while len(self._loads) > _KEPT_LOADS:
                self._loads.popitem(last=False)
        if task.done() and not task.cancelled() and task.exception() is None:
            return task.result()  # every subscriber after the first: no future, no callback of its own
        return await asyncio.shield(task)

    async def _load(self, uow: UnitOfWorkFactory[AsyncConnection], batch: Batch) -> Loaded:
        executions = frozenset(event.execution_id for event in batch.events if event.execution_id)
        if not executions:
            return Loaded(executions, (), frozenset())
        self.loads += 1
        async with uow(write=False) as session:
            rows = tuple(
                (
                    await session.execute(
                        pending_select()
                        .where(
                            step_t.c.status == StepStatus.AWAITING_APPROVAL,
                            step_t.c.execution_id.in_(sorted(executions)),
                        )
                        .order_by(step_t.c.awaiting_since, step_t.c.id)
                    )
                ).all()
            )
            votes: frozenset[tuple[str, int, str]] = frozenset()
            if rows:
                found = await session.execute(
                    select(vote_t.c.step_id, vote_t.c.review_revision, vote_t.c.actor).where(
                        vote_t.c.step_id.in_(sorted(row.id for row in rows))
                    )
                )
                votes = frozenset((row.step_id, row.review_revision, row.actor) for row in found)
        return Loaded(executions, rows, votes)


def _wanted(
    principal: Principal | None, data: ControlPlaneApprovalStreamInput, item: ControlPlanePendingApproval
) -> bool:
    """The subscription's filters (and the caller's grants), for one item in memory."""
    return (
        principal is not None
        and principal.may_reach(item.workspace_id)
        and (data.workspace_id is None or item.workspace_id == data.workspace_id)
        and (data.risk_tier is None or item.risk_tier == data.risk_tier)
        and (not data.decidable_by_me or item.viewer_can_decide)
    )


async def _snapshot(
    uow: UnitOfWorkFactory[AsyncConnection], principal: Principal | None, data: ControlPlaneApprovalStreamInput
) -> Items:
    """Every item waiting now that the caller may see and the filters keep (grants in SQL)."""
    filters = pending_filters(principal, data.workspace_id, data.risk_tier, decidable_by_me=data.decidable_by_me)
    async with uow(write=False) as session:
        rows = (
            await session.execute(pending_select().where(*filters).order_by(step_t.c.awaiting_since, step_t.c.id))
        ).all()
        mine = (
            await voted_on(session, principal.id, ((row.id, row.review_revision) for row in rows))
            if principal is not None and rows
            else set()
        )
    return {row.id: pending_item(row, principal, voted=(row.id, row.review_revision) in mine) for row in rows}


def _diff(
    shown: Items, fresh: Mapping[str, ControlPlanePendingApproval], scope: Iterable[str] | None
) -> tuple[Items, list[tuple[QueueChangeKind, ControlPlanePendingApproval]]]:
    """What is shown after `fresh` replaces the items of the executions in `scope` (None: all), and the changes;
    `shown` itself is left as it is (it may be shared), and is returned unchanged when nothing changed."""
    executions = None if scope is None else set(scope)
    changes: list[tuple[QueueChangeKind, ControlPlanePendingApproval]] = [
        ("removed", item)
        for step_id, item in shown.items()
        if (executions is None or item.execution_id in executions) and step_id not in fresh
    ]
    for step_id, item in fresh.items():
        before = shown.get(step_id)
        if before is None:
            changes.append(("added", item))
        elif before is not item and before != item:
            changes.append(("updated", item))
    if not changes:
        return shown, changes
    after = dict(shown)
    for kind, item in changes:
        if kind == "removed":
            del after[item.step_id]
        else:
            after[item.step_id] = item
    return after, changes


async def stream_approval_queue(
    uow: UnitOfWorkFactory[AsyncConnection],
    principal: Principal | None,
    data: ControlPlaneApprovalStreamInput,
    *,
    live: ApprovalLive,
) -> AsyncIterator[ControlPlaneApprovalQueueChange]:
    inbox = await live.feed.join()
    live.subscribers += 1
    try:
        snapshot = await live.snapshot(uow, principal, data, inbox.start)
        # What this subscriber shows: step id -> item, shared with every subscriber of its view class that
        # joined with it (never changed in place: each batch's `Loaded.advance` gives the next one).
        shown = snapshot.items
        for sent, change in enumerate(snapshot.changes, 1):
            yield change
            if sent % YIELD_EVERY == 0:
                await asyncio.sleep(0)
        while True:
            batch = await inbox.next()
            if batch is OVERFLOW:  # fell behind: compare with the queue as it is now
                cursor = live.feed.cursor or inbox.start
                shown, kinds = _diff(shown, await _snapshot(uow, principal, data), None)
                changes = [ControlPlaneApprovalQueueChange(kind=kind, item=item, cursor=cursor) for kind, item in kinds]
            else:
                loaded = await live.load(uow, batch)
                if not loaded.executions:
                    continue
                shown, changes = loaded.advance(principal, data, shown, batch.cursor)
            for sent, change in enumerate(changes, 1):
                yield change
                if sent % YIELD_EVERY == 0:
                    await asyncio.sleep(0)
    finally:
        live.subscribers -= 1
        inbox.close()
