"""controlPlane.event.list — read the event log from a cursor (project addition)."""

from __future__ import annotations

from pydantic import Field

from app.auth import AuthLevel
from app.contracts.control_plane.constants import AUDIT, meta
from app.contracts.control_plane.event_log import (
    DEFAULT_EVENT_PAGE,
    MAX_EVENT_PAGE,
    ControlPlaneEventRecord,
    Cursor,
    EventKeys,
)
from app.contracts.model import define_query
from app.contracts.types import ID, ContractModel


class ControlPlaneEventListInput(ContractModel):
    after: Cursor | None = None
    """The `cursor` of the last event read; absent: from the start of the log."""
    workspace_id: ID | None = None
    execution_id: ID | None = None
    event_keys: EventKeys | None = None
    limit: int | None = Field(default=DEFAULT_EVENT_PAGE, ge=1, le=MAX_EVENT_PAGE)


class ControlPlaneEventListOutput(ContractModel):
    items: list[ControlPlaneEventRecord]
    end_cursor: str | None = None
    """The cursor to read on from (the last item's; `after` again when the page is empty)."""
    has_more: bool


SPEC = define_query(
    meta(
        "controlPlane.event.list",
        title="List Events",
        description="Read the event log after a cursor, in the log's order, filtered by workspace, execution "
        "and event keys (project addition).",
        goal="Let tools follow everything that happens, replaying from where they stopped, with nothing missed.",
        context="A reader that pages with endCursor sees every committed event exactly once, in order.",
    ),
    capability=AUDIT,
    input=ControlPlaneEventListInput,
    output=ControlPlaneEventListOutput,
    auth=AuthLevel.ADMIN,
    graphql_name="events",
)
