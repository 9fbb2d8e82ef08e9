"""controlPlane.webhook.redeliver — send one delivery again (project addition)."""

from __future__ import annotations

from app.auth import AuthLevel
from app.contracts.control_plane.constants import WEBHOOKS, meta
from app.contracts.model import define_command
from app.contracts.types import ID, ContractModel, Timestamp


class ControlPlaneWebhookRedeliverInput(ContractModel):
    delivery_id: ID
    requested_by: ID


class ControlPlaneWebhookRedeliverOutput(ContractModel):
    delivery_id: ID
    status: str
    next_attempt_at: Timestamp | None = None


SPEC = define_command(
    meta(
        "controlPlane.webhook.redeliver",
        title="Redeliver Webhook",
        description="Queue a succeeded or failed delivery again, with the same webhook-id and body; it is sent "
        "before the endpoint's newer deliveries (project addition).",
        goal="Let operators replay what a receiver lost or refused, without resending everything.",
        context=(
            "A delivery still pending or retrying is already queued (CONFLICT), and so is nothing to a disabled "
            "endpoint (CONFLICT, currentStatus endpoint_disabled). The retry schedule starts over."
        ),
        tags=("webhooks",),
    ),
    capability=WEBHOOKS,
    input=ControlPlaneWebhookRedeliverInput,
    output=ControlPlaneWebhookRedeliverOutput,
    auth=AuthLevel.ADMIN,
    graphql_name="redeliverWebhook",
    actor_fields=("requested_by",),
)
