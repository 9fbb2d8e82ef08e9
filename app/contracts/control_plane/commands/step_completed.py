"""controlPlane.runner.stepCompleted — a runner finished a step (project addition)."""

from __future__ import annotations

from app.auth import AuthLevel
from app.contracts.control_plane.commands.runner_reports import ControlPlaneRunnerStepReportOutput
from app.contracts.control_plane.constants import CORE, meta
from app.contracts.model import define_command
from app.contracts.types import ID, ContractModel, JSONObject


class ControlPlaneRunnerStepCompletedInput(ContractModel):
    run_id: ID
    step_id: ID
    output: JSONObject | None = None


SPEC = define_command(
    meta(
        "controlPlane.runner.stepCompleted",
        title="Report Step Completed",
        description="A runner reports that a running step completed, with its optional output.",
        goal=(
            "Advance the run: the next step that requires approval waits for a decision; "
            "the last one completes the execution."
        ),
        context=(
            "A run being shut down stops here (cancelled). "
            "Repeating the report with the same output returns it unchanged."
        ),
        tags=("runner",),
    ),
    capability=CORE,
    input=ControlPlaneRunnerStepCompletedInput,
    output=ControlPlaneRunnerStepReportOutput,
    auth=AuthLevel.RUNNER,
    graphql_name="reportStepCompleted",
)
