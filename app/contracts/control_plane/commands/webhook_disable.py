"""controlPlane.webhook.disable — stop delivering to an endpoint (project addition)."""

from __future__ import annotations

from app.auth import AuthLevel
from app.contracts.control_plane.constants import WEBHOOKS, meta
from app.contracts.model import define_command
from app.contracts.types import ID, ContractModel, Timestamp


class ControlPlaneWebhookDisableInput(ContractModel):
    endpoint_id: ID
    disabled_by: ID


class ControlPlaneWebhookDisableOutput(ContractModel):
    endpoint_id: ID
    status: str
    disabled_at: Timestamp


SPEC = define_command(
    meta(
        "controlPlane.webhook.disable",
        title="Disable Webhook Endpoint",
        description="Disable a webhook endpoint: nothing more is delivered to it (project addition).",
        goal="Let operators stop deliveries to a receiver at once.",
        context=(
            "Disabling a disabled endpoint answers the original time and changes nothing. A receiver answering "
            "410 Gone disables its endpoint too."
        ),
        tags=("webhooks",),
    ),
    capability=WEBHOOKS,
    input=ControlPlaneWebhookDisableInput,
    output=ControlPlaneWebhookDisableOutput,
    auth=AuthLevel.ADMIN,
    graphql_name="disableWebhookEndpoint",
    actor_fields=("disabled_by",),
)
