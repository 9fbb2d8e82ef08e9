"""The deadline sweeper runs inside `python -m app serve` with nothing else running, and a restart loses no
deadline: a request whose rule rejects after 2 s expires in a server that was killed (SIGKILL) before
the deadline and started again. Real time passes here (a few seconds): this is the one test of the
background task itself; tests/integration/test_sweeper.py drives every rule with an injected clock.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Serve, ServerProcess, describe, run_cli
from tests.e2e.test_lifecycle import client_of
from tests.e2e.test_race import mint
from tests.integration.lifecycle import Lifecycle

pytestmark = pytest.mark.e2e

TIMEOUT_SECONDS = 2
POLICY = {
    "policyVersion": "e2e-deadlines",
    "rules": [
        {
            "ruleId": "quick-expiry",
            "matchKeys": ["delete.*"],
            "approverRoles": ["admin"],
            "timeoutSeconds": TIMEOUT_SECONDS,
            "onTimeout": "reject",
        },
        {"ruleId": "default", "approverRoles": ["admin"]},
    ],
}


async def waiting_request(server: ServerProcess) -> Lifecycle:
    life = Lifecycle(execute=client_of(server), admin=mint(server, "dana"), runner=mint(server, "rita"))
    await life.started({"steps": [{"key": "delete.stale-sessions", "input": {"olderThanDays": 30}}]})
    assert await life.step_statuses() == ["awaiting_approval"]
    return life


async def until_expired(life: Lifecycle, limit: float = 30.0) -> list[str]:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        statuses = await life.step_statuses()
        if statuses != ["awaiting_approval"]:
            return statuses
        await asyncio.sleep(0.2)
    return await life.step_statuses()


def settings(tmp_path: Path) -> dict[str, Any]:
    policy = tmp_path / "approval-policy.json"
    policy.write_text(json.dumps(POLICY))
    return {"APPROVAL_POLICY_FILE": str(policy), "APPROVAL_SWEEP_INTERVAL_SECONDS": "0.2"}


async def test_the_server_expires_a_request_at_its_deadline(serve: Serve, tmp_path: Path) -> None:
    server = serve(**settings(tmp_path))
    life = await waiting_request(server)
    assert await until_expired(life) == ["expired"]
    assert await life.status() == "rejected"


async def test_a_restart_loses_no_deadline(serve: Serve, tmp_path: Path) -> None:
    env = settings(tmp_path)
    first = serve(**env)
    life = await waiting_request(first)
    first.kill()  # SIGKILL before the deadline: nothing is saved on the way out
    second = serve(**env)
    life.execute = client_of(second)
    assert await until_expired(life) == ["expired"]
    checked = run_cli("check", env=second.env)
    assert checked.returncode == 0, describe(checked)
