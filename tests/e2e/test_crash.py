"""Crash safety: a server killed with SIGKILL in the middle of a stream of decisions leaves a
database that a restarted server serves and that `python -m app check` finds consistent.

Hundreds of extra executions, each with one step awaiting approval, are seeded before the server
starts; eight clients stream rejects and approves over them; the server is killed (no shutdown,
no rollback from the application) while requests are in flight. Every decision the server
acknowledged must be in the database; requests in flight may or may not have committed, but a
retry of the same request on the restarted server must then succeed (replay or first decision).
Runs on the database of `--db`. Only outcomes are asserted, never timings.
"""

from __future__ import annotations

import asyncio
import shutil
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from app.testing.documents import APPROVE, REJECT
from tests.e2e.conftest import REPO_ROOT, E2EDatabase, Serve, ServerProcess, describe, run_cli

pytestmark = pytest.mark.e2e

EXTRA = 400  # extra executions, one awaiting step each
CONCURRENCY = 8  # clients streaming decisions at once
FLOWING = 30  # acknowledged decisions: the stream is flowing
KILL_DELAY = 1.0  # seconds of flowing stream before the SIGKILL...
KILL_BY = EXTRA // 2  # ...or this many acknowledged decisions, whichever comes first (a fast machine)
AFTER_RESTART = 6  # fresh decisions on the restarted server
HTTP_TIMEOUT = 120.0
STREAM_TIMEOUT = 180.0
EXTRA_PREFIX = "exec-crash-"


@dataclass(frozen=True)
class Request:
    """One decision on the awaiting step of one extra execution, by one admin."""

    index: int
    actor: str

    @property
    def execution_id(self) -> str:
        return f"{EXTRA_PREFIX}{self.index:04d}"

    @property
    def step_id(self) -> str:
        return f"step-crash-{self.index:04d}-2"

    @property
    def later_step_id(self) -> str:
        return f"step-crash-{self.index:04d}-3"

    @property
    def action(self) -> str:
        return "reject" if self.index % 2 == 0 else "approve"

    @property
    def decided(self) -> str:
        return "rejected" if self.action == "reject" else "approved"

    @property
    def text(self) -> str:
        return f"Crash test: {self.actor} decides {self.step_id}."

    def body(self) -> dict[str, Any]:
        ids = {"executionId": self.execution_id, "stepId": self.step_id}
        if self.action == "reject":
            fields = {"rejectedBy": self.actor, "reason": self.text}
            return {"query": REJECT, "variables": {"input": {**ids, **fields}}}
        fields = {"approvedBy": self.actor, "note": self.text}
        return {"query": APPROVE, "variables": {"input": {**ids, **fields}}}


@dataclass
class Stream:
    """What the clients saw: acknowledged decisions, requests whose outcome the crash made
    unknown, and anything else (which must stay empty)."""

    acknowledged: list[Request] = field(default_factory=list)
    unknown: list[Request] = field(default_factory=list)
    unexpected: list[tuple[Request, int, Any]] = field(default_factory=list)
    flowing: asyncio.Event = field(default_factory=asyncio.Event)  # FLOWING decisions acknowledged
    halfway: asyncio.Event = field(default_factory=asyncio.Event)  # KILL_BY decisions acknowledged

    def acknowledge(self, request: Request) -> None:
        self.acknowledged.append(request)
        if len(self.acknowledged) >= FLOWING:
            self.flowing.set()
        if len(self.acknowledged) >= KILL_BY:
            self.halfway.set()


def extra_seed_toml(count: int) -> str:
    """`count` executions awaiting approval: a completed step, the awaiting one, a pending one."""
    return "\n".join(
        f"""[[scenarios]]
name = "crash-{index:04d}"
workspace = "ws-crash"
text = "Crash test {index}"
at = 2026-12-01T08:00:00Z
steps = [{{ key = "fetch.input" }}, {{ key = "deploy.act" }}, {{ key = "report.result" }}]
actions = ["compile", "verify", "start", "complete"]
"""
        for index in range(count)
    )


