"""controlPlane.webhook.list — the webhook endpoints of the caller's workspaces (project addition)."""

from __future__ import annotations

from app.auth import AuthLevel
from app.contracts.control_plane.constants import DEFAULT_PAGE_SIZE, WEBHOOKS, meta
from app.contracts.control_plane.shared import Limit, Offset
from app.contracts.control_plane.webhooks import ControlPlaneWebhookEndpoint
from app.contracts.model import define_query
from app.contracts.types import ID, ContractModel


class ControlPlaneWebhookListInput(ContractModel):
    workspace_id: ID | None = None
    """Only this workspace's endpoints; None: every endpoint the caller may see (those of every workspace
    only with the `*` grant)."""
    limit: Limit | None = DEFAULT_PAGE_SIZE
    offset: Offset | None = 0


class ControlPlaneWebhookListOutput(ContractModel):
    items: list[ControlPlaneWebhookEndpoint]
    total: int


SPEC = define_query(
    meta(
        "controlPlane.webhook.list",
        title="List Webhook Endpoints",
        description="List webhook endpoints, newest first, with their delivery health (project addition).",
        goal="Show where events go and which receivers are failing.",
        context="Secrets are never listed; they are shown once, by createWebhookEndpoint and rotateWebhookSecret.",
        tags=("webhooks",),
    ),
    capability=WEBHOOKS,
    input=ControlPlaneWebhookListInput,
    output=ControlPlaneWebhookListOutput,
    auth=AuthLevel.ADMIN,
    graphql_name="webhookEndpoints",
)
