"""Commands that write nothing never take the writer: an identical replay, a CONFLICT, a NOT_FOUND and a
refused transition are answered from a read; a command with something to write takes the writer once."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from typing import Any

import pytest
from gql.transport.exceptions import TransportQueryError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.server import Services
from app.testing.documents import APPROVE, PAUSE, REJECT, STEP_COMPLETED, STEP_STARTED
from tests.conftest import error_of, snapshot
from tests.integration.helpers import DEPLOY, MIGRATE_SCHEMA, PAYOUT


@contextmanager
def writers(services: Services) -> Iterator[list[bool]]:
    """Every unit of work the executor opens, True for the writer's."""
    opened: list[bool] = []
    executor = services.executor
    original: Callable[..., AbstractAsyncContextManager[AsyncConnection]] = executor._uow

    @asynccontextmanager
    async def counting(*, write: bool) -> AsyncIterator[AsyncConnection]:
        opened.append(write)
        async with original(write=write) as session:
            yield session

    executor._uow = counting
    try:
        yield opened
    finally:
        executor._uow = original


def reject(step: dict[str, str], reason: str, by: str = "dana") -> dict[str, Any]:
    return {"input": {**step, "rejectedBy": by, "reason": reason}}


async def test_a_decision_takes_the_writer_once_and_its_replay_never(execute, services):
    with writers(services) as opened:
        first = await execute(REJECT, reject(DEPLOY, "Freeze."))
    assert opened == [False, True], "the precheck reads, then the decision writes"

    with writers(services) as opened:
        again = await execute(REJECT, reject(DEPLOY, "Freeze."))
    assert opened == [False], "an identical replay is answered from the read"
    assert again == first


async def test_a_conflict_and_a_not_found_never_take_the_writer(execute, services, database):
    before = await snapshot(database)
    with writers(services) as opened:
        with pytest.raises(TransportQueryError) as conflict:
            await execute(REJECT, reject(PAYOUT, "Another reason than the seed's."))
        with pytest.raises(TransportQueryError) as missing:
            await execute(APPROVE, {"input": {"executionId": "exec-nope", "stepId": "s", "approvedBy": "dana"}})
    assert opened == [False, False]
    assert error_of(conflict)["extensions"]["code"] == "CONFLICT"
    assert error_of(missing)["extensions"]["code"] == "NOT_FOUND"
    assert await snapshot(database) == before


async def test_a_refused_transition_never_takes_the_writer(execute, services, database):
    before = await snapshot(database)
    with writers(services) as opened, pytest.raises(TransportQueryError) as refused:
        await execute(PAUSE, {"input": {"runId": "run-acme-digest-8-1", "pausedBy": "dana"}})
    assert opened == [False]
    assert error_of(refused)["extensions"]["code"] == "CONFLICT"
    assert await snapshot(database) == before


async def test_a_decision_the_precheck_let_through_is_still_decided_by_the_claim(execute, services):
    """Between the precheck and the claim another decider may win: the claim decides, as before."""
    with writers(services) as opened:
        approved = await execute(APPROVE, {"input": {**MIGRATE_SCHEMA, "approvedBy": "dana"}})
    assert opened == [False, True]
    assert approved["approveExecutionStep"]["status"] == "approved"


async def test_a_runner_report_takes_the_writer_once_and_its_replay_never(execute, services, token):
    """acme-report-12's run has step 2 running (the seeds `begin` it)."""
    runner = token("rita", "runner")
    report = {"input": {"runId": "run-acme-report-12-1", "stepId": "step-acme-report-12-2", "output": {"rows": 3}}}
    with writers(services) as opened:
        first = await execute(STEP_COMPLETED, report, bearer=runner)
    assert opened == [False, True]
    with writers(services) as opened:
        again = await execute(STEP_COMPLETED, report, bearer=runner)
    assert opened == [False], "an identical report is answered from the read"
    assert again == first


async def test_a_refused_runner_report_never_takes_the_writer(execute, services, database, token):
    before = await snapshot(database)
    started = {"input": {"runId": "run-acme-digest-8-1", "stepId": "step-acme-digest-8-1"}}
    with writers(services) as opened, pytest.raises(TransportQueryError) as refused:
        await execute(STEP_STARTED, started, bearer=token("rita", "runner"))
    assert opened == [False]
    assert error_of(refused)["extensions"]["code"] == "CONFLICT"
    assert await snapshot(database) == before
