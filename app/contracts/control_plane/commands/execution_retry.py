"""controlPlane.execution.retry"""

from __future__ import annotations

from app.auth import AuthLevel
from app.contracts.control_plane.constants import CORE, meta
from app.contracts.model import define_command
from app.contracts.types import ID, ContractModel, Timestamp


class ControlPlaneExecutionRetryInput(ContractModel):
    run_id: ID
    retried_by: ID


class ControlPlaneExecutionRetryOutput(ContractModel):
    run_id: ID
    status: str
    phase: str
    retried_at: Timestamp


SPEC = define_command(
    meta(
        "controlPlane.execution.retry",
        title="Retry Execution",
        description="Start a new run of a failed execution from its failed step; runId in the output is the new run.",
        goal="Recover from a failed step without redoing the steps that completed.",
        context="Only the current run of a failed execution can be retried; a step approved before keeps its approval.",
        tags=("lifecycle",),
    ),
    capability=CORE,
    input=ControlPlaneExecutionRetryInput,
    output=ControlPlaneExecutionRetryOutput,
    auth=AuthLevel.ADMIN,
    graphql_name="retryExecution",
    actor_fields=("retried_by",),
)
