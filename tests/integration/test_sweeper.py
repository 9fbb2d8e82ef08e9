"""Deadlines (the rule's `onTimeout`), driven by an injected clock: `sweep(uow, now=...)` settles what is
due at `now`, so no test sleeps. Two sweepers never apply one timeout twice."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from gql.transport.exceptions import TransportQueryError
from typer.testing import CliRunner

from app.__main__ import cli
from app.db.database import Database
from app.services.approval.sweeper import sweep
from app.services.audit.invariants import check
from app.services.kernel.clock import replayed_as
from app.settings import Settings
from app.testing.documents import APPROVAL_REQUEST, INBOX, VOTE
from tests.conftest import TEST_SECRET, error_of, make_settings, snapshot
from tests.integration.helpers import events
from tests.integration.lifecycle import Lifecycle

POLICY = {
    "policyVersion": "deadlines-1",
    "rules": [
        {
            "ruleId": "expire",
            "matchKeys": ["delete.*"],
            "approverRoles": ["admin"],
            "timeoutSeconds": 600,
            "onTimeout": "reject",
        },
        {
            "ruleId": "auto-approve",
            "matchKeys": ["publish.*"],
            "matchTiers": ["high"],
            "approverRoles": ["admin"],
            "timeoutSeconds": 60,
            "onTimeout": "approve",
        },
        {
            "ruleId": "escalate",
            "matchKeys": ["deploy.*"],
            "approverRoles": ["admin"],
            "timeoutSeconds": 300,
            "onTimeout": "escalate",
            "escalateToRoles": ["oncall-lead"],
        },
        {"ruleId": "default", "approverRoles": ["admin"]},
    ],
}


def draft(key: str) -> dict[str, Any]:
    return {"steps": [{"key": "build.artifact"}, {"key": key, "input": {"target": "x"}}, {"key": "notify.team"}]}


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(POLICY))
    return make_settings(tmp_path, database_url, approval_policy_file=path)


@pytest.fixture
def life(execute, token) -> Lifecycle:
    return Lifecycle(execute=execute, admin=token("dana"), runner=token("rita", "runner"), approver=token("erin"))


async def waiting(life: Lifecycle, key: str) -> tuple[str, datetime]:
    """The step `key` awaits a decision; returns its id and deadline."""
    await life.started(draft(key))
    await life.run_step(1)
    step = life.step(2)
    request = (
        await life.execute(
            APPROVAL_REQUEST, {"input": {"executionId": life.execution_id, "stepId": step}}, bearer=life.approver
        )
    )["approvalRequest"]["request"]
    return step, datetime.fromisoformat(request["deadline"])


def tail(rows: list[Any], since: int) -> list[tuple[str, str | None]]:
    return [(row["event_key"].removeprefix("controlPlane.execution."), row["actor"]) for row in rows[since:]]


async def test_nothing_happens_before_the_deadline(life, database):
    _, deadline = await waiting(life, "delete.records")
    before = await snapshot(database)
    report = await sweep(database.unit_of_work, now=deadline - timedelta(seconds=1))
    assert report.settled == 0
    assert await snapshot(database) == before


async def test_reject_at_the_deadline_expires_the_step_and_rejects_the_execution(life, database):
    step, deadline = await waiting(life, "delete.records")
    before = len(await events(database))
    report = await sweep(database.unit_of_work, now=deadline)
    assert report.expired == [step]
    assert await life.step_statuses() == ["completed", "expired", "skipped"]
    assert await life.status() == "rejected"
    rows = await events(database)
    assert tail(rows, before) == [("step.expired", "system:timeout"), ("failed", "system:timeout")]
    expired, failed = rows[before]["payload"], rows[before + 1]["payload"]
    assert (expired["ruleId"], expired["policyVersion"], expired["escalated"]) == ("expire", "deadlines-1", False)
    assert failed["errorCode"] == "APPROVAL_EXPIRED"
    assert await problems(database) == []

    again = await sweep(database.unit_of_work, now=deadline + timedelta(hours=1))
    assert again.settled == 0


async def test_approve_at_the_deadline_is_a_decision_by_system_timeout(life, database, execute, token):
    step, deadline = await waiting(life, "publish.post")
    before = len(await events(database))
    report = await sweep(database.unit_of_work, now=deadline + timedelta(seconds=5))
    assert report.approved == [step]
    record = await life.refresh()
    decided = next(s for s in record["steps"] if s["stepId"] == step)
    assert (decided["status"], decided["decidedBy"]) == ("approved", "system:timeout")
    assert record["status"] == "running"
    rows = await events(database)
    assert tail(rows, before) == [("step.approved", "system:timeout")]
    assert rows[-1]["payload"]["approvedBy"] == "system:timeout"
    assert await problems(database) == []


async def test_escalate_once_then_the_second_deadline_expires(life, database, execute, token):
    step, deadline = await waiting(life, "deploy.production")
    report = await sweep(database.unit_of_work, now=deadline)
    assert report.escalated == [step]
    rows = await events(database)
    escalated = rows[-1]
    assert escalated["event_key"] == "controlPlane.execution.step.escalated"
    new_deadline = datetime.fromisoformat(escalated["payload"]["deadline"])
    assert new_deadline == deadline + timedelta(seconds=300)
    assert escalated["payload"]["approverRoles"] == ["oncall-lead"]

    # Only the escalation roles may decide now.
    payload = {"executionId": life.execution_id, "stepId": step, "approvedBy": "erin"}
    with pytest.raises(TransportQueryError) as excinfo:
        await execute(VOTE, {"input": payload}, bearer=token("erin"))
    assert [r["code"] for r in error_of(excinfo)["extensions"]["reasons"]] == ["ROLE_REQUIRED"]
    lead = token("olga", "admin", "oncall-lead")
    inbox = await execute(INBOX, {"input": {"decidableByMe": True}}, bearer=lead)
    (item,) = [i for i in inbox["pendingApprovals"]["items"] if i["stepId"] == step]
    assert datetime.fromisoformat(item["deadline"]) == new_deadline

    assert (await sweep(database.unit_of_work, now=new_deadline - timedelta(seconds=1))).settled == 0
    second = await sweep(database.unit_of_work, now=new_deadline)
    assert second.expired == [step]
    assert datetime.fromisoformat((await events(database))[-2]["payload"]["deadline"]) == new_deadline
    assert (await events(database))[-2]["payload"]["escalated"] is True
    assert await life.status() == "rejected"


async def test_a_decision_before_the_deadline_leaves_nothing_to_sweep(life, database, execute, token):
    _, deadline = await waiting(life, "delete.records")
    await life.approve(2)
    assert (await sweep(database.unit_of_work, now=deadline + timedelta(days=1))).settled == 0
    assert (await life.step_statuses())[1] == "approved"


async def test_two_sweepers_never_apply_one_timeout_twice(life, database, settings):
    other = Database(settings)  # a second pool, as a second server process has
    try:
        _, deadline = await waiting(life, "delete.records")
        before = len(await events(database))
        reports = await asyncio.gather(
            *(sweep(uow, now=deadline) for uow in (database.unit_of_work, other.unit_of_work) for _ in range(3))
        )
        assert sum(len(report.expired) for report in reports) == 1
        assert len(await events(database)) == before + 2
    finally:
        await other.dispose()


async def test_the_sweep_command_runs_one_pass(life, settings):
    _, deadline = await waiting(life, "delete.records")
    env = {"DATABASE_URL": settings.resolved_database_url, "JWT_SECRET": TEST_SECRET, "VAR_DIR": str(settings.var_dir)}
    early = await asyncio.to_thread(CliRunner().invoke, cli, ["sweep"], env=env)
    assert early.exit_code == 0, early.output
    assert "0 escalated, 0 expired, 0 approved by timeout" in early.output
    # The clock of the services, moved past the deadline for this task (asyncio.to_thread and asyncio.run
    # carry it along): the command then sees the deadline passed.
    with replayed_as(lambda: deadline + timedelta(seconds=1), lambda _prefix: None):
        late = await asyncio.to_thread(CliRunner().invoke, cli, ["sweep"], env=env)
    assert late.exit_code == 0, late.output
    assert "1 expired" in late.output
    assert (await life.step_statuses())[1] == "expired"


async def problems(database: Any) -> list[Any]:
    async with database.unit_of_work(write=False) as session:
        return await check(session)
