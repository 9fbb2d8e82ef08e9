"""The quorum race across two separate server processes sharing one database (as two replicas behind a
load balancer): 30 admins, dealt to both, vote at once on a step whose rule needs 3 approvals. Exactly
one `approved` transition, exactly 3 counted votes, every other voter told CONFLICT, and
`python -m app check` finds the database consistent. Runs on the database of `--db`.

Only outcomes are asserted, never timings.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.testing.documents import VOTE
from tests.e2e.conftest import Serve, ServerProcess, describe, run_cli
from tests.e2e.test_lifecycle import client_of
from tests.e2e.test_race import mint
from tests.integration.lifecycle import Lifecycle

pytestmark = pytest.mark.e2e

VOTERS = 30
QUORUM = 3
HTTP_TIMEOUT = 120.0
POLICY = {
    "policyVersion": "e2e-quorum",
    "rules": [
        {"ruleId": "three-admins", "matchKeys": ["deploy.*"], "approverRoles": ["admin"], "requiredApprovals": QUORUM},
        {"ruleId": "default", "approverRoles": ["admin"]},
    ],
}


async def vote(server: ServerProcess, who: str, execution_id: str, step_id: str, gate: asyncio.Event) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    headers = {"Authorization": f"Bearer {mint(server, who)}"}
    async with httpx.AsyncClient(
        base_url=server.base_url, headers=headers, timeout=HTTP_TIMEOUT, limits=limits
    ) as client:
        assert (await client.get("/healthz")).status_code == 200  # connected before the gate opens
        await gate.wait()
        body = {
            "query": VOTE,
            "variables": {"input": {"executionId": execution_id, "stepId": step_id, "approvedBy": who}},
        }
        response = await client.post("/graphql", json=body)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result


async def test_thirty_admins_on_two_servers_vote_on_a_three_approval_step(serve: Serve, tmp_path: Path) -> None:
    policy = tmp_path / "approval-policy.json"
    policy.write_text(json.dumps(POLICY))
    first = serve(APPROVAL_POLICY_FILE=str(policy))
    second = serve(APPROVAL_POLICY_FILE=str(policy))
    assert first.process.pid != second.process.pid

    execute = client_of(first)
    life = Lifecycle(
        execute=execute, admin=mint(first, "dana"), runner=mint(first, "rita"), approver=mint(first, "erin")
    )
    await life.started({"steps": [{"key": "deploy.production", "input": {"region": "eu-west-1"}}]})
    step = life.step(1)

    gate = asyncio.Event()
    servers = (first, second)
    voters = [
        asyncio.create_task(vote(servers[index % 2], f"admin-{index:02d}", life.execution_id, step, gate))
        for index in range(VOTERS)
    ]
    await asyncio.sleep(0.5)  # every client connects first; then all send together
    gate.set()
    bodies = await asyncio.gather(*voters)

    counted = [body["data"]["approveExecutionStep"]["status"] for body in bodies if body.get("data")]
    refused = [body["errors"][0]["extensions"] for body in bodies if body.get("errors")]
    assert len(counted) == QUORUM, bodies
    assert counted.count("approved") == 1
    assert {(e["code"], e["currentStatus"]) for e in refused} == {("CONFLICT", "approved")}
    assert len(counted) + len(refused) == VOTERS  # no lost vote: each is counted or told why not

    record = await life.refresh()
    assert record["status"] == "running"
    checked = run_cli("check", env=first.env)
    assert checked.returncode == 0, describe(checked)
