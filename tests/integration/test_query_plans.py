"""Every list query and filter is served by an index on SQLite and on PostgreSQL, and none reads the execution,
run, step, event or vote table whole (issue 15: reads that stay fast at 100,000 executions).

The database: 1,500 executions of the read benchmark's realistic mix (bench/kit/dataset.py, 20 workspaces, five
steps and ~15 events each), then ANALYZE. Each query runs through the executor (as GraphQL runs it), its statements
are recorded, and each statement's plan is read: SQLite's `EXPLAIN QUERY PLAN`, PostgreSQL's `EXPLAIN` with
sequential scans disabled (on a database this small the planner would rightly prefer them; disabled, a Seq Scan
left in a plan means no index can serve the statement). A plan fails when it scans a big table row by row, or
when it does not use the index the query's filter needs (EXPECTED). Dropping that index makes the test fail: the
last test drops one and checks that the same check reports it.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import text

from app.auth import Principal
from app.contracts.control_plane.queries import approval_list, execution_list, lane_list, skill_list, trace_get
from app.server import Services
from bench.kit.dataset import build
from tests.integration.query_plans import full_scans, indexes_used, plan_of, recording

EXECUTIONS = 1500
SPECS = {
    "pendingApprovals": approval_list.SPEC,
    "executions": execution_list.SPEC,
    "executionLanes": lane_list.SPEC,
    "trace": trace_get.SPEC,
    "skills": skill_list.SPEC,
}
EVERY = Principal.of("dana", {"admin"}, {"*"})
TWO = Principal.of("dana", {"admin"}, {"ws-03", "ws-04"})
STEP_WORKSPACE = "ix_execution_step_status_workspace_awaiting"
"""The inbox's workspace and grant filters on the step's own copy of its execution's workspace (migration 0009)."""
# (query, input, principal, an index one of whose names must be in the plan of some statement); the filter's index
CASES: list[tuple[str, dict[str, Any], Principal, set[str]]] = [
    ("pendingApprovals", {}, EVERY, {"ix_execution_step_status_awaiting"}),
    ("pendingApprovals", {"decidable_by_me": True}, EVERY, {"ix_execution_step_status_awaiting"}),
    ("pendingApprovals", {"workspace_id": "ws-03"}, EVERY, {STEP_WORKSPACE}),
    ("pendingApprovals", {"risk_tier": "high"}, EVERY, {"ix_execution_step_status_awaiting"}),
    ("pendingApprovals", {}, TWO, {STEP_WORKSPACE}),
    ("pendingApprovals", {"workspace_id": "ws-04"}, TWO, {STEP_WORKSPACE}),
    ("executions", {}, EVERY, {"ix_execution_updated"}),
    ("executions", {"workspace_id": "ws-03"}, EVERY, {"ix_execution_workspace_updated"}),
    ("executions", {"status": "running"}, EVERY, {"ix_execution_status_updated"}),
    ("executions", {"risk_tier": "high"}, EVERY, {"ix_execution_risk_updated", "ix_execution_updated"}),
    (
        "executions",
        {"workspace_id": "ws-03", "status": "completed", "risk_tier": "high"},
        EVERY,
        {"ix_execution_workspace_updated", "ix_execution_status_updated"},
    ),
    # A page of a filter that many executions match may walk the update order and stop at 50 (PostgreSQL does, for
    # a tier or two workspaces); its total is summed from the execution tally (ix_execution_tally_*).
    ("executions", {}, TWO, {"ix_execution_workspace_updated", "ix_execution_updated"}),
    ("executionLanes", {}, EVERY, {"ix_execution_updated", "ix_execution_run_id"}),
    ("executionLanes", {"lane_key": "execute"}, EVERY, {"ix_execution_lane_key_updated_run"}),
    ("executionLanes", {"lane_key": "complete"}, EVERY, {"ix_execution_run_ended_lane_key"}),
    ("executionLanes", {"lane_status": "blocked"}, EVERY, {"ix_execution_lane_status_updated_run"}),
    ("executionLanes", {"lane_status": "stopped"}, EVERY, {"ix_execution_run_ended_lane_status"}),
    (
        "executionLanes",
        {"lane_key": "review"},
        TWO,
        {"ix_execution_workspace_updated", "ix_execution_lane_key_updated_run"},
    ),
    ("trace", {"execution_id": "exec-rd-000050"}, EVERY, {"ix_execution_event_execution_sequence"}),
    ("skills", {}, EVERY, {"ix_skill_installation_status_key"}),
]


