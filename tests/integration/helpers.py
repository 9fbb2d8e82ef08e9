"""Shared by the integration tests: the decision contracts, seeded ids, and helpers that read the database
and check what a request did to it. The GraphQL documents are in app/testing/documents.py."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from gql.transport.exceptions import TransportQueryError
from sqlalchemy import Executable, RowMapping, delete, select
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.applications import Starlette

from app.db.database import Database
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
from app.server import create_app
from app.services.approval import decisions
from app.services.kernel.event_log import NewEvent, append_events
from app.settings import Settings
from tests.conftest import DEFAULT_TOKEN, Bearer, Execute, Snapshot, error_of, make_settings, snapshot
from tests.databases import Backend


def app_per_module(name: str) -> tuple[object, object, object]:
    """`database_url, settings, app = app_per_module("transitions")` in a test module: one seeded database
    and one app for all of the module's tests instead of one per test, for modules of many cases that
    each make executions of their own (their tests run on the module's event loop)."""

    @pytest_asyncio.fixture(scope="module", loop_scope="module", name="database_url")
    async def database_url(
        backend: Backend, seeded_template: str, tmp_path_factory: pytest.TempPathFactory
    ) -> AsyncIterator[str]:
        url = await backend.copy(seeded_template, tmp_path_factory.mktemp(f"{name}-db"))
        yield url
        await backend.drop(url)

    @pytest.fixture(scope="module", name="settings")
    def settings(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Settings:
        return make_settings(tmp_path_factory.mktemp(name), database_url)

    @pytest_asyncio.fixture(scope="module", loop_scope="module", name="app")
    async def app(settings: Settings) -> AsyncIterator[Starlette]:
        application = create_app(settings, migrate_on_start=False)
        yield application
        await application.state.services.database.dispose()

    return database_url, settings, app


def contract(key: str) -> dict[str, str]:
    return {"key": key, "version": "1.0.0"}


REJECT_CONTRACT = contract("controlPlane.execution.reject")
APPROVE_CONTRACT = contract("controlPlane.execution.approve")

# Seeded steps awaiting a decision, and the one the seed rejected.
DEPLOY = {"executionId": "exec-acme-deploy-42", "stepId": "step-acme-deploy-42-3"}
MIGRATE_SCHEMA = {"executionId": "exec-globex-migrate-9", "stepId": "step-globex-migrate-9-2"}
PAYOUT = {"executionId": "exec-initech-payout-2", "stepId": "step-initech-payout-2-2"}
# Steps of the demo data set awaiting a decision (approvals.toml adds a half-approved quorum, an escalated one).
SEEDED_AWAITING = 7
SEEDED_EXECUTIONS = 20  # demo.toml 16, approvals.toml 4
SEEDED_REASON = "Vendor list includes two accounts flagged by finance; payout must wait for the quarterly review."


# --- requests that must fail ----------------------------------------------------------------------


async def failing(
    execute: Execute,
    database: Database,
    document: str,
    variables: dict[str, Any] | None = None,
    *,
    expect_contract: dict[str, str] | None = None,
    bearer: Bearer = DEFAULT_TOKEN,
) -> dict[str, Any]:
    """Runs a request that must fail; the database must be exactly as before. Returns the one error,
    which must name `expect_contract` when one is given."""
    before = await snapshot(database)
    with pytest.raises(TransportQueryError) as excinfo:
        await execute(document, variables, bearer=bearer)
    assert await snapshot(database) == before
    error = error_of(excinfo)
    if expect_contract is not None:
        assert error["extensions"]["contract"] == expect_contract
    return error


def raise_after_append(monkeypatch: pytest.MonkeyPatch, message: str) -> None:
    """Make every decision raise RuntimeError(message) right after its events were appended, inside the
    transaction (an unexpected failure, as a broken disk or a bug would cause)."""

    async def explode(session: AsyncConnection, new_events: list[NewEvent]) -> list[int]:
        await append_events(session, new_events)
        raise RuntimeError(message)

    monkeypatch.setattr(decisions, "append_events", explode)


def fail_after_append(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, secret: str) -> None:
    """`raise_after_append` with `secret`, the server's errors captured by `caplog`."""
    raise_after_append(monkeypatch, secret)
    caplog.set_level(logging.ERROR)


def assert_masked(error: dict[str, Any], secret: str, caplog: pytest.LogCaptureFixture) -> None:
    """An unexpected failure answers a bare internal error; the details go to the server log only."""
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert error["message"] == "Internal server error."
    assert secret not in json.dumps(error)
    assert secret in caplog.text


# --- reading the database -------------------------------------------------------------------------


async def fetch(database: Database, statement: Executable) -> list[RowMapping]:
    async with database.engine.connect() as conn:
        return list((await conn.execute(statement)).mappings())


async def step_rows(database: Database, execution_id: str) -> list[RowMapping]:
    step = step_table
    return await fetch(database, select(step).where(step.c.execution_id == execution_id).order_by(step.c.position))


async def steps_of(database: Database, execution_id: str) -> dict[str, RowMapping]:
    return {row["id"]: row for row in await step_rows(database, execution_id)}


async def decision_rows(database: Database, step_id: str) -> list[RowMapping]:
    return await fetch(database, select(decision_table).where(decision_table.c.step_id == step_id))


async def execution_row(database: Database, execution_id: str) -> RowMapping:
    (row,) = await fetch(database, select(execution_table).where(execution_table.c.id == execution_id))
    return row


async def events(database: Database) -> list[RowMapping]:
    return await fetch(database, select(event_table).order_by(event_table.c.sequence))


async def assert_gap_free(database: Database) -> None:
    """Every execution's stream versions are 1, 2, 3 ... in position order; positions are unique (the
    primary key), and on SQLite (one writer) 1..N without a hole."""
    rows = await events(database)
    streams: dict[str, list[int]] = {}
    for row in rows:
        if row["execution_id"] is not None:
            streams.setdefault(row["execution_id"], []).append(row["stream_version"])
    assert all(versions == list(range(1, len(versions) + 1)) for versions in streams.values()), streams
    if database.is_sqlite:
        assert [row["sequence"] for row in rows] == list(range(1, len(rows) + 1))


def changed_keys(before: Snapshot, after: Snapshot, table: str) -> set[Any]:
    """Primary keys (first column) of rows added, removed or modified between two snapshots."""
    old = {row[0]: row for row in before[table]}
    new = {row[0]: row for row in after[table]}
    return {key for key in old.keys() | new.keys() if old.get(key) != new.get(key)}


def instant(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset() == timedelta(0), value
    return parsed


async def remove_seeded_data(database: Database) -> None:
    """Leave the database with no execution at all: tests that count exactly make their own."""
    async with database.engine.begin() as conn:
        for table in (
            bundle_table,
            vote_table,
            decision_table,
            event_table,
            step_table,
            run_table,
            plan_table,
            intent_table,
            execution_table,
        ):
            await conn.execute(delete(table))
