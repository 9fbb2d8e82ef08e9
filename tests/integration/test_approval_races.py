"""Racing voters on a quorum: 30 admins vote at once on a step that needs 3 approvals (in process, on the
database of `--db`; tests/e2e/test_quorum_race.py runs the same race across two server processes).

Exactly one `approved` transition, exactly 3 counted votes, and no lost vote: every voter is either
counted or told CONFLICT; the database and the event log agree.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from gql.transport.exceptions import TransportQueryError
from sqlalchemy import select

from app.db.tables import vote_table
from app.settings import Settings
from app.testing.documents import REJECT, VOTE
from tests.conftest import make_settings
from tests.integration.helpers import decision_rows, events, fetch
from tests.integration.lifecycle import Lifecycle

VOTERS = 30
QUORUM = 3
POLICY = {
    "policyVersion": "race-1",
    "rules": [
        {"ruleId": "three", "matchKeys": ["deploy.*"], "approverRoles": ["admin"], "requiredApprovals": QUORUM},
        {"ruleId": "default", "approverRoles": ["admin"]},
    ],
}
DRAFT = {"steps": [{"key": "deploy.production", "input": {"region": "eu-west-1"}}]}


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(POLICY))
    return make_settings(tmp_path, database_url, approval_policy_file=path)


async def outcome(call: Any) -> tuple[str, str | None]:
    try:
        data = await call
    except TransportQueryError as error:
        extensions = (error.errors or [{}])[0].get("extensions", {})
        return str(extensions.get("code")), extensions.get("currentStatus")
    return "ok", next(iter(data.values()))["status"]


async def voting_step(execute: Any, token: Any) -> tuple[Lifecycle, str]:
    life = Lifecycle(execute=execute, admin=token("dana"), runner=token("rita", "runner"), approver=token("erin"))
    await life.started(DRAFT)
    return life, life.step(1)


async def test_thirty_admins_on_a_three_approval_step(execute, token, database):
    life, step = await voting_step(execute, token)
    before = len(await events(database))

    async def approve(index: int) -> tuple[str, str | None]:
        who = f"admin-{index:02d}"
        payload = {"executionId": life.execution_id, "stepId": step, "approvedBy": who}
        return await outcome(execute(VOTE, {"input": payload}, bearer=token(who)))

    results = await asyncio.gather(*(approve(index) for index in range(VOTERS)))

    counted = [status for code, status in results if code == "ok"]
    assert len(counted) == QUORUM, results
    assert counted.count("approved") == 1  # the vote that completed the quorum
    assert sorted(set(results) - {("ok", "awaiting_approval"), ("ok", "approved")}) == [("CONFLICT", "approved")]
    votes = await fetch(database, select(vote_table).where(vote_table.c.step_id == step))
    assert len(votes) == QUORUM
    assert len(await decision_rows(database, step)) == 1
    keys = [row["event_key"].rsplit(".", 1)[-1] for row in (await events(database))[before:]]
    assert keys.count("approvalRecorded") == QUORUM
    assert keys.count("approved") == 1
    assert await life.status() == "running"


async def test_approvers_and_a_vetoer_racing_leave_one_outcome(execute, token, database):
    life, step = await voting_step(execute, token)

    async def decide(index: int) -> tuple[str, str | None]:
        who = f"admin-{index:02d}"
        if index % 10 == 7:
            payload = {"executionId": life.execution_id, "stepId": step, "rejectedBy": who, "reason": "Stop."}
            return await outcome(execute(REJECT, {"input": payload}, bearer=token(who)))
        payload = {"executionId": life.execution_id, "stepId": step, "approvedBy": who}
        return await outcome(execute(VOTE, {"input": payload}, bearer=token(who)))

    results = await asyncio.gather(*(decide(index) for index in range(VOTERS)))

    final = await life.refresh()
    status = final["steps"][0]["status"]
    assert status in ("approved", "rejected")
    assert len(await decision_rows(database, step)) == 1
    votes = await fetch(database, select(vote_table).where(vote_table.c.step_id == step))
    approvals = [vote for vote in votes if vote["decision"] == "approved"]
    if status == "approved":
        assert len(approvals) == QUORUM
        assert ("ok", "rejected") not in results
    else:
        assert len(approvals) < QUORUM
        assert [vote["decision"] for vote in votes].count("rejected") == 1
    assert all(code in ("ok", "CONFLICT") for code, _ in results), results