def _id(case: tuple[str, dict[str, Any], Principal, set[str]]) -> str:
    query, data, principal, _ = case
    return f"{query}({','.join(f'{k}={v}' for k, v in data.items())}){'' if principal.all_workspaces else '/2 ws'}"


@pytest.fixture
async def big(services: Services) -> Services:
    async with services.database.unit_of_work(write=True) as session:
        for table in (
            "execution_event",
            "approval_vote",
            "approval_decision",
            "execution_step",
            "evidence_bundle",
            "execution_run",
        ):
            await session.execute(text(f"DELETE FROM {table}"))
        for table in ("plan", "intent", "execution"):
            await session.execute(text(f"DELETE FROM {table}"))
    await build(services.database, services.executor, EXECUTIONS, bundles=2)
    async with services.database.engine.connect() as connection:
        await connection.execute(text("ANALYZE"))
        await connection.commit()
    return services


async def problems(
    services: Services, query: str, data: dict[str, Any], principal: Principal, wanted: set[str]
) -> list[str]:
    """What is wrong with the plans of one query's statements (empty: every statement is served by indexes)."""

    async def caller() -> Principal:
        return principal

    engine = services.database.engine
    with recording(engine) as sent:
        await services.executor.execute(SPECS[query], data, caller)
    found: list[str] = []
    used: set[str] = set()
    for statement in sent:
        lines = await plan_of(engine, statement)
        used |= indexes_used(lines)
        found += [f"full scan {scan!r} in {_short(statement.statement)}" for scan in full_scans(lines)]
    if not wanted & used:
        found.append(f"none of {sorted(wanted)} used (used: {sorted(used)})")
    return found


def _short(statement: str) -> str:
    return re.sub(r"\s+", " ", statement)[:160]


async def test_every_list_query_and_filter_is_served_by_indexes(big: Services) -> None:
    failures = {}
    for case in CASES:
        query, data, principal, wanted = case
        found = await problems(big, query, data, principal, wanted)
        if found:
            failures[_id(case)] = found
    assert failures == {}


async def test_dropping_an_index_fails_the_check(big: Services) -> None:
    """The check above is not vacuous: without the lane key index, the laneKey filter is reported."""
    query, data, principal, wanted = next(case for case in CASES if case[1] == {"lane_key": "execute"})
    assert wanted == {"ix_execution_lane_key_updated_run"}
    assert await problems(big, query, data, principal, wanted) == []
    async with big.database.unit_of_work(write=True) as session:
        await session.execute(text("DROP INDEX ix_execution_lane_key_updated_run"))
    await big.database.engine.dispose()  # new connections: a pooled SQLite one may keep the statement planned before
    assert await problems(big, query, data, principal, wanted) != []


async def test_dropping_the_inbox_workspace_index_fails_the_check(big: Services) -> None:
    """pendingApprovals(workspaceId) and a caller with two workspaces are ranges of the step's workspace index;
    without it, the check reports both (the inbox would walk every awaiting step, or every execution of the
    workspace, again)."""
    cases = [case for case in CASES if case[0] == "pendingApprovals" and case[3] == {STEP_WORKSPACE}]
    assert len(cases) == 3
    for _, data, principal, wanted in cases:
        assert await problems(big, "pendingApprovals", data, principal, wanted) == []
    async with big.database.unit_of_work(write=True) as session:
        await session.execute(text(f"DROP INDEX {STEP_WORKSPACE}"))
    await big.database.engine.dispose()
    for _, data, principal, wanted in cases:
        assert await problems(big, "pendingApprovals", data, principal, wanted) != []
