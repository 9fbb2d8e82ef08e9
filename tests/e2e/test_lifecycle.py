"""The whole execution lifecycle against a real uvicorn process: every journey of
tests/integration/lifecycle.py at once over HTTP with gql, an admin token and a runner token minted
by the token CLI; afterwards `python -m app check` finds the database consistent. Runs on the
database of `--db`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from gql import Client, gql
from gql.transport.httpx import HTTPXAsyncTransport

from tests.e2e.conftest import ServerProcess, describe, run_cli
from tests.integration.lifecycle import JOURNEYS, Lifecycle

pytestmark = pytest.mark.e2e

HTTP_TIMEOUT = 120.0
# How each journey ends, as the execution's status.
ENDS = {
    "approved": "completed",
    "rejected": "rejected",
    "cancelled_before_start": "cancelled",
    "cancelled_mid_run": "cancelled",
    "paused_resumed": "completed",
    "retried": "completed",
    "aborted": "aborted",
    "shutdown_running": "cancelled",
    "shutdown_idle": "cancelled",
    "plan_rejected": "pending",
    "without_draft": "completed",
}


def token(env: dict[str, str], sub: str, role: str) -> str:
    minted = run_cli("token", "--sub", sub, "--role", role, "--workspace", "*", env=env)
    assert minted.returncode == 0, describe(minted)
    return minted.stdout.strip()


def client_of(server: ServerProcess) -> Callable[..., Any]:
    async def execute(document: str, variables: dict[str, Any] | None = None, *, bearer: str) -> Any:
        transport = HTTPXAsyncTransport(
            url=server.graphql_url, headers={"Authorization": f"Bearer {bearer}"}, timeout=HTTP_TIMEOUT
        )
        request = gql(document)
        request.variable_values = variables
        async with Client(transport=transport, fetch_schema_from_transport=False) as session:
            return await session.execute(request)

    return execute


async def test_every_journey_over_http_at_once(server: ServerProcess, cli_env: dict[str, str]) -> None:
    assert sorted(ENDS) == sorted(JOURNEYS)
    admin, runner = token(cli_env, "dana", "admin"), token(cli_env, "worker-1", "runner")
    approver = token(cli_env, "erin", "admin")
    execute = client_of(server)

    async def play(name: str) -> tuple[str, Lifecycle]:
        life = Lifecycle(execute=execute, admin=admin, runner=runner, approver=approver)
        return name, await JOURNEYS[name](life)

    played = dict(await asyncio.gather(*(play(name) for name in JOURNEYS)))

    for name, life in played.items():
        assert await life.status() == ENDS[name], name
    completed = played["approved"]
    assert await completed.step_statuses() == ["completed", "completed", "completed"]
    events = server.query(
        "SELECT event_key FROM execution_event WHERE execution_id = ? ORDER BY sequence", (completed.execution_id,)
    )
    assert [row[0] for row in events][-3:] == [
        "controlPlane.execution.completed",
        "controlPlane.execution.evidence.exported",
        "controlPlane.execution.evidence.exported",
    ]
    checked = run_cli("check", env=cli_env)
    assert checked.returncode == 0, describe(checked)
    assert "ok" in checked.stdout
