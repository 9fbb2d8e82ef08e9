"""controlPlane.trace.get — the ordered timeline of an execution."""

from __future__ import annotations

from app.auth import AuthLevel
from app.contracts.control_plane.constants import AUDIT, meta
from app.contracts.control_plane.shared import ControlPlaneTraceEntry
from app.contracts.model import define_query
from app.contracts.types import ID, ContractModel


class ControlPlaneTraceGetInput(ContractModel):
    execution_id: ID
    include_payloads: bool | None = False


class ControlPlaneTraceGetOutput(ContractModel):
    execution_id: ID
    entries: list[ControlPlaneTraceEntry]


SPEC = define_query(
    meta(
        "controlPlane.trace.get",
        title="Get Trace",
        description="The timeline of an execution: every event and state transition in log order.",
        goal="Show what happened, when, and who did it, without reading raw logs.",
        context=(
            "stage is the event (e.g. step.started), status the state it led to, metadata the sequence, event key, "
            "run and step; event payloads only when includePayloads is true."
        ),
    ),
    capability=AUDIT,
    input=ControlPlaneTraceGetInput,
    output=ControlPlaneTraceGetOutput,
    auth=AuthLevel.ADMIN,
    graphql_name="trace",
)
