"""controlPlane.runner.stepFailed — a runner could not finish a step (project addition)."""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

from app.auth import AuthLevel
from app.contracts.control_plane.commands.runner_reports import ControlPlaneRunnerStepReportOutput
from app.contracts.control_plane.constants import CORE, meta
from app.contracts.model import define_command
from app.contracts.types import ID, ContractModel, Text

ErrorCode = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]{0,99}$")]


class ControlPlaneRunnerStepFailedInput(ContractModel):
    run_id: ID
    step_id: ID
    error_code: ErrorCode
    message: Text(2000)  # type: ignore[valid-type]


SPEC = define_command(
    meta(
        "controlPlane.runner.stepFailed",
        title="Report Step Failed",
        description="A runner reports that a running step failed; the run and the execution become failed.",
        goal="Stop on failure and keep the later steps, so retryExecution can resume from the failed one.",
        context="errorCode is UPPER_SNAKE_CASE (e.g. TIMEOUT). Repeating the same report returns it unchanged.",
        tags=("runner",),
    ),
    capability=CORE,
    input=ControlPlaneRunnerStepFailedInput,
    output=ControlPlaneRunnerStepReportOutput,
    auth=AuthLevel.RUNNER,
    graphql_name="reportStepFailed",
)
