"""controlPlane.webhook.create — a new endpoint that receives events, signed (project addition)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from app.auth import AuthLevel
from app.contracts.control_plane.constants import WEBHOOKS, meta
from app.contracts.control_plane.webhooks import MAX_DESCRIPTION_LENGTH, MAX_EVENT_KEYS, MAX_URL_LENGTH
from app.contracts.model import define_command
from app.contracts.types import ID, ContractModel, Text, Timestamp

WebhookEventKeys = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=200)]], Field(min_length=1, max_length=MAX_EVENT_KEYS)
]


class ControlPlaneWebhookCreateInput(ContractModel):
    url: Text(MAX_URL_LENGTH)  # type: ignore[valid-type]
    event_keys: WebhookEventKeys
    """Event keys to deliver (`controlPlane.execution.failed`, ...), or `["*"]` for every event."""
    workspace_id: ID | None = None
    """The workspace whose events are delivered; None: every workspace (needs the `*` grant)."""
    description: str | None = Field(default=None, max_length=MAX_DESCRIPTION_LENGTH)
    created_by: ID


class ControlPlaneWebhookCreateOutput(ContractModel):
    endpoint_id: ID
    secret: str
    """`whsec_` + base64 of 32 random bytes: the signing secret, shown only in this answer."""
    created_at: Timestamp


SPEC = define_command(
    meta(
        "controlPlane.webhook.create",
        title="Create Webhook Endpoint",
        description="Register a URL that receives the events of a workspace (or of all), signed as Standard "
        "Webhooks, from now on (project addition).",
        goal="Tell chat bots, paging, ticketing and SIEM tools what happens, without them polling.",
        context=(
            "The secret is shown only in this answer. Only https URLs (http with WEBHOOK_ALLOW_HTTP=1) whose host "
            "does not resolve to a loopback, private, link-local or metadata address are accepted."
        ),
        tags=("webhooks",),
    ),
    capability=WEBHOOKS,
    input=ControlPlaneWebhookCreateInput,
    output=ControlPlaneWebhookCreateOutput,
    auth=AuthLevel.ADMIN,
    graphql_name="createWebhookEndpoint",
    actor_fields=("created_by",),
)
