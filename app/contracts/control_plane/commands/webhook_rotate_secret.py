"""controlPlane.webhook.rotateSecret — a new signing secret; the old one signs on for 24 h (project addition)."""

from __future__ import annotations

from app.auth import AuthLevel
from app.contracts.control_plane.constants import WEBHOOKS, meta
from app.contracts.model import define_command
from app.contracts.types import ID, ContractModel, Timestamp


class ControlPlaneWebhookRotateSecretInput(ContractModel):
    endpoint_id: ID
    rotated_by: ID


class ControlPlaneWebhookRotateSecretOutput(ContractModel):
    endpoint_id: ID
    secret: str
    """The new secret (`whsec_` + base64), shown only in this answer."""
    previous_secret_valid_until: Timestamp
    """Until then every delivery carries both signatures (the old secret's and the new one's)."""


SPEC = define_command(
    meta(
        "controlPlane.webhook.rotateSecret",
        title="Rotate Webhook Secret",
        description="Give a webhook endpoint a new signing secret; for 24 hours deliveries are signed with "
        "both the new and the previous secret (project addition).",
        goal="Let a receiver change its secret without missing or refusing a delivery.",
        context="A disabled endpoint cannot be rotated (CONFLICT). Rotating again replaces the previous secret.",
        tags=("webhooks",),
    ),
    capability=WEBHOOKS,
    input=ControlPlaneWebhookRotateSecretInput,
    output=ControlPlaneWebhookRotateSecretOutput,
    auth=AuthLevel.ADMIN,
    graphql_name="rotateWebhookSecret",
    actor_fields=("rotated_by",),
)
