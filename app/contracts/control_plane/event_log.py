"""Models of the event log that the `events` query and the `events` subscription share (CONTRACTS.md,
"Event log and live delivery")."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from app.contracts.types import ID, ContractModel, JSONObject, Timestamp

MAX_EVENT_PAGE = 500
DEFAULT_EVENT_PAGE = 100
CURSOR_PATTERN = r"^[0-9]{1,20}(\.[0-9]{1,20})?$"

Cursor = Annotated[str, Field(pattern=CURSOR_PATTERN, max_length=41, description="An event's `cursor`.")]
EventKeys = Annotated[list[Annotated[str, Field(min_length=1, max_length=200)]], Field(min_length=1, max_length=50)]


class ControlPlaneEventRecord(ContractModel):
    """One event of the log, as every reader sees it: in the log's order, each exactly once."""

    cursor: str
    """Where a reader resumes: pass it as `after` to read what follows this event."""
    position: str
    """The event's global position (a decimal string: GraphQL `Int` is 32-bit); unique, increasing."""
    key: str
    version: str
    workspace_id: ID | None = None
    execution_id: ID | None = None
    run_id: ID | None = None
    step_id: ID | None = None
    actor_id: ID | None = None
    stream_version: int | None = None
    """The event's number among its execution's events: 1, 2, 3 ... without gaps."""
    occurred_at: Timestamp
    payload: JSONObject