def mint(var_dir: Path, sub: str) -> str:
    secret = (var_dir / "jwt-secret").read_text().strip()
    now = int(time.time())
    claims = {"sub": sub, "roles": ["admin"], "workspaces": ["*"], "iat": now, "exp": now + 3600}
    return jwt.encode(claims, secret, algorithm="HS256")


def succeeded(body: Any) -> bool:
    return isinstance(body, dict) and not body.get("errors") and bool(body.get("data"))


async def send(server: ServerProcess, request: Request) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {mint(server.var_dir, request.actor)}"}
    async with httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=HTTP_TIMEOUT) as client:
        response = await client.post("/graphql", json=request.body())
        return response.status_code, response.json()


async def stream_decisions(server: ServerProcess, queue: list[int], stream: Stream) -> None:
    """CONCURRENCY clients (own admin, own connection) take the next index off `queue` until it is
    empty or the server stops answering."""

    async def client(number: int) -> None:
        actor = f"crash-admin-{number}"
        headers = {"Authorization": f"Bearer {mint(server.var_dir, actor)}"}
        async with httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=HTTP_TIMEOUT) as http:
            while queue:
                request = Request(queue.pop(0), actor)
                try:
                    response = await http.post("/graphql", json=request.body())
                except httpx.TransportError:
                    stream.unknown.append(request)  # sent or not, committed or not: the crash decides
                    return
                body = response.json()
                if response.status_code == 200 and succeeded(body):
                    stream.acknowledge(request)
                else:
                    stream.unexpected.append((request, response.status_code, body))

    await asyncio.gather(*(client(number) for number in range(CONCURRENCY)))


def check_ok(server: ServerProcess) -> None:
    result = run_cli("check", env=server.env)
    assert result.returncode == 0, describe(result)
    assert result.stdout.startswith("ok"), describe(result)


def extra_steps(database: E2EDatabase) -> dict[str, tuple[object, ...]]:
    """step id -> (status, decided_by, decision_note) of every extra execution's awaiting-or-decided step."""
    rows = database.query(
        "SELECT id, status, decided_by, decision_note FROM execution_step WHERE id LIKE ? AND position = 2",
        ("step-crash-%",),
    )
    return {str(row[0]): tuple(row[1:]) for row in rows}


def assert_decisions_match_steps(database: E2EDatabase) -> int:
    """As many decision rows as decided extra steps, one each; returns how many."""
    decided = database.count(
        "SELECT count(*) FROM execution_step WHERE id LIKE ? AND status IN ('rejected', 'approved')",
        ("step-crash-%",),
    )
    decisions = database.count("SELECT count(*) FROM approval_decision WHERE step_id LIKE ?", ("step-crash-%",))
    assert decisions == decided, (decisions, decided)
    return decided


