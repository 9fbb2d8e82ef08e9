"""controlPlane.runner.stepStarted — a runner began a step (project addition)."""

from __future__ import annotations

from app.auth import AuthLevel
from app.contracts.control_plane.commands.runner_reports import ControlPlaneRunnerStepReportOutput
from app.contracts.control_plane.constants import CORE, meta
from app.contracts.model import define_command
from app.contracts.types import ID, ContractModel


class ControlPlaneRunnerStepStartedInput(ContractModel):
    run_id: ID
    step_id: ID


SPEC = define_command(
    meta(
        "controlPlane.runner.stepStarted",
        title="Report Step Started",
        description="A runner reports that it began the next step of a run.",
        goal="Advance executions from what runners actually do, in plan order.",
        context=(
            "Only the next step may start: pending without approval, or approved. CONFLICT while the run is paused, "
            "stopping, awaiting approval or ended. Repeating the report for the running step returns it unchanged."
        ),
        tags=("runner",),
    ),
    capability=CORE,
    input=ControlPlaneRunnerStepStartedInput,
    output=ControlPlaneRunnerStepReportOutput,
    auth=AuthLevel.RUNNER,
    graphql_name="reportStepStarted",
)
