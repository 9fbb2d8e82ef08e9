"""Delivering the event log to webhook endpoints: at least once, in the log's order per endpoint, by every
server process at once, surviving restarts.

All state is in the database, so a restart (or a SIGKILL) loses nothing:

- Each endpoint has a cursor into the log. *Queueing* reads the events after it with `read_after` (the one
  reader of the log, in its order) and, in one transaction, inserts a delivery row per event (unique on
  endpoint + position) and moves the cursor; the endpoint row is taken with `FOR UPDATE SKIP LOCKED` on
  PostgreSQL (SQLite has one writer), and the cursor move repeats the cursor it read, so two processes
  never queue one event twice.
- *Sending*: an endpoint's head is its oldest open delivery (pending or retrying). A process claims the head
  with one conditional update (still open, due, not leased) that also counts the attempt and sets a lease
  (the timeout plus a margin); only then does it send, outside any transaction, and it records the
  answer with a conditional update on its claim token. So one attempt of one event to one endpoint is sent
  by one process only; a process that dies mid-attempt leaves a lease that lapses, and the head is claimed
  again (at least once: the receiver may see that attempt twice, with the same webhook-id).
- Only the head is ever sent, so deliveries reach an endpoint in the log's order; a failing endpoint holds
  up its own later events (head of line) and nobody else's: each endpoint is drained by its own task,
  at most `max_in_flight` at a time per process, and a pass never waits for a slow receiver.

An attempt is a POST of the stored body (the same bytes on every attempt) with the Standard Webhooks
headers, a timeout, no redirects and the SSRF rules at connect time (targets.py). 2xx succeeds; 410 Gone
fails the delivery and disables the endpoint; anything else (3xx, 4xx, 5xx, timeout, refused target)
schedules the next retry from the retry schedule with ±10 % jitter, and after the last one the delivery is
`failed` and the endpoint's next delivery comes up.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Protocol

import httpx
from sqlalchemy import and_, bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth import Principal
from app.contracts.control_plane.statuses import OPEN_DELIVERY_STATUSES, WebhookDeliveryStatus, WebhookEndpointStatus
from app.contracts.control_plane.webhooks import ALL_EVENTS
from app.contracts.model import UnitOfWorkFactory
from app.db.tables import webhook_delivery_table as delivery_t
from app.db.tables import webhook_endpoint_table as endpoint_t
from app.services.kernel.clock import new_id, utcnow
from app.services.kernel.event_reader import LoggedEvent, read_after
from app.services.kernel.literals import one_of
from app.services.webhooks.signing import event_body, signature_headers
from app.services.webhooks.targets import GuardedTransport, TargetPolicy, TargetRefused

logger = logging.getLogger("app.webhooks")

QUEUE_BATCH = 200
"""Events queued per endpoint per pass at most; the next pass takes the rest."""
RESPONSE_BYTES = 64 * 1024
"""Of a receiver's answer only the status counts; at most this much of its body is read."""
LEASE_MARGIN_SECONDS = 5.0
GONE_BY = "system:webhooks"
OPEN = sorted(OPEN_DELIVERY_STATUSES)
USER_AGENT = "control-plane-webhooks/1"


class DeliveryObserver(Protocol):
    """What the dispatcher reports, for metrics (the composition root hands in Prometheus')."""

    def webhook_attempted(self, outcome: str) -> None: ...
    def webhook_delivered(self, lag_seconds: float) -> None: ...
    def webhook_queue(self, depth: int) -> None: ...


class _Unobserved:
    def webhook_attempted(self, outcome: str) -> None:
        pass

    def webhook_delivered(self, lag_seconds: float) -> None:
        pass

    def webhook_queue(self, depth: int) -> None:
        pass


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    timeout: float = 10.0
    retry_delays: tuple[float, ...] = (5, 30, 120, 900, 3600, 21600)
    jitter: float = 0.1
    max_in_flight: int = 32

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.timeout + LEASE_MARGIN_SECONDS)

    def retry_delay(self, attempts: int) -> float | None:
        """Seconds until the next attempt after `attempts` failed ones; None when the schedule is spent."""
        if attempts > len(self.retry_delays):
            return None
        base = self.retry_delays[attempts - 1]
        return base * random.uniform(1 - self.jitter, 1 + self.jitter)


