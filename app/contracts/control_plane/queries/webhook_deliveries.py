"""controlPlane.webhook.deliveries — the delivery log of one endpoint (project addition)."""

from __future__ import annotations

from app.auth import AuthLevel
from app.contracts.control_plane.constants import DEFAULT_PAGE_SIZE, WEBHOOKS, meta
from app.contracts.control_plane.shared import Limit, Offset
from app.contracts.control_plane.statuses import WebhookDeliveryStatus
from app.contracts.control_plane.webhooks import ControlPlaneWebhookDelivery
from app.contracts.model import define_query
from app.contracts.types import ID, ContractModel


class ControlPlaneWebhookDeliveriesInput(ContractModel):
    endpoint_id: ID
    status: WebhookDeliveryStatus | None = None
    limit: Limit | None = DEFAULT_PAGE_SIZE
    offset: Offset | None = 0


class ControlPlaneWebhookDeliveriesOutput(ContractModel):
    items: list[ControlPlaneWebhookDelivery]
    total: int


SPEC = define_query(
    meta(
        "controlPlane.webhook.deliveries",
        title="List Webhook Deliveries",
        description="The deliveries of one webhook endpoint, newest event first: status, attempts, the last "
        "answer and the next attempt (project addition).",
        goal="Let operators see what a receiver got, what it refused and what will be retried when.",
        context="An endpoint outside the caller's workspaces is NOT_FOUND.",
        tags=("webhooks",),
    ),
    capability=WEBHOOKS,
    input=ControlPlaneWebhookDeliveriesInput,
    output=ControlPlaneWebhookDeliveriesOutput,
    auth=AuthLevel.ADMIN,
    graphql_name="webhookDeliveries",
)
