"""The `events` query: the log from a cursor, in order, each event once, filtered, within the grants."""

from __future__ import annotations

from typing import Any

import pytest
from gql.transport.exceptions import TransportQueryError

from app.testing.documents import EVENTS
from tests.conftest import error_of
from tests.integration.helpers import events


async def page(execute: Any, bearer: str | None = None, **arguments: Any) -> dict[str, Any]:
    data = await execute(EVENTS, {"input": arguments}, **({"bearer": bearer} if bearer else {}))
    result: dict[str, Any] = data["events"]
    return result


async def test_paging_with_the_cursor_reads_the_whole_log_once_in_order(execute, database):
    stored = await events(database)
    seen: list[str] = []
    after = None
    while True:
        got = await page(execute, **({"after": after} if after else {}), limit=7)
        seen.extend(item["position"] for item in got["items"])
        after = got["endCursor"]
        if not got["hasMore"]:
            break
    assert seen == [str(row["sequence"]) for row in stored]
    last = await page(execute, after=after)
    assert (last["items"], last["endCursor"], last["hasMore"]) == ([], after, False)


async def test_an_event_carries_its_execution_workspace_and_payload(execute, database):
    first = (await page(execute, executionId="exec-acme-deploy-42", limit=1))["items"][0]
    assert (first["key"], first["workspaceId"], first["executionId"]) == (
        "controlPlane.intent.received",
        "ws-acme",
        "exec-acme-deploy-42",
    )
    assert first["payload"]["executionId"] == "exec-acme-deploy-42"
    assert first["occurredAt"]


async def test_filters_by_workspace_execution_and_keys(execute):
    keys = ["controlPlane.execution.step.approvalRequested"]
    got = await page(execute, eventKeys=keys, workspaceId="ws-acme", limit=500)
    assert got["items"]
    assert {item["key"] for item in got["items"]} == set(keys)
    assert {item["workspaceId"] for item in got["items"]} == {"ws-acme"}


async def test_only_the_callers_workspaces_are_read(execute, token):
    mine = await page(execute, bearer=token("gus", workspaces=["ws-globex"]), limit=500)
    assert mine["items"]
    assert {item["workspaceId"] for item in mine["items"]} == {"ws-globex"}
    none = await page(execute, bearer=token("nobody", workspaces=[]), limit=500)
    assert none["items"] == []


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"after": "not-a-cursor"}, "after"),
        ({"limit": 501}, "limit"),
        ({"limit": 0}, "limit"),
        ({"eventKeys": []}, "eventKeys"),
    ],
)
async def test_bad_input_is_refused(execute, arguments, field):
    with pytest.raises(TransportQueryError) as excinfo:
        await page(execute, **arguments)
    error = error_of(excinfo)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert field in error["extensions"]["fields"]


async def test_a_runner_may_not_read_the_log(execute, token):
    with pytest.raises(TransportQueryError) as excinfo:
        await page(execute, bearer=token("rita", "runner"))
    assert error_of(excinfo)["extensions"]["code"] == "FORBIDDEN"
