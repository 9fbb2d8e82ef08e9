"""The event log's order across server processes: writers on two separate servers sharing one database
(each submitting, compiling and deciding as clients do) append concurrently while a reader pages the
`events` query with cursors as fast as it can; what the reader saw is exactly the committed log, in
order, without a gap or a duplicate. Runs on the database of `--db` (two processes either way; on
SQLite they share one writer).
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from app.testing.documents import EVENTS, SUBMIT
from tests.e2e.conftest import Serve, ServerProcess
from tests.e2e.test_race import mint

pytestmark = pytest.mark.e2e

WRITERS_PER_SERVER = 6
INTENTS_PER_WRITER = 8
HTTP_TIMEOUT = 120.0


async def graphql(client: httpx.AsyncClient, document: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/graphql", json={"query": document, "variables": variables})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


def client_for(server: ServerProcess, who: str) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {mint(server, who)}"}
    return httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=HTTP_TIMEOUT)


async def test_a_reader_sees_the_log_of_two_writing_servers_exactly_once_in_order(serve: Serve) -> None:
    first = serve()
    second = serve()
    done = asyncio.Event()

    async def writer(server: ServerProcess, number: int) -> None:
        async with client_for(server, f"writer-{number}") as client:
            for count in range(INTENTS_PER_WRITER):
                text = f"Summarize report {number}-{count}"
                await graphql(client, SUBMIT, {"input": {"workspaceId": f"ws-{number % 3}", "text": text}})

    seen: list[dict[str, Any]] = []

    async def log_size(client: httpx.AsyncClient) -> int:
        total, after = 0, None
        while True:
            page = (await graphql(client, EVENTS, {"input": {"limit": 500, **({"after": after} if after else {})}}))[
                "events"
            ]
            total += len(page["items"])
            after = page["endCursor"]
            if not page["hasMore"]:
                return total

    async def reader() -> None:
        async with client_for(second, "reader") as client:
            after = None
            while True:
                variables = {"input": {"limit": 9, **({"after": after} if after else {})}}
                page = (await graphql(client, EVENTS, variables))["events"]
                seen.extend(page["items"])
                after = page["endCursor"] or after
                if not page["items"] and done.is_set() and len(seen) >= await log_size(client):
                    return

    reading = asyncio.create_task(reader())
    await asyncio.gather(
        *(
            writer(server, index * 10 + number)
            for index, server in enumerate((first, second))
            for number in range(WRITERS_PER_SERVER)
        )
    )
    done.set()
    await asyncio.wait_for(reading, timeout=180)

    committed = first.query("SELECT sequence FROM execution_event ORDER BY sequence")
    positions = [int(item["position"]) for item in seen]
    assert len(positions) == len(set(positions)), "an event was read twice"
    assert positions == [int(str(row[0])) for row in committed]
    ours = [
        item for item in seen if item["key"] == "controlPlane.intent.received" and item["actorId"].startswith("writer-")
    ]
    assert len(ours) == 2 * WRITERS_PER_SERVER * INTENTS_PER_WRITER
