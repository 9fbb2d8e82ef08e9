"""controlPlane.event.stream — follow the event log: replay from a cursor, then live (project addition)."""

from __future__ import annotations

from app.auth import AuthLevel
from app.contracts.control_plane.constants import AUDIT, meta
from app.contracts.control_plane.event_log import ControlPlaneEventRecord, Cursor, EventKeys
from app.contracts.model import define_subscription
from app.contracts.types import ID, ContractModel


class ControlPlaneEventStreamInput(ContractModel):
    after: Cursor | None = None
    """The `cursor` of the last event seen: every later event is replayed, then new ones follow as they
    commit. Absent: only the events that commit from now on."""
    workspace_id: ID | None = None
    execution_id: ID | None = None
    event_keys: EventKeys | None = None


SPEC = define_subscription(
    meta(
        "controlPlane.event.stream",
        title="Stream Events",
        description="Every event of the log after a cursor, then each new one as it commits: in the log's order, "
        "none twice, none skipped, filtered by workspace, execution and event keys (project addition).",
        goal="Let tools and Studio follow what happens live, and resume from where they stopped after a drop.",
        context="The replay and the live part join without a gap or a duplicate; the log is the source of truth "
        "and notifications only wake readers up.",
    ),
    capability=AUDIT,
    input=ControlPlaneEventStreamInput,
    output=ControlPlaneEventRecord,
    auth=AuthLevel.ADMIN,
    graphql_name="events",
)
