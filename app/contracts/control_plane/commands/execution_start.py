"""controlPlane.execution.start — the first run of a verified plan."""

from __future__ import annotations

from pydantic import Field

from app.auth import AuthLevel
from app.contracts.control_plane.constants import CORE, meta
from app.contracts.control_plane.statuses import RunMode
from app.contracts.model import define_command
from app.contracts.types import ID, ContractModel, Timestamp


class ControlPlaneExecutionStartInput(ContractModel):
    execution_id: ID
    plan_id: ID
    mode: RunMode | None = Field(default=RunMode.LIVE, description="live (default) or dry_run.")


class ControlPlaneExecutionStartOutput(ContractModel):
    run_id: ID
    status: str
    started_at: Timestamp


SPEC = define_command(
    meta(
        "controlPlane.execution.start",
        title="Start Execution",
        description="Start a run of a verified plan; the first step that requires approval waits for a decision.",
        goal="Run only plans the policy accepted, as first-class runs that can be paused, retried and audited.",
        context="The execution becomes running, or awaiting_approval when its first step requires approval.",
    ),
    capability=CORE,
    input=ControlPlaneExecutionStartInput,
    output=ControlPlaneExecutionStartOutput,
    auth=AuthLevel.ADMIN,
    graphql_name="startExecution",
)
