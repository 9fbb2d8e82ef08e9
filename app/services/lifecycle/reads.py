"""execution and executions: an execution with its steps, and pages of them. Explicit queries, no lazy loads."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth import Principal
from app.contracts.control_plane.queries.execution_get import (
    ControlPlaneExecutionGetInput,
    ControlPlaneExecutionGetOutput,
)
from app.contracts.control_plane.queries.execution_list import (
    ControlPlaneExecutionListInput,
    ControlPlaneExecutionListOutput,
)
from app.contracts.control_plane.shared import (
    ControlPlaneExecutionLaneState,
    ControlPlaneExecutionRecord,
    ControlPlaneExecutionStep,
    ControlPlaneExecutionSummary,
)
from app.contracts.control_plane.statuses import DONE_STEP_STATUSES, StepStatus
from app.db.tables import bundle_table as bundle_t
from app.db.tables import execution_table as execution_t
from app.db.tables import plan_table as plan_t
from app.db.tables import step_table as step_t
from app.db.tables import tally_table as tally_t
from app.errors import NotFound
from app.services.kernel.grants import grants_shape, in_grants, in_grants_shaped, shaped_grant_params
from app.services.kernel.literals import none_of, one_of
from app.services.kernel.paging import PageStatements, page_of
from app.services.lifecycle.lanes import execution_lane, plan_phase, run_state_sql_for_execution
from app.services.lifecycle.tally import tally_count


@cache
def _lane_columns() -> tuple[Any, ...]:
    """Correlated per-execution facts its lane is derived from: one statement for a whole page. Built once:
    SQL constructs are immutable, and building these five subqueries was a tenth of a page's server time."""
    return (
        run_state_sql_for_execution().label("state"),
        select(plan_t.c.verdict).where(plan_t.c.id == execution_t.c.plan_id).scalar_subquery().label("plan_verdict"),
        select(func.count())
        .where(step_t.c.execution_id == execution_t.c.id, step_t.c.status == StepStatus.AWAITING_APPROVAL)
        .scalar_subquery()
        .label("pending_approvals"),
        select(func.count()).where(bundle_t.c.run_id == execution_t.c.run_id).scalar_subquery().label("bundles"),
        select(step_t.c.requires_approval & one_of(step_t.c.status, (StepStatus.PENDING, StepStatus.AWAITING_APPROVAL)))
        .where(step_t.c.execution_id == execution_t.c.id, none_of(step_t.c.status, DONE_STEP_STATUSES))
        .order_by(step_t.c.position)
        .limit(1)
        .scalar_subquery()
        .label("next_needs_approval"),
    )


def _lane(row: Any) -> ControlPlaneExecutionLaneState:
    return _lane_of(
        row.state, row.plan_id, row.plan_verdict, row.pending_approvals, row.bundles, row.next_needs_approval
    )


def _lane_of(  # noqa: PLR0917 - the values of _lane_columns(), in their order
    state: str, plan_id: str | None, verdict: str | None, pending_approvals: int, bundles: int, next_needs: Any
) -> ControlPlaneExecutionLaneState:
    """The lane of `_lane_columns()`'s values (`execution_lane` hands out one object per distinct lane)."""
    return execution_lane(
        state, plan_phase(plan_id, verdict), pending_approvals, bundles, next_needs_approval=bool(next_needs)
    )


async def get_execution(
    session: AsyncConnection, principal: Principal | None, data: ControlPlaneExecutionGetInput
) -> ControlPlaneExecutionGetOutput:
    execution = (
        await session.execute(
            select(execution_t, *_lane_columns()).where(
                execution_t.c.id == data.execution_id, in_grants(principal, execution_t.c.workspace_id)
            )
        )
    ).one_or_none()
    if execution is None:
        raise NotFound(f"Execution {data.execution_id!r} does not exist.")
    step_rows = (
        await session.execute(
            select(step_t).where(step_t.c.execution_id == data.execution_id).order_by(step_t.c.position)
        )
    ).all()
    steps = [
        ControlPlaneExecutionStep(
            step_id=row.id,
            position=row.position,
            key=row.key,
            status=row.status,
            risk_tier=row.risk_tier,
            requires_approval=row.requires_approval,
            decided_by=row.decided_by,
            decided_at=row.decided_at,
            decision_note=row.decision_note,
        )
        for row in step_rows
    ]
    record = ControlPlaneExecutionRecord(
        execution_id=execution.id,
        intent_id=execution.intent_id,
        plan_id=execution.plan_id,
        run_id=execution.run_id,
        status=execution.status,
        risk_tier=execution.risk_tier,
        requires_approval=execution.requires_approval,
        lane=_lane(execution),
        created_at=execution.created_at,
        updated_at=execution.updated_at,
        steps=steps,
    )
    return ControlPlaneExecutionGetOutput(execution=record)


@cache
def _list_statements(grants: str, *, workspace: bool, status: bool, risk_tier: bool) -> PageStatements:
    """The executions page for one shape of filters (which are given; their values are bind parameters). Its exact
    total is summed from the execution tally (app/services/lifecycle/tally.py): a few rows per group instead of
    an index range as long as the matches."""
    filters: list[ColumnElement[bool]] = [in_grants_shaped(grants, execution_t.c.workspace_id)]
    counted: list[ColumnElement[bool]] = [in_grants_shaped(grants, tally_t.c.workspace_id)]
    for given, column, tallied in (
        (workspace, execution_t.c.workspace_id, tally_t.c.workspace_id),
        (status, execution_t.c.status, tally_t.c.status),
        (risk_tier, execution_t.c.risk_tier, tally_t.c.risk_tier),
    ):
        if given:
            filters.append(column == bindparam(column.name))
            counted.append(tallied == bindparam(column.name))
    query = (
        select(
            execution_t.c.id,
            execution_t.c.status,
            execution_t.c.risk_tier,
            execution_t.c.updated_at,
            execution_t.c.plan_id,
            *_lane_columns(),
        )
        .where(*filters)
        .order_by(execution_t.c.updated_at.desc(), execution_t.c.id)
    )
    return PageStatements.of(query, tally_count(counted), named=False)  # list_executions unpacks the rows


async def list_executions(
    session: AsyncConnection, principal: Principal | None, data: ControlPlaneExecutionListInput
) -> ControlPlaneExecutionListOutput:
    statements = _list_statements(
        grants_shape(principal),
        workspace=data.workspace_id is not None,
        status=data.status is not None,
        risk_tier=data.risk_tier is not None,
    )
    params = {
        "workspace_id": data.workspace_id,
        "status": data.status,
        "risk_tier": data.risk_tier,
        **shaped_grant_params(principal),
    }
    found = await page_of(session, statements, params, data.limit, data.offset, alone=True)
    items = [  # the columns of _list_statements, in order (unpacked: a Row's attribute reads were a fifth of a page)
        ControlPlaneExecutionSummary(
            execution_id=execution_id,
            status=status,
            risk_tier=risk_tier,
            lane=_lane_of(state, plan_id, verdict, pending, bundles, next_needs),
            updated_at=updated_at,
        )
        for execution_id, status, risk_tier, updated_at, plan_id, state, verdict, pending, bundles, next_needs, *_ in (
            found.rows
        )
    ]
    return ControlPlaneExecutionListOutput(items=items, total=found.total)