@dataclass(frozen=True, slots=True)
class Attempt:
    delivery_id: str
    endpoint_id: str
    token: str
    attempts: int
    body: str
    occurred_at: datetime
    url: str
    keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Answer:
    status_code: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def gone(self) -> bool:
        return self.status_code == 410


@dataclass
class PassReport:
    queued: int = 0
    attempted: int = 0
    succeeded: int = 0
    failed: list[str] = field(default_factory=list)


_CLAIM = (
    update(delivery_t)
    .where(
        delivery_t.c.id == bindparam("b_id"),
        one_of(delivery_t.c.status, OPEN),
        delivery_t.c.next_attempt_at <= bindparam("b_now"),
        (delivery_t.c.claimed_until.is_(None)) | (delivery_t.c.claimed_until < bindparam("b_now")),
    )
    .values(
        attempts=delivery_t.c.attempts + 1,
        claimed_until=bindparam("b_lease"),
        claim_token=bindparam("b_token"),
        last_attempt_at=bindparam("b_now"),
        updated_at=bindparam("b_now"),
    )
    .returning(delivery_t.c.attempts, delivery_t.c.body, delivery_t.c.occurred_at)
)
_HEAD = (
    select(delivery_t.c.id)
    .where(delivery_t.c.endpoint_id == bindparam("b_endpoint"), one_of(delivery_t.c.status, OPEN))
    .order_by(delivery_t.c.event_position)
    .limit(1)
)
_DUE_ENDPOINTS = (
    select(delivery_t.c.endpoint_id)
    .join(endpoint_t, endpoint_t.c.id == delivery_t.c.endpoint_id)
    .where(
        one_of(delivery_t.c.status, OPEN),
        endpoint_t.c.status != WebhookEndpointStatus.DISABLED,
        delivery_t.c.next_attempt_at <= bindparam("b_now"),
        (delivery_t.c.claimed_until.is_(None)) | (delivery_t.c.claimed_until < bindparam("b_now")),
    )
    .group_by(delivery_t.c.endpoint_id)
    .order_by(func.min(delivery_t.c.next_attempt_at))
    .limit(bindparam("b_limit"))
)
_QUEUE_DEPTH = (
    select(func.count())
    .select_from(delivery_t.join(endpoint_t, endpoint_t.c.id == delivery_t.c.endpoint_id))
    .where(one_of(delivery_t.c.status, OPEN), endpoint_t.c.status != WebhookEndpointStatus.DISABLED)
)


def _mine(delivery_id: str, token: str) -> Any:
    return and_(delivery_t.c.id == delivery_id, delivery_t.c.claim_token == token)


def _scope(workspace_id: str | None) -> Principal:
    """What an endpoint may read of the log: its workspace, or everything for an all-workspace endpoint."""
    if workspace_id is None:
        return Principal(GONE_BY, frozenset(), frozenset(), all_workspaces=True)
    return Principal(GONE_BY, frozenset(), frozenset({workspace_id}))


