"""Models the webhook contracts share (CONTRACTS.md, "Webhooks")."""

from __future__ import annotations

from app.contracts.types import ID, ContractModel, Timestamp

SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix of every secret, not a secret
ALL_EVENTS = "*"
"""The event key that subscribes an endpoint to every event."""
MAX_EVENT_KEYS = 50
MAX_URL_LENGTH = 2000
MAX_DESCRIPTION_LENGTH = 1000


class ControlPlaneWebhookEndpoint(ContractModel):
    """A receiver of events: where they go, which ones, and how its deliveries fare."""

    endpoint_id: ID
    url: str
    event_keys: list[str]
    workspace_id: ID | None = None
    """None: every workspace (and the events of no execution, such as the skill registry's)."""
    description: str | None = None
    status: str
    """`active`, `failing` (the last attempt failed; deliveries go on) or `disabled`."""
    created_by: ID
    created_at: Timestamp
    last_success_at: Timestamp | None = None
    last_failure_at: Timestamp | None = None
    consecutive_failures: int


class ControlPlaneWebhookDelivery(ContractModel):
    """One event for one endpoint; its id is the `webhook-id` header, the same on every attempt."""

    delivery_id: ID
    endpoint_id: ID
    event_cursor: str
    event_key: str
    status: str
    """`pending`, `retrying`, `succeeded` or `failed` (every retry of the schedule failed, or 410 Gone)."""
    attempts: int
    last_status_code: int | None = None
    last_error: str | None = None
    last_attempt_at: Timestamp | None = None
    next_attempt_at: Timestamp | None = None
    created_at: Timestamp
