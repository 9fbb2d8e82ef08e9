"""What the three runner reports share: who may send them and what they answer."""

from __future__ import annotations

from app.contracts.types import ID, ContractModel, Timestamp


class ControlPlaneRunnerStepReportOutput(ContractModel):
    """The step and its execution after the report, and the step that now awaits approval, if any."""

    run_id: ID
    step_id: ID
    step_status: str
    execution_status: str
    awaiting_approval_step_id: ID | None = None
    reported_at: Timestamp
