"""controlPlane.execution.lane.list"""

from __future__ import annotations

from app.auth import AuthLevel
from app.contracts.control_plane.constants import AUDIT, DEFAULT_PAGE_SIZE, meta
from app.contracts.control_plane.shared import ControlPlaneExecutionLaneSummary, Limit, Offset
from app.contracts.control_plane.statuses import LaneKey, LaneStatus
from app.contracts.model import define_query
from app.contracts.types import ContractModel


class ControlPlaneExecutionLaneListInput(ContractModel):
    lane_key: LaneKey | None = None
    lane_status: LaneStatus | None = None
    limit: Limit | None = DEFAULT_PAGE_SIZE
    offset: Offset | None = 0


class ControlPlaneExecutionLaneListOutput(ContractModel):
    items: list[ControlPlaneExecutionLaneSummary]
    total: int


SPEC = define_query(
    meta(
        "controlPlane.execution.lane.list",
        title="List Execution Lanes",
        description="Runs by lane (plan, execute, review, complete) and lane status (active, blocked, done, stopped).",
        goal="Give operators a board of which runs wait on whom.",
        context="Most recently updated first; every field is derived from stored state.",
        tags=("lane",),
    ),
    capability=AUDIT,
    input=ControlPlaneExecutionLaneListInput,
    output=ControlPlaneExecutionLaneListOutput,
    auth=AuthLevel.ADMIN,
    graphql_name="executionLanes",
)
