"""controlPlane.execution.list"""

from __future__ import annotations

from app.auth import AuthLevel
from app.contracts.control_plane.constants import CORE, DEFAULT_PAGE_SIZE, meta
from app.contracts.control_plane.shared import ControlPlaneExecutionSummary, Limit, Offset
from app.contracts.control_plane.statuses import ExecutionStatus, RiskTier
from app.contracts.model import define_query
from app.contracts.types import ID, ContractModel


class ControlPlaneExecutionListInput(ContractModel):
    workspace_id: ID | None = None
    status: ExecutionStatus | None = None
    risk_tier: RiskTier | None = None
    limit: Limit | None = DEFAULT_PAGE_SIZE
    offset: Offset | None = 0


class ControlPlaneExecutionListOutput(ContractModel):
    items: list[ControlPlaneExecutionSummary]
    total: int


SPEC = define_query(
    meta(
        "controlPlane.execution.list",
        title="List Executions",
        description="List executions, most recently updated first; filter by workspace, status and risk tier.",
        goal="Give operators an overview of executions by workspace and status.",
        context="Used by Studio's execution list and dashboards.",
    ),
    capability=CORE,
    input=ControlPlaneExecutionListInput,
    output=ControlPlaneExecutionListOutput,
    auth=AuthLevel.ADMIN,
    graphql_name="executions",
)
