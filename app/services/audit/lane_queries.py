"""executionLane and executionLanes: runs with the facts their lanes are derived from, in a fixed
number of statements (count, page, steps) whatever the page size."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import BindParameter, ColumnElement, Select, bindparam, func, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth import Principal
from app.contracts.control_plane.constants import DEFAULT_PAGE_SIZE
from app.contracts.control_plane.queries.lane_get import (
    ControlPlaneExecutionLaneGetInput,
    ControlPlaneExecutionLaneGetOutput,
)
from app.contracts.control_plane.queries.lane_list import (
    ControlPlaneExecutionLaneListInput,
    ControlPlaneExecutionLaneListOutput,
)
from app.db.tables import bundle_table as bundle_t
from app.db.tables import decision_table as decision_t
from app.db.tables import event_table as event_t
from app.db.tables import execution_table as execution_t
from app.db.tables import plan_table as plan_t
from app.db.tables import run_table as run_t
from app.db.tables import step_table as step_t
from app.db.tables import tally_table as tally_t
from app.errors import NotFound
from app.services.kernel.clock import utcnow
from app.services.kernel.grants import grants_shape, in_grants, in_grants_shaped, shaped_grant_params
from app.services.kernel.paging import PageStatements, page_of
from app.services.lifecycle.interface import (
    RunFacts,
    StepFacts,
    StepSummaryFacts,
    run_detail,
    run_state_sql,
    run_summary,
    step_facts,
    tally_count,
)

_Facts = TypeVar("_Facts")


def _runs_with_facts(*, detail: bool = True) -> Select[Any]:
    """Runs with their facts; `detail=False`: only what a summary reads (not the counts of decisions and events,
    nor the latest bundle's id)."""
    state = run_state_sql().label("state")
    latest_bundle = (
        select(bundle_t.c.id, bundle_t.c.exported_at)
        .where(bundle_t.c.run_id == run_t.c.id)
        .order_by(bundle_t.c.ordinal.desc())
        .limit(1)
        .correlate(run_t)
    )
    columns = [
        run_t.c.id.label("run_id"),
        run_t.c.execution_id,
        state,
        execution_t.c.updated_at,
        select(plan_t.c.verdict).where(plan_t.c.id == run_t.c.plan_id).scalar_subquery().label("plan_verdict"),
        select(func.count()).where(bundle_t.c.run_id == run_t.c.id).scalar_subquery().label("bundle_count"),
        latest_bundle.with_only_columns(bundle_t.c.exported_at).scalar_subquery().label("latest_bundle_at"),
    ]
    if detail:
        columns += [
            run_t.c.attempt,
            latest_bundle.with_only_columns(bundle_t.c.id).scalar_subquery().label("latest_bundle_id"),
            select(func.count())
            .where(decision_t.c.execution_id == run_t.c.execution_id)
            .scalar_subquery()
            .label("approval_count"),
            select(func.count()).where(event_t.c.run_id == run_t.c.id).scalar_subquery().label("transition_count"),
        ]
    return select(*columns).select_from(run_t.join(execution_t, execution_t.c.id == run_t.c.execution_id))


def _steps_of_executions(*columns: Any) -> Select[Any]:
    """The steps of the executions `execution_ids`, in order: the execution's id, the facts every lane reads
    (position, key, status, risk tier, requires approval), then `columns`."""
    return (
        select(
            step_t.c.execution_id,
            step_t.c.position,
            step_t.c.key,
            step_t.c.status,
            step_t.c.risk_tier,
            step_t.c.requires_approval,
            *columns,
        )
        .where(step_t.c.execution_id.in_(bindparam("execution_ids", expanding=True)))
        .order_by(step_t.c.execution_id, step_t.c.position)
    )


_STEP_FACTS = _steps_of_executions(
    step_t.c.decided_by,
    step_t.c.error_code,
    step_t.c.updated_at,
    step_t.c.required_approvals,
    step_t.c.approvals_given,
    step_t.c.awaiting_since,
)
"""What a lane detail reads of each step (StepFacts): not the step's input, output or decision texts, whose JSON
and time columns were most of a lanes page's cost."""

_STEP_SUMMARY_FACTS = _steps_of_executions(
    step_t.c.decided_by.is_not(None),
    func.coalesce(step_t.c.required_approvals, 1),
    func.coalesce(step_t.c.approvals_given, 0),
)
"""What a lane summary reads of each step (StepSummaryFacts, in its order): no times, no error code."""


async def _grouped_steps(
    session: AsyncConnection,
    statement: Select[Any],
    facts: Callable[[Sequence[Any]], _Facts],
    execution_ids: Sequence[str],
) -> dict[str, list[_Facts]]:
    """`statement`'s steps of these executions, by execution, each made by `facts` from its columns after the
    execution's id."""
    grouped: dict[str, list[_Facts]] = defaultdict(list)
    if execution_ids:
        rows = await session.execute(statement, {"execution_ids": sorted(set(execution_ids))})
        for execution_id, *columns in rows:
            grouped[execution_id].append(facts(columns))
    return grouped


async def _steps_by_execution(session: AsyncConnection, execution_ids: Sequence[str]) -> dict[str, list[StepFacts]]:
    return await _grouped_steps(session, _STEP_FACTS, step_facts, execution_ids)  # step_facts: _STEP_FACTS's order


async def _summary_steps(session: AsyncConnection, execution_ids: Sequence[str]) -> dict[str, list[StepSummaryFacts]]:
    return await _grouped_steps(session, _STEP_SUMMARY_FACTS, StepSummaryFacts._make, execution_ids)


async def get_lane(
    session: AsyncConnection, principal: Principal | None, data: ControlPlaneExecutionLaneGetInput
) -> ControlPlaneExecutionLaneGetOutput:
    granted = in_grants(principal, execution_t.c.workspace_id)
    row = (await session.execute(_runs_with_facts().where(run_t.c.id == data.run_id, granted))).one_or_none()
    if row is None:
        raise NotFound(f"Run {data.run_id!r} does not exist.")
    steps = await _steps_by_execution(session, [row.execution_id])
    return ControlPlaneExecutionLaneGetOutput(
        run=run_detail(RunFacts.from_rows(row, steps[row.execution_id], utcnow()))
    )


def _lane_filters(*, lane_key: bool, lane_status: bool) -> tuple[list[ColumnElement[bool]], list[ColumnElement[bool]]]:
    """The filters of the two kinds of run: current runs (through their execution's stored lane) and runs that are
    no longer current (through their own stored ended lane; NULL while current, so the index skips current runs)."""
    current: list[ColumnElement[bool]] = [execution_t.c.run_id.is_not(None)]
    ended: list[ColumnElement[bool]] = [run_t.c.ended_lane_key.is_not(None), run_t.c.id != execution_t.c.run_id]
    if lane_key:
        current.append(execution_t.c.lane_key == bindparam("lane_key"))
        ended.append(run_t.c.ended_lane_key == bindparam("lane_key"))
    if lane_status:
        current.append(execution_t.c.lane_status == bindparam("lane_status"))
        ended.append(run_t.c.ended_lane_status == bindparam("lane_status"))
    return current, ended


@cache
def _lane_page(grants: str, *, lane_key: bool, lane_status: bool) -> PageStatements:
    """The lanes page for one shape of filters, built once: the page's runs with their facts and the exact total.
    The page is the merge of the first `offset + limit` (`p_head`) runs of each kind."""
    granted = in_grants_shaped(grants, execution_t.c.workspace_id)
    current, ended = _lane_filters(lane_key=lane_key, lane_status=lane_status)
    current_runs = select(execution_t.c.run_id.label("id"), execution_t.c.updated_at).where(granted, *current)
    ended_runs = (
        select(run_t.c.id.label("id"), execution_t.c.updated_at)
        .select_from(run_t.join(execution_t, execution_t.c.id == run_t.c.execution_id))
        .where(granted, *ended)
    )
    head: BindParameter[int] = bindparam("p_head")
    heads = [
        select(runs.c.id, runs.c.updated_at)
        for runs in (
            current_runs.order_by(execution_t.c.updated_at.desc(), execution_t.c.run_id).limit(head).subquery(),
            ended_runs.order_by(execution_t.c.updated_at.desc(), run_t.c.id).limit(head).subquery(),
        )
    ]
    merged = union_all(*heads).subquery()
    page_ids = (
        select(merged.c.id)
        .order_by(merged.c.updated_at.desc(), merged.c.id)
        .limit(bindparam("p_limit"))
        .offset(bindparam("p_offset"))
    )
    current_total: ColumnElement[int]
    if lane_key or lane_status:
        current_total = select(func.count()).select_from(current_runs.subquery()).scalar_subquery()
    else:
        # Every execution with a run has a current run: the executions granted (the tally's exact sum, a few rows
        # per group) less those without a run yet (a range of ix_execution_run_id's NULLs), instead of counting
        # the run_id index entry by entry, as long as the table (app/services/lifecycle/tally.py).
        without_run = select(func.count()).where(granted, execution_t.c.run_id.is_(None)).scalar_subquery()
        current_total = tally_count([in_grants_shaped(grants, tally_t.c.workspace_id)]).scalar_subquery() - without_run
    total = select(current_total + select(func.count()).select_from(ended_runs.subquery()).scalar_subquery())
    runs = (
        _runs_with_facts(detail=False)
        .where(run_t.c.id.in_(page_ids))
        .order_by(execution_t.c.updated_at.desc(), run_t.c.id)
    )
    return PageStatements.of(runs, total, paged=False)


async def list_lanes(
    session: AsyncConnection, principal: Principal | None, data: ControlPlaneExecutionLaneListInput
) -> ControlPlaneExecutionLaneListOutput:
    """Runs, the most recently updated execution first. A run's lane is stored (generated columns, migration 0006):
    a current run's on its execution, an ended run's on the run, so each filter is an index range and the page
    is the merge of the first `offset + limit` of each kind; the total counts both kinds, exactly."""
    statements = _lane_page(
        grants_shape(principal), lane_key=data.lane_key is not None, lane_status=data.lane_status is not None
    )
    limit, offset = data.limit or DEFAULT_PAGE_SIZE, data.offset or 0
    params = {
        "lane_key": data.lane_key,
        "lane_status": data.lane_status,
        "p_head": offset + limit,
        **shaped_grant_params(principal),
    }
    found = await page_of(session, statements, params, limit, offset)
    steps = await _summary_steps(session, [row.execution_id for row in found.rows])
    items = [run_summary(row, steps[row.execution_id]) for row in found.rows]
    return ControlPlaneExecutionLaneListOutput(items=items, total=found.total)
