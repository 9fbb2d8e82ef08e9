"""controlPlane.intent.received"""

from __future__ import annotations

from app.contracts.control_plane.constants import CORE, meta
from app.contracts.model import define_event
from app.contracts.types import ID, ContractModel, Timestamp


class ControlPlaneIntentReceivedPayload(ContractModel):
    execution_id: ID
    intent_id: ID
    received_at: Timestamp
    actor_id: ID | None = None
    channel_key: str | None = None


SPEC = define_event(
    meta(
        "controlPlane.intent.received",
        title="Intent Received",
        description="An intent was received and an execution created for it.",
        goal="Record where every execution started.",
        context="Emitted by submitIntent.",
    ),
    capability=CORE,
    payload=ControlPlaneIntentReceivedPayload,
)
