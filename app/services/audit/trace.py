"""trace: an execution's history as operators read it, one entry per stored event."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth import Principal
from app.contracts.control_plane.queries.trace_get import ControlPlaneTraceGetInput, ControlPlaneTraceGetOutput
from app.contracts.control_plane.shared import ControlPlaneTraceEntry
from app.contracts.control_plane.statuses import ExecutionStatus, RunState, StepStatus, Verdict
from app.db.tables import event_table as event_t
from app.db.tables import execution_table as execution_t
from app.errors import NotFound
from app.services.kernel.grants import in_grants

# event key -> the status the execution (or, for step events, the step) had after it; the plan and
# evidence events name what happened to the plan (compiled, verified) or the run (exported) instead
TRACE_STATUS: Mapping[str, str] = {
    "controlPlane.intent.received": ExecutionStatus.PENDING,
    "controlPlane.plan.compiled": "compiled",
    "controlPlane.plan.verified": "verified",
    "controlPlane.plan.rejected": Verdict.REJECTED,
    "controlPlane.execution.started": ExecutionStatus.RUNNING,
    "controlPlane.execution.step.approvalRequested": StepStatus.AWAITING_APPROVAL,
    "controlPlane.execution.step.approvalRecorded": StepStatus.AWAITING_APPROVAL,
    "controlPlane.execution.step.escalated": StepStatus.AWAITING_APPROVAL,
    "controlPlane.execution.step.approved": StepStatus.APPROVED,
    "controlPlane.execution.step.expired": StepStatus.EXPIRED,
    "controlPlane.execution.step.blocked": StepStatus.REJECTED,
    "controlPlane.execution.step.started": StepStatus.RUNNING,
    "controlPlane.execution.step.completed": StepStatus.COMPLETED,
    "controlPlane.execution.step.failed": StepStatus.FAILED,
    "controlPlane.execution.paused": ExecutionStatus.PAUSED,
    "controlPlane.execution.shutdownRequested": RunState.STOPPING,
    "controlPlane.execution.retried": ExecutionStatus.RUNNING,
    "controlPlane.execution.completed": ExecutionStatus.COMPLETED,
    "controlPlane.execution.failed": ExecutionStatus.FAILED,
    "controlPlane.execution.cancelled": ExecutionStatus.CANCELLED,
    "controlPlane.execution.aborted": ExecutionStatus.ABORTED,
    "controlPlane.execution.evidence.exported": "exported",
}


def stage_of(event_key: str) -> str:
    """`controlPlane.execution.step.started` -> `step.started`; `controlPlane.plan.compiled` -> `plan.compiled`."""
    parts = event_key.split(".")[1:]
    return ".".join(parts[1:] if parts[0] == "execution" and len(parts) > 2 else parts)


async def get_trace(
    session: AsyncConnection, principal: Principal | None, data: ControlPlaneTraceGetInput
) -> ControlPlaneTraceGetOutput:
    exists = (
        await session.execute(
            select(execution_t.c.id).where(
                execution_t.c.id == data.execution_id, in_grants(principal, execution_t.c.workspace_id)
            )
        )
    ).one_or_none()
    if exists is None:
        raise NotFound(f"Execution {data.execution_id!r} does not exist.")
    rows = await session.execute(
        select(event_t).where(event_t.c.execution_id == data.execution_id).order_by(event_t.c.sequence)
    )
    entries = []
    for row in rows:
        metadata: dict[str, object] = {
            "sequence": row.sequence,
            "eventKey": row.event_key,
            "eventVersion": row.event_version,
        }
        if row.run_id:
            metadata["runId"] = row.run_id
        if row.step_id:
            metadata["stepId"] = row.step_id
        if data.include_payloads:
            metadata["payload"] = row.payload
        status = TRACE_STATUS.get(row.event_key, "recorded")
        if row.event_key == "controlPlane.execution.resumed":
            status = str(row.payload.get("status", ExecutionStatus.RUNNING))
        elif row.event_key == "controlPlane.execution.failed" and row.payload.get("errorCode") == "STEP_REJECTED":
            status = (
                ExecutionStatus.REJECTED
            )  # a rejection ends the execution as rejected (see decisions.py), not failed
        entries.append(
            ControlPlaneTraceEntry(
                timestamp=row.occurred_at,
                stage=stage_of(row.event_key),
                status=status,
                actor_id=row.actor,
                metadata=metadata,
            )
        )
    return ControlPlaneTraceGetOutput(execution_id=data.execution_id, entries=entries)
