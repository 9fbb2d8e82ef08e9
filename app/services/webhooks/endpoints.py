"""The webhook contracts: create, list, disable and rotate endpoints; their deliveries, and redelivery.

Workspace-scoped like everything else: an endpoint of a workspace outside the caller's grants is NOT_FOUND
(the same answer as one that does not exist), and an endpoint for every workspace (`workspaceId` null)
needs the `*` grant to create, to see and to change. A refused command writes nothing: every check comes
before the first write, and each state change is a conditional update that repeats its condition.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Row, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth import Principal
from app.contracts.control_plane.commands.webhook_create import (
    ControlPlaneWebhookCreateInput,
    ControlPlaneWebhookCreateOutput,
)
from app.contracts.control_plane.commands.webhook_disable import (
    ControlPlaneWebhookDisableInput,
    ControlPlaneWebhookDisableOutput,
)
from app.contracts.control_plane.commands.webhook_redeliver import (
    ControlPlaneWebhookRedeliverInput,
    ControlPlaneWebhookRedeliverOutput,
)
from app.contracts.control_plane.commands.webhook_rotate_secret import (
    ControlPlaneWebhookRotateSecretInput,
    ControlPlaneWebhookRotateSecretOutput,
)
from app.contracts.control_plane.queries.webhook_deliveries import (
    ControlPlaneWebhookDeliveriesInput,
    ControlPlaneWebhookDeliveriesOutput,
)
from app.contracts.control_plane.queries.webhook_list import ControlPlaneWebhookListInput, ControlPlaneWebhookListOutput
from app.contracts.control_plane.statuses import OPEN_DELIVERY_STATUSES, WebhookDeliveryStatus, WebhookEndpointStatus
from app.contracts.control_plane.webhooks import ALL_EVENTS, ControlPlaneWebhookDelivery, ControlPlaneWebhookEndpoint
from app.db.tables import webhook_delivery_table as delivery_t
from app.db.tables import webhook_endpoint_table as endpoint_t
from app.errors import BadUserInput, Conflict, Forbidden, NotFound
from app.services.kernel.clock import new_id, utcnow
from app.services.kernel.event_reader import end_cursor
from app.services.kernel.grants import in_grants
from app.services.kernel.literals import one_of
from app.services.kernel.paging import page
from app.services.webhooks.signing import new_secret
from app.services.webhooks.targets import TargetPolicy, TargetRefused

ROTATION_OVERLAP = timedelta(hours=24)
"""How long a rotated-out secret keeps signing beside the new one."""
DISABLED = WebhookEndpointStatus.DISABLED


def _visible(principal: Principal | None) -> ColumnElement[bool]:
    """Endpoints of the caller's workspaces; one for every workspace (NULL) only with `*`."""
    return in_grants(principal, endpoint_t.c.workspace_id)


def endpoint_record(row: Row[Any]) -> ControlPlaneWebhookEndpoint:
    return ControlPlaneWebhookEndpoint(
        endpoint_id=row.id,
        url=row.url,
        event_keys=list(row.event_keys),
        workspace_id=row.workspace_id,
        description=row.description,
        status=row.status,
        created_by=row.created_by,
        created_at=row.created_at,
        last_success_at=row.last_success_at,
        last_failure_at=row.last_failure_at,
        consecutive_failures=row.consecutive_failures,
    )


def delivery_record(row: Row[Any]) -> ControlPlaneWebhookDelivery:
    return ControlPlaneWebhookDelivery(
        delivery_id=row.id,
        endpoint_id=row.endpoint_id,
        event_cursor=row.event_cursor,
        event_key=row.event_key,
        status=row.status,
        attempts=row.attempts,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        last_attempt_at=row.last_attempt_at,
        next_attempt_at=row.next_attempt_at,
        created_at=row.created_at,
    )


async def _endpoint(session: AsyncConnection, principal: Principal | None, endpoint_id: str) -> Row[Any]:
    row = (
        await session.execute(select(endpoint_t).where(endpoint_t.c.id == endpoint_id, _visible(principal)))
    ).one_or_none()
    if row is None:
        raise NotFound(f"Webhook endpoint {endpoint_id!r} not found.")
    return row


