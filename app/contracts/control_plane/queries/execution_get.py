"""controlPlane.execution.get"""

from __future__ import annotations

from app.auth import AuthLevel
from app.contracts.control_plane.constants import CORE, meta
from app.contracts.control_plane.shared import ControlPlaneExecutionRecord
from app.contracts.model import define_query
from app.contracts.types import ID, ContractModel


class ControlPlaneExecutionGetInput(ContractModel):
    execution_id: ID


class ControlPlaneExecutionGetOutput(ContractModel):
    execution: ControlPlaneExecutionRecord


SPEC = define_query(
    meta(
        "controlPlane.execution.get",
        title="Get Execution",
        description="Get one execution with its steps and lane state.",
        goal="Show an operator everything needed to decide about an execution.",
        context="Used by Studio's execution page and by scripts that follow an execution.",
    ),
    capability=CORE,
    input=ControlPlaneExecutionGetInput,
    output=ControlPlaneExecutionGetOutput,
    auth=AuthLevel.ADMIN,
    graphql_name="execution",
)
