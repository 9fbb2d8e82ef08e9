"""controlPlane.execution.lane.get"""

from __future__ import annotations

from app.auth import AuthLevel
from app.contracts.control_plane.constants import AUDIT, meta
from app.contracts.control_plane.shared import ControlPlaneExecutionLaneDetail
from app.contracts.model import define_query
from app.contracts.types import ID, ContractModel


class ControlPlaneExecutionLaneGetInput(ContractModel):
    run_id: ID


class ControlPlaneExecutionLaneGetOutput(ContractModel):
    run: ControlPlaneExecutionLaneDetail


SPEC = define_query(
    meta(
        "controlPlane.execution.lane.get",
        title="Get Execution Lane",
        description="The lane of one run: owner, phase, missing evidence and approvals, risks, next lane.",
        goal="Tell an operator what a run still needs before it may finish.",
        context="Every field is derived from stored steps, decisions, events and evidence exports.",
        tags=("lane",),
    ),
    capability=AUDIT,
    input=ControlPlaneExecutionLaneGetInput,
    output=ControlPlaneExecutionLaneGetOutput,
    auth=AuthLevel.ADMIN,
    graphql_name="executionLane",
)