class WebhookEndpoints:
    """The handlers; `event_keys` are the keys of the registry's event contracts (what may be subscribed)."""

    def __init__(self, policy: TargetPolicy, event_keys: Collection[str]) -> None:
        self._policy = policy
        self._event_keys = frozenset(event_keys)

    def _checked_keys(self, keys: list[str]) -> list[str]:
        problems = {
            f"eventKeys.{index}": "not an event key of this server"
            for index, key in enumerate(keys)
            if key != ALL_EVENTS and key not in self._event_keys
        }
        if ALL_EVENTS in keys and len(set(keys)) > 1:
            problems["eventKeys"] = f"{ALL_EVENTS!r} (every event) stands alone"
        if problems:
            summary = "; ".join(f"{name}: {message}" for name, message in problems.items())
            raise BadUserInput(f"Invalid input: {summary}.", problems)
        return list(dict.fromkeys(keys))

    @staticmethod
    def _check_grant(principal: Principal | None, workspace_id: str | None) -> None:
        if principal is None:
            raise Forbidden("Creating a webhook endpoint needs a principal.")
        if workspace_id is None and not principal.all_workspaces:
            raise Forbidden("An endpoint for every workspace (workspaceId null) needs the '*' grant.")
        if workspace_id is not None and not principal.may_reach(workspace_id):
            raise Forbidden(f"Workspace {workspace_id!r} is not one of the caller's workspaces.")

    def _check_form(self, url: str) -> None:
        try:
            self._policy.check_url(url)
        except TargetRefused as refused:
            raise BadUserInput(f"Invalid input: url: {refused}.", {"url": str(refused)}) from None

    async def precheck_create(
        self, session: AsyncConnection, principal: Principal | None, data: ControlPlaneWebhookCreateInput
    ) -> None:
        """Everything that can refuse the command, before the writer is taken: the grant, the event keys and
        the URL, resolved (DNS is slow: never inside the write transaction)."""
        self._check_grant(principal, data.workspace_id)
        self._checked_keys(data.event_keys)
        self._check_form(data.url)
        try:
            await self._policy.check(data.url)
        except TargetRefused as refused:
            raise BadUserInput(f"Invalid input: url: {refused}.", {"url": str(refused)}) from None

    async def create(
        self, session: AsyncConnection, principal: Principal | None, data: ControlPlaneWebhookCreateInput
    ) -> ControlPlaneWebhookCreateOutput:
        self._check_grant(principal, data.workspace_id)
        keys = self._checked_keys(data.event_keys)
        self._check_form(data.url)
        assert principal is not None
        now = utcnow()
        endpoint_id, secret = new_id("whk"), new_secret()
        await session.execute(
            insert(endpoint_t).values(
                id=endpoint_id,
                workspace_id=data.workspace_id,
                url=data.url.strip(),
                event_keys=keys,
                description=data.description,
                status=WebhookEndpointStatus.ACTIVE,
                secret=secret,
                cursor=await end_cursor(session),
                created_by=principal.id,
                created_at=now,
                updated_at=now,
                consecutive_failures=0,
            )
        )
        return ControlPlaneWebhookCreateOutput(endpoint_id=endpoint_id, secret=secret, created_at=now)

    async def disable(
        self, session: AsyncConnection, principal: Principal | None, data: ControlPlaneWebhookDisableInput
    ) -> ControlPlaneWebhookDisableOutput:
        row = await _endpoint(session, principal, data.endpoint_id)
        if row.status != DISABLED:
            now = utcnow()
            changed = await session.execute(
                update(endpoint_t)
                .where(endpoint_t.c.id == row.id, endpoint_t.c.status != DISABLED)
                .values(
                    status=DISABLED,
                    disabled_by=data.disabled_by,
                    disabled_at=now,
                    disabled_reason="disabled by an operator",
                    updated_at=now,
                )
                .returning(endpoint_t.c.disabled_at)
            )
            if changed.one_or_none() is not None:
                return ControlPlaneWebhookDisableOutput(endpoint_id=row.id, status=DISABLED, disabled_at=now)
            row = await _endpoint(session, principal, data.endpoint_id)
        disabled_at: datetime = row.disabled_at or row.updated_at
        return ControlPlaneWebhookDisableOutput(endpoint_id=row.id, status=DISABLED, disabled_at=disabled_at)

    async def rotate_secret(
        self, session: AsyncConnection, principal: Principal | None, data: ControlPlaneWebhookRotateSecretInput
    ) -> ControlPlaneWebhookRotateSecretOutput:
        row = await _endpoint(session, principal, data.endpoint_id)
        if row.status == DISABLED:
            raise Conflict(f"Webhook endpoint {row.id!r} is disabled; its secret cannot be rotated.", DISABLED)
        now = utcnow()
        secret, valid_until = new_secret(), now + ROTATION_OVERLAP
        changed = await session.execute(
            update(endpoint_t)
            .where(endpoint_t.c.id == row.id, endpoint_t.c.status != DISABLED, endpoint_t.c.secret == row.secret)
            .values(secret=secret, previous_secret=row.secret, previous_secret_valid_until=valid_until, updated_at=now)
            .returning(endpoint_t.c.id)
        )
        if changed.one_or_none() is None:
            current = await _endpoint(session, principal, data.endpoint_id)
            raise Conflict(
                f"Webhook endpoint {row.id!r} changed meanwhile (disabled or rotated by someone else); read it again.",
                current.status,
            )
        return ControlPlaneWebhookRotateSecretOutput(
            endpoint_id=row.id, secret=secret, previous_secret_valid_until=valid_until
        )

    @staticmethod
    async def list_endpoints(
        session: AsyncConnection, principal: Principal | None, data: ControlPlaneWebhookListInput
    ) -> ControlPlaneWebhookListOutput:
        query = select(endpoint_t).where(_visible(principal))
        if data.workspace_id is not None:
            query = query.where(endpoint_t.c.workspace_id == data.workspace_id)
        found = await page(
            session, query.order_by(endpoint_t.c.created_at.desc(), endpoint_t.c.id.desc()), data.limit, data.offset
        )
        return ControlPlaneWebhookListOutput(items=[endpoint_record(row) for row in found.rows], total=found.total)

    @staticmethod
    async def list_deliveries(
        session: AsyncConnection, principal: Principal | None, data: ControlPlaneWebhookDeliveriesInput
    ) -> ControlPlaneWebhookDeliveriesOutput:
        endpoint = await _endpoint(session, principal, data.endpoint_id)
        query = select(delivery_t).where(delivery_t.c.endpoint_id == endpoint.id)
        if data.status is not None:
            query = query.where(delivery_t.c.status == data.status)
        found = await page(session, query.order_by(delivery_t.c.event_position.desc()), data.limit, data.offset)
        return ControlPlaneWebhookDeliveriesOutput(
            items=[delivery_record(row) for row in found.rows], total=found.total
        )

    @staticmethod
    async def redeliver(
        session: AsyncConnection, principal: Principal | None, data: ControlPlaneWebhookRedeliverInput
    ) -> ControlPlaneWebhookRedeliverOutput:
        found = (
            await session.execute(
                select(delivery_t.c.id, delivery_t.c.status, endpoint_t.c.status.label("endpoint_status"))
                .join(endpoint_t, endpoint_t.c.id == delivery_t.c.endpoint_id)
                .where(delivery_t.c.id == data.delivery_id, _visible(principal))
            )
        ).one_or_none()
        if found is None:
            raise NotFound(f"Webhook delivery {data.delivery_id!r} not found.")
        if found.endpoint_status == DISABLED:
            raise Conflict(
                f"The endpoint of delivery {found.id!r} is disabled: nothing is delivered to it.", "endpoint_disabled"
            )
        if found.status in OPEN_DELIVERY_STATUSES:
            raise Conflict(f"Delivery {found.id!r} is already queued ({found.status}).", found.status)
        now = utcnow()
        changed = await session.execute(
            update(delivery_t)
            .where(
                delivery_t.c.id == found.id,
                one_of(delivery_t.c.status, (WebhookDeliveryStatus.SUCCEEDED, WebhookDeliveryStatus.FAILED)),
            )
            .values(
                status=WebhookDeliveryStatus.PENDING,
                attempts=0,
                next_attempt_at=now,
                claimed_until=None,
                claim_token=None,
                updated_at=now,
            )
            .returning(delivery_t.c.id)
        )
        if changed.one_or_none() is None:
            raise Conflict(f"Delivery {found.id!r} was queued again meanwhile.", WebhookDeliveryStatus.PENDING)
        return ControlPlaneWebhookRedeliverOutput(
            delivery_id=found.id, status=WebhookDeliveryStatus.PENDING, next_attempt_at=now
        )