async def test_sigkill_mid_stream_leaves_a_consistent_database(  # noqa: PLR0915 - one crash and its aftermath, in order
    serve: Serve, e2e_database: E2EDatabase, cli_env: dict[str, str], tmp_path: Path
) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    shutil.copy(REPO_ROOT / "seeds" / "demo.toml", seeds / "demo.toml")
    (seeds / "crash.toml").write_text(extra_seed_toml(EXTRA))
    with (seeds / "demo.toml").open("rb") as handle:
        demo = len(tomllib.load(handle)["scenarios"])
    seeded = run_cli("seed", "--dir", str(seeds), env=cli_env)
    assert seeded.returncode == 0, describe(seeded)
    assert f"seeded {demo + EXTRA} executions" in seeded.stdout, describe(seeded)

    server = serve()
    assert "database kept" in server.output(), server.output()

    # --- stream decisions, kill the server while requests are in flight -----------------------------------
    queue = list(range(EXTRA))
    stream = Stream()
    streaming = asyncio.ensure_future(stream_decisions(server, queue, stream))
    flowing = asyncio.ensure_future(stream.flowing.wait())
    await asyncio.wait({streaming, flowing}, timeout=STREAM_TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
    assert stream.flowing.is_set(), ("the stream did not get going", stream.unexpected[:3], streaming)
    halfway = asyncio.ensure_future(stream.halfway.wait())
    await asyncio.wait({streaming, halfway}, timeout=KILL_DELAY, return_when=asyncio.FIRST_COMPLETED)
    for waiter in (flowing, halfway):
        waiter.cancel()
    assert not streaming.done(), "the stream ended before the kill"
    server.kill()
    assert server.process.returncode == -9, server.process.returncode
    await asyncio.wait_for(streaming, timeout=HTTP_TIMEOUT)

    assert not stream.unexpected, stream.unexpected[:5]
    assert len(stream.acknowledged) >= FLOWING
    assert queue, "every step was decided before the kill: nothing was killed mid-stream"
    acknowledged_ids = {request.step_id for request in stream.acknowledged}
    unknown_ids = {request.step_id for request in stream.unknown}

    # --- restart on the same database: consistent, and nothing acknowledged is lost ----------------------------
    restarted = serve()
    assert "database kept" in restarted.output(), restarted.output()
    check_ok(restarted)

    steps = extra_steps(e2e_database)
    assert len(steps) == EXTRA
    for request in stream.acknowledged:
        assert steps[request.step_id] == (request.decided, request.actor, request.text), request
    decided_ids = {step_id for step_id, (status, _, _) in steps.items() if status in ("rejected", "approved")}
    assert acknowledged_ids <= decided_ids
    assert decided_ids <= acknowledged_ids | unknown_ids, sorted(decided_ids - acknowledged_ids - unknown_ids)
    awaiting_ids = {step_id for step_id, (status, _, _) in steps.items() if status == "awaiting_approval"}
    assert awaiting_ids == set(steps) - decided_ids
    assert len(awaiting_ids) >= AFTER_RESTART
    assert assert_decisions_match_steps(e2e_database) == len(decided_ids)

    # --- the restarted server works ------------------------------------------------------------------------------
    # A request whose outcome the crash hid is safe to retry as is: the original result if it
    # committed, the first decision if it did not.
    for request in stream.unknown:
        status_code, body = await send(restarted, request)
        assert status_code == 200, (request, body)
        assert succeeded(body), (request, body)
    # A decision taken before the crash still stands: someone else deciding that step conflicts.
    before_crash = stream.acknowledged[0]
    status_code, body = await send(restarted, Request(before_crash.index, "late-admin"))
    assert body["errors"][0]["extensions"]["code"] == "CONFLICT", body
    assert body["errors"][0]["extensions"]["currentStatus"] == before_crash.decided, body
    # Fresh decisions (half rejects, half approves) on steps no request was ever sent for.
    untouched = [Request(index, "after-restart") for index in queue]
    fresh = [
        *[request for request in untouched if request.action == "reject"][: AFTER_RESTART // 2],
        *[request for request in untouched if request.action == "approve"][: AFTER_RESTART // 2],
    ]
    assert len(fresh) == AFTER_RESTART
    assert {request.step_id for request in fresh} <= awaiting_ids
    for request in fresh:
        status_code, body = await send(restarted, request)
        assert status_code == 200, (request, body)
        assert succeeded(body), (request, body)

    check_ok(restarted)
    steps = extra_steps(e2e_database)
    for request in [*stream.acknowledged, *fresh]:
        assert steps[request.step_id] == (request.decided, request.actor, request.text), request
    for request in stream.unknown:
        assert steps[request.step_id][0] == request.decided, (request, steps[request.step_id])
        assert steps[request.step_id][1] == request.actor, (request, steps[request.step_id])
    for request in fresh:
        later = e2e_database.query("SELECT status FROM execution_step WHERE id = ?", (request.later_step_id,))
        assert later == [("skipped" if request.action == "reject" else "pending",)], (request, later)
    expected = len(acknowledged_ids | unknown_ids) + len(fresh)
    assert assert_decisions_match_steps(e2e_database) == expected