class Dispatcher:
    """Queues and sends webhook deliveries; one per server process (`run_forever`), or driven pass by pass
    (`run_once`) by tests and the CLI. `clock` and `transport` are injectable for tests."""

    def __init__(
        self,
        uow: UnitOfWorkFactory[AsyncConnection],
        *,
        policy: DeliveryPolicy | None = None,
        targets: TargetPolicy | None = None,
        clock: Callable[[], datetime] = utcnow,
        transport: httpx.AsyncBaseTransport | None = None,
        observer: DeliveryObserver | None = None,
    ) -> None:
        self._uow = uow
        self.policy = policy or DeliveryPolicy()
        self._targets = targets or TargetPolicy()
        self._clock = clock
        self._transport = transport
        self._observer: DeliveryObserver = observer or _Unobserved()
        self._client: httpx.AsyncClient | None = None
        self._draining: dict[str, asyncio.Task[None]] = {}
        self._report = PassReport()

    # --- the client -----------------------------------------------------------------------------------

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            transport = self._transport or GuardedTransport(self._targets, max_connections=self.policy.max_in_flight)
            self._client = httpx.AsyncClient(
                transport=transport,
                timeout=httpx.Timeout(self.policy.timeout),
                follow_redirects=False,
                trust_env=False,
                headers={"user-agent": USER_AGENT, "content-type": "application/json"},
            )
        return self._client

    async def aclose(self) -> None:
        for task in list(self._draining.values()):
            task.cancel()
        await asyncio.gather(*self._draining.values(), return_exceptions=True)
        self._draining.clear()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # --- queueing ---------------------------------------------------------------------------------------

    async def queue(self) -> int:
        """Queue every endpoint's new events; returns how many deliveries were created."""
        async with self._uow(write=False) as session:
            endpoints = (
                await session.execute(
                    select(endpoint_t.c.id, endpoint_t.c.workspace_id, endpoint_t.c.event_keys, endpoint_t.c.cursor)
                    .where(endpoint_t.c.status != WebhookEndpointStatus.DISABLED)
                    .order_by(endpoint_t.c.id)
                )
            ).all()
            found: list[tuple[str, str | None, list[LoggedEvent]]] = []
            for endpoint in endpoints:
                keys = list(endpoint.event_keys)
                events = await read_after(
                    session,
                    principal=_scope(endpoint.workspace_id),
                    after=endpoint.cursor,
                    limit=QUEUE_BATCH,
                    workspace_id=endpoint.workspace_id,
                    event_keys=None if ALL_EVENTS in keys else keys,
                )
                if events:
                    found.append((endpoint.id, endpoint.cursor, events))
        queued = 0
        for endpoint_id, cursor, events in found:
            async with self._uow(write=True) as session:
                queued += await self._queue_endpoint(session, endpoint_id, cursor, events)
        return queued

    async def _queue_endpoint(
        self, session: AsyncConnection, endpoint_id: str, cursor: str | None, events: list[LoggedEvent]
    ) -> int:
        locked = (
            await session.execute(
                select(endpoint_t.c.cursor)
                .where(endpoint_t.c.id == endpoint_id, endpoint_t.c.status != WebhookEndpointStatus.DISABLED)
                .with_for_update(skip_locked=True)
            )
        ).one_or_none()
        if locked is None or locked.cursor != cursor:
            return 0  # another process is queueing (or has queued) these events, or the endpoint was disabled
        now = self._clock()
        rows = [
            {
                "id": new_id("msg"),
                "endpoint_id": endpoint_id,
                "event_position": event.position,
                "event_cursor": event.cursor,
                "event_key": event.key,
                "occurred_at": event.occurred_at,
                "body": event_body(event),
                "status": WebhookDeliveryStatus.PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
                "updated_at": now,
            }
            for event in events
        ]
        await session.execute(_insert_new(session, rows))
        same_cursor = endpoint_t.c.cursor.is_(None) if cursor is None else endpoint_t.c.cursor == cursor
        moved = await session.execute(
            update(endpoint_t)
            .where(endpoint_t.c.id == endpoint_id, same_cursor)
            .values(cursor=events[-1].cursor)
            .returning(endpoint_t.c.id)
        )
        if moved.one_or_none() is None:
            raise RuntimeError(f"the cursor of webhook endpoint {endpoint_id} moved under its lock")
        return len(rows)

    # --- sending ----------------------------------------------------------------------------------------

    async def send_due(self, *, wait: bool = False) -> int:
        """Start draining every endpoint whose head is due (and not already being drained here); returns
        how many drains started. `wait`: until they end (tests and one-off passes)."""
        free = self.policy.max_in_flight - len(self._draining)
        started = 0
        if free > 0:
            async with self._uow(write=False) as session:
                due = (await session.execute(_DUE_ENDPOINTS, {"b_now": self._clock(), "b_limit": free * 2})).scalars()
                candidates = [endpoint_id for endpoint_id in due if endpoint_id not in self._draining]
            for endpoint_id in candidates[:free]:
                task = asyncio.create_task(self._drain(endpoint_id), name=f"webhook-drain-{endpoint_id}")
                self._draining[endpoint_id] = task
                task.add_done_callback(partial(self._drained, endpoint_id))
                started += 1
        if wait and self._draining:
            await asyncio.gather(*self._draining.values(), return_exceptions=True)
        return started

    def _drained(self, endpoint_id: str, _task: asyncio.Task[None]) -> None:
        self._draining.pop(endpoint_id, None)

    async def _drain(self, endpoint_id: str) -> None:
        """Send the endpoint's due heads one after the other until its head is not due (or taken)."""
        try:
            while True:
                attempt = await self._claim(endpoint_id)
                if attempt is None:
                    return
                answer = await self._send(attempt)
                await self._record(attempt, answer)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception(
                "webhook delivery to endpoint %s failed unexpectedly; retried at the next pass", endpoint_id
            )

    async def _claim(self, endpoint_id: str) -> Attempt | None:
        now = self._clock()
        token = secrets.token_hex(8)
        async with self._uow(write=True) as session:
            endpoint = (
                await session.execute(
                    select(
                        endpoint_t.c.url,
                        endpoint_t.c.secret,
                        endpoint_t.c.previous_secret,
                        endpoint_t.c.previous_secret_valid_until,
                    ).where(endpoint_t.c.id == endpoint_id, endpoint_t.c.status != WebhookEndpointStatus.DISABLED)
                )
            ).one_or_none()
            if endpoint is None:
                return None
            head = (await session.execute(_HEAD, {"b_endpoint": endpoint_id})).scalar_one_or_none()
            if head is None:
                return None
            claimed = (
                await session.execute(
                    _CLAIM, {"b_id": head, "b_now": now, "b_lease": now + self.policy.lease, "b_token": token}
                )
            ).one_or_none()
        if claimed is None:
            return None
        keys = [endpoint.secret]
        if (
            endpoint.previous_secret
            and endpoint.previous_secret_valid_until
            and endpoint.previous_secret_valid_until > now
        ):
            keys.append(endpoint.previous_secret)
        return Attempt(
            head, endpoint_id, token, claimed.attempts, claimed.body, claimed.occurred_at, endpoint.url, tuple(keys)
        )

    async def _send(self, attempt: Attempt) -> Answer:
        headers = signature_headers(attempt.delivery_id, self._clock(), attempt.body, attempt.keys)
        try:
            self._targets.check_url(attempt.url)
            async with asyncio.timeout(self.policy.timeout):
                request = self._http().build_request(
                    "POST", attempt.url, content=attempt.body.encode(), headers=headers
                )
                response = await self._http().send(request, stream=True)
                try:
                    read = 0
                    async for chunk in response.aiter_raw():
                        read += len(chunk)
                        if read >= RESPONSE_BYTES:
                            break
                finally:
                    await response.aclose()
        except TargetRefused as refused:
            return Answer(None, f"refused: {refused}")
        except TimeoutError:
            return Answer(None, f"no answer within {self.policy.timeout:g} s")
        except httpx.HTTPError as error:
            message = str(error) or type(error).__name__
            return Answer(None, message[:500])
        return Answer(response.status_code, None if 200 <= response.status_code < 300 else _status_error(response))

    async def _record(self, attempt: Attempt, answer: Answer) -> None:
        now = self._clock()
        outcome = "succeeded" if answer.ok else ("gone" if answer.gone else "failed_attempt")
        async with self._uow(write=True) as session:
            if answer.ok:
                status, next_at = WebhookDeliveryStatus.SUCCEEDED, None
            else:
                delay = None if answer.gone else self.policy.retry_delay(attempt.attempts)
                status = WebhookDeliveryStatus.FAILED if delay is None else WebhookDeliveryStatus.RETRYING
                next_at = None if delay is None else now + timedelta(seconds=delay)
                if status is WebhookDeliveryStatus.FAILED and not answer.gone:
                    outcome = "failed"
            recorded = await session.execute(
                update(delivery_t)
                .where(_mine(attempt.delivery_id, attempt.token))
                .values(
                    status=status,
                    last_status_code=answer.status_code,
                    last_error=answer.error,
                    next_attempt_at=next_at,
                    delivered_at=now if answer.ok else None,
                    claimed_until=None,
                    claim_token=None,
                    updated_at=now,
                )
                .returning(delivery_t.c.id)
            )
            if recorded.one_or_none() is None:
                logger.warning(
                    "webhook delivery %s: the claim lapsed before its answer was recorded", attempt.delivery_id
                )
                return
            await session.execute(_endpoint_after(attempt.endpoint_id, answer, now))
        self._observer.webhook_attempted("refused" if (answer.error or "").startswith("refused") else outcome)
        if answer.ok:
            self._observer.webhook_delivered(max((now - attempt.occurred_at).total_seconds(), 0.0))
        else:
            logger.info(
                "webhook delivery %s to %s: attempt %d failed (%s)",
                attempt.delivery_id,
                attempt.endpoint_id,
                attempt.attempts,
                answer.error,
            )

    # --- passes -----------------------------------------------------------------------------------------

    async def queue_depth(self) -> int:
        async with self._uow(write=False) as session:
            depth = int((await session.execute(_QUEUE_DEPTH)).scalar_one())
        self._observer.webhook_queue(depth)
        return depth

    async def run_once(self) -> int:
        """One whole pass, waiting for every send: queue, then drain what is due. Returns deliveries queued."""
        queued = await self.queue()
        await self.send_due(wait=True)
        await self.queue_depth()
        return queued

    async def run_forever(self, interval: float) -> None:
        """The background task of each server process. A failed pass is logged and retried after `interval`
        (the work stays in the database); a pass that found work is followed at once by the next."""
        try:
            while True:
                busy = False
                try:
                    busy = await self.queue() > 0
                    busy = await self.send_due() > 0 or busy
                    await self.queue_depth()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    logger.exception("webhook delivery pass failed; retrying in %.1f s", interval)
                await asyncio.sleep(interval / 10 if busy else interval)
        finally:
            await self.aclose()


