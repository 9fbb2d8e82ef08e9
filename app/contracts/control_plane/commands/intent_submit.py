"""controlPlane.intent.submit — where every execution starts."""

from __future__ import annotations

from pydantic import Field

from app.auth import AuthLevel
from app.contracts.control_plane.constants import CORE, meta
from app.contracts.model import define_command
from app.contracts.types import ID, ContractModel, JSONObject, Text, Timestamp

MAX_INTENT_LENGTH = 10_000


class ControlPlaneIntentSubmitInput(ContractModel):
    workspace_id: ID
    actor_id: ID | None = Field(default=None, description="Who the intent is for, when a channel submits it.")
    channel_key: str | None = Field(default=None, min_length=1, max_length=200)
    text: Text(MAX_INTENT_LENGTH)  # type: ignore[valid-type]
    metadata: JSONObject | None = None
    trace_id: str | None = Field(default=None, min_length=1, max_length=200)


class ControlPlaneIntentSubmitOutput(ContractModel):
    execution_id: ID
    intent_id: ID
    status: str
    received_at: Timestamp


SPEC = define_command(
    meta(
        "controlPlane.intent.submit",
        title="Submit Intent",
        description="Submit what should be done; creates the intent and its execution (pending).",
        goal="Start every execution from a recorded intent, so its origin is never in doubt.",
        context="Used by channels, Studio and scripts; compilePlan turns the intent into a plan.",
        tags=("intent",),
    ),
    capability=CORE,
    input=ControlPlaneIntentSubmitInput,
    output=ControlPlaneIntentSubmitOutput,
    auth=AuthLevel.USER,
    graphql_name="submitIntent",
)
