"""pendingApprovals: the steps that wait for a decision, the longest waiting first."""

from __future__ import annotations

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal
from app.contracts.control_plane.queries.approval_list import (
    ControlPlaneApprovalListInput,
    ControlPlaneApprovalListOutput,
    ControlPlanePendingApproval,
)
from app.contracts.control_plane.statuses import StepStatus
from app.db.tables import execution_table as execution_t
from app.db.tables import step_table as step_t
from app.services.kernel.grants import in_grants
from app.services.kernel.paging import page


async def list_pending_approvals(
    session: AsyncSession, principal: Principal | None, data: ControlPlaneApprovalListInput
) -> ControlPlaneApprovalListOutput:
    filters: list[ColumnElement[bool]] = [
        step_t.c.status == StepStatus.AWAITING_APPROVAL,
        in_grants(principal, execution_t.c.workspace_id),
    ]
    if data.workspace_id is not None:
        filters.append(execution_t.c.workspace_id == data.workspace_id)
    if data.risk_tier is not None:
        filters.append(step_t.c.risk_tier == data.risk_tier)
    joined = step_t.join(execution_t, execution_t.c.id == step_t.c.execution_id)
    found = await page(
        session,
        select(
            step_t.c.id,
            step_t.c.position,
            step_t.c.key,
            step_t.c.risk_tier,
            step_t.c.updated_at,
            execution_t.c.id.label("execution_id"),
            execution_t.c.status.label("execution_status"),
            execution_t.c.risk_tier.label("execution_risk_tier"),
            execution_t.c.workspace_id,
        )
        .select_from(joined)
        .where(*filters)
        .order_by(step_t.c.updated_at, step_t.c.id),
        data.limit,
        data.offset,
    )
    items = [
        ControlPlanePendingApproval(
            execution_id=row.execution_id,
            execution_status=row.execution_status,
            execution_risk_tier=row.execution_risk_tier,
            workspace_id=row.workspace_id,
            step_id=row.id,
            position=row.position,
            key=row.key,
            risk_tier=row.risk_tier,
            awaiting_since=row.updated_at,
        )
        for row in found.rows
    ]
    return ControlPlaneApprovalListOutput(items=items, total=found.total)