def _status_error(response: httpx.Response) -> str:
    if response.is_redirect:
        return f"HTTP {response.status_code}: redirects are not followed"
    return f"HTTP {response.status_code}"


def _endpoint_after(endpoint_id: str, answer: Answer, now: datetime) -> Any:
    not_disabled = endpoint_t.c.status != WebhookEndpointStatus.DISABLED
    statement = update(endpoint_t).where(endpoint_t.c.id == endpoint_id)
    if answer.ok:
        return statement.where(not_disabled).values(
            status=WebhookEndpointStatus.ACTIVE, last_success_at=now, consecutive_failures=0
        )
    failed = {"last_failure_at": now, "consecutive_failures": endpoint_t.c.consecutive_failures + 1}
    if answer.gone:
        return statement.where(not_disabled).values(
            status=WebhookEndpointStatus.DISABLED,
            disabled_by=GONE_BY,
            disabled_at=now,
            disabled_reason="the receiver answered 410 Gone",
            updated_at=now,
            **failed,
        )
    return statement.where(not_disabled).values(status=WebhookEndpointStatus.FAILING, **failed)


def _insert_new(session: AsyncConnection, rows: list[dict[str, Any]]) -> Any:
    index = [delivery_t.c.endpoint_id, delivery_t.c.event_position]
    if session.dialect.name == "postgresql":
        return postgresql.insert(delivery_t).values(rows).on_conflict_do_nothing(index_elements=index)
    if session.dialect.name == "sqlite":
        return sqlite.insert(delivery_t).values(rows).on_conflict_do_nothing(index_elements=index)
    return insert(delivery_t).values(rows)
