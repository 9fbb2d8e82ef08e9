"""The read side answers in a fixed number of SQL statements, however many rows a page holds: no query
per execution, per run or per step (no N+1).

What is counted: every statement SQLAlchemy sends through a cursor of the app's engine while one
GraphQL request runs (`before_cursor_execute` on `services.database.engine`), except transaction
control (`BEGIN`, `COMMIT`, `ROLLBACK`, savepoints), which the SQLite setup issues itself
(app/db/database.py) and asyncpg does not send through a cursor at all. Authentication reads no table.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event, func, insert, select

from app.auth import Principal
from app.contracts.control_plane.commands import (
    approve,
    evidence_export,
    execution_pause,
    execution_retry,
    execution_start,
    intent_submit,
    plan_compile,
    plan_verify,
    reject,
    step_completed,
    step_failed,
    step_started,
)
from app.contracts.control_plane.queries import execution_get
from app.db.tables import (
    bundle_table,
    decision_table,
    event_table,
    execution_table,
    intent_table,
    plan_table,
    run_table,
    step_table,
    vote_table,
)
from app.server import Services
from app.services.audit.invariants import check
from app.testing.documents import APPROVAL_REQUEST, EXECUTION, EXECUTIONS, INBOX, LANE, LANES, PENDING_APPROVALS
from tests.conftest import DEFAULT_TOKEN
from tests.integration.helpers import fetch, remove_seeded_data

MAX_STATEMENTS = 4
TRANSACTION_CONTROL = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)\b", re.IGNORECASE)


FIVE_STEPS = {
    "steps": [
        {"key": "fetch.inputs", "input": {"source": "s3://bucket/inputs"}},
        {"key": "create.record", "input": {"table": "orders"}},
        {"key": "deploy.service", "input": {"region": "eu-west-1"}},
        {"key": "notify.team", "input": {"channel": "#ops"}},
        {"key": "report.summary"},
    ]
}
"""low -> medium -> high (awaits approval) -> medium -> low."""

SHAPES = ("awaiting", "pending", "running", "completed", "retried", "rejected", "failed", "paused")
"""What the n-th execution made through the executor becomes; the first one awaits a decision."""
ID_COLUMNS = {"id", "execution_id", "intent_id", "plan_id", "run_id", "retry_of", "step_id"}
CLONED_TABLES = (
    execution_table,
    intent_table,
    plan_table,
    run_table,
    step_table,
    decision_table,
    vote_table,
    event_table,
    bundle_table,
)


class Driver:
    """Makes executions through the executor (the same contracts and services as HTTP, without HTTP)."""

    def __init__(self, services: Services) -> None:
        self.executor = services.executor

    async def call(self, spec: Any, raw: dict[str, Any], actor: str = "dana", role: str = "admin") -> Any:
        principal = Principal.of(actor, {role}, {"*"})

        async def caller() -> Principal:
            return principal

        return await self.executor.execute(spec, raw, caller)

    async def report(self, spec: Any, run_id: str, step_id: str, **extra: Any) -> Any:
        return await self.call(spec, {"run_id": run_id, "step_id": step_id, **extra}, "rita", "runner")

    async def run(self, run_id: str, step_id: str) -> None:
        await self.report(step_started.SPEC, run_id, step_id)
        await self.report(step_completed.SPEC, run_id, step_id, output={"ok": True})

    async def make(self, number: int) -> str:
        shape = SHAPES[number % len(SHAPES)]
        submitted = await self.call(
            intent_submit.SPEC, {"workspace_id": f"ws-{number % 4}", "text": f"Release {number}"}
        )
        execution_id: str = submitted.execution_id
        plan = await self.call(
            plan_compile.SPEC,
            {"execution_id": execution_id, "intent_id": submitted.intent_id, "draft": FIVE_STEPS},
        )
        await self.call(plan_verify.SPEC, {"execution_id": execution_id, "plan_id": plan.plan_id})
        if shape == "pending":
            return execution_id
        run_id = (await self.call(execution_start.SPEC, {"execution_id": execution_id, "plan_id": plan.plan_id})).run_id
        record = await self.call(execution_get.SPEC, {"execution_id": execution_id})
        steps = [step.step_id for step in record.execution.steps]
        await self.run(run_id, steps[0])
        if shape in ("running", "paused"):
            await self.report(step_started.SPEC, run_id, steps[1])
            if shape == "paused":
                await self.call(execution_pause.SPEC, {"run_id": run_id, "paused_by": "dana"})
            return execution_id
        await self.run(run_id, steps[1])
        decision = {"execution_id": execution_id, "step_id": steps[2]}
        if shape == "awaiting":
            return execution_id
        # Decided by a second admin: dana asked for the work and may not approve her own request.
        if shape == "rejected":
            await self.call(reject.SPEC, decision | {"rejected_by": "erin", "reason": "Not this week."}, "erin")
            return execution_id
        await self.call(approve.SPEC, decision | {"approved_by": "erin"}, "erin")
        if shape in ("retried", "failed"):
            await self.report(step_started.SPEC, run_id, steps[2])
            await self.report(step_failed.SPEC, run_id, steps[2], error_code="TIMEOUT", message="Timed out.")
            await self.call(evidence_export.SPEC, {"run_id": run_id, "exported_by": "dana"})
            if shape == "retried":
                # The new run starts from the failed step, which keeps its approval.
                await self.call(execution_retry.SPEC, {"run_id": run_id, "retried_by": "dana"})
            return execution_id
        for step_id in steps[2:]:
            await self.run(run_id, step_id)
        await self.call(evidence_export.SPEC, {"run_id": run_id, "exported_by": "dana"})
        return execution_id


async def clone(database, copies: int) -> None:
    """Every execution in the database `copies` times more, with all its rows (intent, plan, runs, steps,
    decisions, votes, events, bundles): ids get a suffix, event sequences continue the log without a gap.
    Payloads and bundles keep naming the originals; no query counted here reads inside them."""
    async with database.engine.begin() as conn:
        events = (await conn.execute(select(func.count()).select_from(event_table))).scalar_one()
        for copy in range(1, copies + 1):
            for table in CLONED_TABLES:
                columns = []
                written = [column for column in table.columns if column.computed is None]  # not generated ones
                for column in written:
                    if column.name in ID_COLUMNS:
                        columns.append(column.concat(f"-c{copy}"))
                    elif column.name == "sequence":
                        columns.append(column + copy * events)
                    else:
                        columns.append(column)
                owner = table.c.id if table is execution_table else table.c.execution_id
                source = select(*columns).where(~owner.contains("-c"))  # the originals only
                await conn.execute(insert(table).from_select([c.name for c in written], source))


@pytest.fixture
async def driver(services: Services, database) -> Driver:
    """A database holding only what the test makes (the seeded demo data is removed)."""
    await remove_seeded_data(database)
    return Driver(services)


@pytest.fixture
async def statements(services: Services) -> AsyncIterator[list[str]]:
    """The statements sent while the test runs (the test clears the list before each request)."""
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not TRANSACTION_CONTROL.match(statement):
            sent.append(statement)

    engine = services.database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    yield sent
    event.remove(engine, "before_cursor_execute", record)


async def counted(
    execute, statements: list[str], document: str, payload: dict[str, Any], bearer: Any = DEFAULT_TOKEN
) -> tuple[int, Any]:
    statements.clear()
    data = await execute(document, {"input": payload}, bearer=bearer)
    return len(statements), next(iter(data.values()))


async def counts(execute, statements: list[str], approver: str) -> dict[str, tuple[int, int]]:
    """query -> (statements, items on the page), each listing asked for its largest page. The inbox (quorum
    progress, deadline, digest, whether the viewer may decide) is read by `approver`, a second admin who
    may decide what dana asked for."""
    result = {}
    for name, document, payload, bearer in (
        ("executions", EXECUTIONS, {}, DEFAULT_TOKEN),
        ("executionLanes", LANES, {}, DEFAULT_TOKEN),
        ("pendingApprovals", PENDING_APPROVALS, {}, DEFAULT_TOKEN),
        ("inbox", INBOX, {}, approver),
        ("decidableByMe", INBOX, {"decidableByMe": True}, approver),
    ):
        sent, data = await counted(execute, statements, document, payload | {"limit": 200}, bearer)
        result[name] = (sent, len(data["items"]))
    return result


async def test_list_queries_use_the_same_few_statements_for_1_and_200_executions(
    driver: Driver, execute, statements: list[str], database, token
) -> None:
    await driver.make(0)
    small = await counts(execute, statements, token("erin"))
    assert small == {name: (small[name][0], 1) for name in small}

    # One execution of every shape through the executor, then 24 copies of those 8: 200 executions.
    for number in range(1, len(SHAPES)):
        await driver.make(number)
    await clone(database, 200 // len(SHAPES) - 1)
    (row,) = await fetch(database, select(func.count().label("n")).select_from(step_table))
    assert row["n"] == 200 * 5
    statuses = {r["status"] for r in await fetch(database, select(step_table.c.status).distinct())}
    assert statuses == {
        "pending",
        "awaiting_approval",
        "approved",
        "running",
        "completed",
        "failed",
        "rejected",
        "skipped",
    }

    async with database.unit_of_work(write=False) as session:
        assert await check(session) == []  # the copies are as consistent as the originals

    large = await counts(execute, statements, token("erin"))
    # One statement per page with its exact total (the caller's votes in it); lanes: then the page's steps.
    assert {name: sent for name, (sent, _) in large.items()} == {
        "executions": 1,
        "executionLanes": 2,
        "pendingApprovals": 1,
        "inbox": 1,
        "decidableByMe": 1,
    }
    assert large["executions"][1] == 200
    assert large["executionLanes"][1] == 200  # 7 of 8 shapes have a run, the retried one two
    assert large["pendingApprovals"][1] == large["inbox"][1] == large["decidableByMe"][1] == 25
    # dana asked for every one of them: none is hers to decide (an empty page takes no more statements).
    sent, mine = await counted(execute, statements, INBOX, {"limit": 200, "decidableByMe": True})
    assert (mine["total"], mine["items"]) == (0, [])
    assert sent == 1
    for name in small:
        assert small[name][0] == large[name][0], (name, small[name][0], large[name][0])
        assert large[name][0] <= MAX_STATEMENTS, (name, large[name][0])

    # Filtered pages take no more statements than unfiltered ones.
    for name, document, payload in (
        ("executions", EXECUTIONS, {"limit": 200, "workspaceId": "ws-2", "status": "running", "riskTier": "high"}),
        ("executionLanes", LANES, {"limit": 200, "laneKey": "review", "laneStatus": "blocked"}),
        ("pendingApprovals", PENDING_APPROVALS, {"limit": 200, "workspaceId": "ws-0", "riskTier": "high"}),
    ):
        sent, data = await counted(execute, statements, document, payload)
        assert (data["total"], len(data["items"])) == (25, 25)
        assert sent == large[name][0], name


async def test_one_execution_and_one_lane_take_a_small_constant_number(
    driver: Driver, execute, statements: list[str]
) -> None:
    made = [await driver.make(number) for number in range(len(SHAPES))]
    sent = set()
    for execution_id in made:
        count, data = await counted(execute, statements, EXECUTION, {"executionId": execution_id})
        assert len(data["execution"]["steps"]) == 5
        sent.add(count)
    # The execution with its lane columns, then its steps.
    assert sent == {2}

    lanes = await execute(LANES, {"input": {"limit": 200}})
    run_ids = [item["runId"] for item in lanes["executionLanes"]["items"]]
    assert len(run_ids) == len(SHAPES)  # every shape but pending has a run; the retried one has two
    lane_counts = set()
    for run_id in run_ids:
        count, _ = await counted(execute, statements, LANE, {"runId": run_id})
        lane_counts.add(count)
    # The run with its facts, then its execution's steps.
    assert lane_counts == {2}

    # A request, decided or not: the request with its execution, intent, plan and terms; its votes; the steps
    # before it with their outputs.
    review_counts = set()
    for execution_id in made:
        record = (await execute(EXECUTION, {"input": {"executionId": execution_id}}))["execution"]
        steps = record["execution"]["steps"]
        ids = {"executionId": execution_id, "stepId": steps[2]["stepId"]}
        count, data = await counted(execute, statements, APPROVAL_REQUEST, ids)
        assert len(data["request"]["precedingSteps"]) == 2
        review_counts.add(count)
    assert review_counts == {3}
