"""The event log after whole lifecycles: every stored row is an event a consumer of the outbox can read
with its contract (payload model, version), sequences are gap-free, the columns agree with the payload,
and `python -m app check` finds nothing wrong.

Besides the journeys of tests/integration/lifecycle.py, three requests nobody decides meet their
deadline (the approval policy below; the sweeper runs at the deadline, by an injected clock): one expires,
one is approved by the timeout, one is escalated (to a second deadline)."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy import select

from app.contracts.control_plane import build_registry
from app.contracts.model import EventSpec
from app.contracts.naming import camel
from app.db.tables import event_table, step_table
from app.services.approval.sweeper import sweep
from app.services.audit.invariants import check
from app.services.kernel.event_log import payload_json
from app.settings import Settings
from tests.conftest import make_settings
from tests.integration.helpers import assert_gap_free, fetch
from tests.integration.lifecycle import JOURNEYS, Lifecycle

SPECS: dict[str, EventSpec] = {spec.key: spec for spec in build_registry().events}
RUN_EVENTS = {key for key, spec in SPECS.items() if "run_id" in spec.payload.model_fields}
"""Events told about a run: their `run_id` column is the payload's `runId`."""
PLAN_EVENTS = {
    "controlPlane.intent.received",
    "controlPlane.plan.compiled",
    "controlPlane.plan.verified",
    "controlPlane.plan.rejected",
}
"""Events before any run: no `run_id`."""


POLICY = {
    "policyVersion": "events-1",
    "rules": [
        {
            "ruleId": "expire",
            "matchKeys": ["delete.expiring"],
            "approverRoles": ["admin"],
            "timeoutSeconds": 600,
            "onTimeout": "reject",
        },
        {
            "ruleId": "auto-approve",
            "matchKeys": ["delete.auto"],
            "matchTiers": ["high"],
            "approverRoles": ["admin"],
            "timeoutSeconds": 600,
            "onTimeout": "approve",
        },
        {
            "ruleId": "escalate",
            "matchKeys": ["delete.escalating"],
            "approverRoles": ["admin"],
            "timeoutSeconds": 600,
            "onTimeout": "escalate",
            "escalateToRoles": ["oncall-lead"],
        },
        {"ruleId": "default", "approverRoles": ["admin"]},
    ],
}
"""The built-in default (high and critical need one admin) for every journey, plus the deadline rules."""
DEADLINES = {"expired": "delete.expiring", "approved_by_timeout": "delete.auto", "escalated": "delete.escalating"}


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(POLICY))
    return make_settings(tmp_path, database_url, approval_policy_file=path)


def validated(spec: EventSpec, stored: dict[str, Any]) -> BaseModel:
    """The stored payload (camelCase keys, see `payload_json`) read with the contract's payload model."""
    fields = {camel(name): name for name in spec.payload.model_fields}
    unknown = set(stored) - set(fields)
    assert not unknown, f"{spec.key}: keys the contract does not declare: {unknown}"
    return spec.payload.model_validate({fields[key]: value for key, value in stored.items()})


async def walk_everything(execute, token, database) -> dict[str, Lifecycle]:
    admin, runner, approver = token("dana"), token("rita", "runner"), token("erin")
    walked = {}
    for name, journey in JOURNEYS.items():
        walked[name] = await journey(Lifecycle(execute=execute, admin=admin, runner=runner, approver=approver))
    for name, key in DEADLINES.items():
        life = Lifecycle(execute=execute, admin=admin, runner=runner, approver=approver)
        await life.started({"steps": [{"key": "build.artifact"}, {"key": key, "input": {"table": "t"}}]})
        await life.run_step(1)
        (row,) = await fetch(database, select(step_table.c.deadline).where(step_table.c.id == life.step(2)))
        report = await sweep(database.unit_of_work, now=row["deadline"])
        assert report.settled == 1, (name, report)
        walked[name] = life
    await life.refresh()
    assert life.steps[1]["status"] == "awaiting_approval"  # escalated: a second deadline, still awaiting
    assert await walked["approved_by_timeout"].step_statuses() == ["completed", "approved"]
    assert await walked["expired"].step_statuses() == ["completed", "expired"]
    return walked


@pytest.fixture
async def walked(execute, token, database) -> dict[str, Lifecycle]:
    return await walk_everything(execute, token, database)


async def all_events(database) -> list[Any]:
    return await fetch(database, select(event_table).order_by(event_table.c.sequence))


async def test_every_stored_event_matches_its_contract(walked: dict[str, Lifecycle], database) -> None:
    rows = await all_events(database)
    ours = {life.execution_id for life in walked.values()}
    assert len([row for row in rows if row["execution_id"] in ours]) > 100
    seen_keys = set()
    for row in rows:
        spec = SPECS.get(row["event_key"])
        assert spec is not None, f"event {row['sequence']}: {row['event_key']} is no event contract"
        assert row["event_version"] == spec.version, row["sequence"]
        payload = validated(spec, row["payload"])
        # Nothing lost or added on the way in: the payload reads back to exactly what is stored.
        assert payload_json(payload) == row["payload"], row["sequence"]
        if row["execution_id"] in ours:
            seen_keys.add(row["event_key"])
    lifecycle_keys = {key for key in SPECS if not key.startswith("controlPlane.skill.")}
    assert seen_keys == lifecycle_keys, "the journeys should produce every lifecycle event"


async def test_columns_agree_with_payloads(walked: dict[str, Lifecycle], database) -> None:
    ours = {life.execution_id for life in walked.values()}
    rows = [row for row in await all_events(database) if row["execution_id"] in ours]
    for row in rows:
        payload = row["payload"]
        where = f"event {row['sequence']} {row['event_key']}"
        assert row["actor"] is not None, where
        assert payload["executionId"] == row["execution_id"], where
        if row["event_key"] in RUN_EVENTS:
            assert row["run_id"] == payload["runId"], where
            if row["event_key"] != "controlPlane.execution.cancelled":
                assert row["run_id"] is not None, where
        else:
            assert row["event_key"] in PLAN_EVENTS, where
            assert row["run_id"] is None, where
        if "stepId" in payload:
            assert row["step_id"] == payload["stepId"], where
    # Cancelled before it started: the one run event without a run.
    before = walked["cancelled_before_start"].execution_id
    (cancelled,) = [row for row in rows if row["execution_id"] == before and row["event_key"].endswith("cancelled")]
    assert cancelled["run_id"] is None
    # A retry is told on the new run, from the failed step.
    retry = walked["retried"]
    (retried,) = [row for row in rows if row["event_key"] == "controlPlane.execution.retried"]
    assert (retried["run_id"], retried["step_id"]) == (retry.run_id, retry.step(2))


async def test_sequences_are_gap_free_and_ordered_per_execution(walked: dict[str, Lifecycle], database) -> None:
    rows = await all_events(database)
    await assert_gap_free(database)

    # Per execution, sequence order is the order things happened: times never go backwards, and
    # every execution's log opens with its intent.
    by_execution: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        by_execution[row["execution_id"]].append(row)
    for execution_id, events in by_execution.items():
        times = [row["occurred_at"] for row in events]
        assert times == sorted(times), execution_id
        if execution_id is not None:
            assert events[0]["event_key"] == "controlPlane.intent.received", execution_id
    for life in walked.values():
        assert by_execution[life.execution_id][0]["payload"]["intentId"] == life.intent_id

    # Per run of these journeys: exactly one execution.started, before every other event of the run
    # (after execution.retried for a retry), and the run's events are all of one execution.
    ours = {life.execution_id for life in walked.values()}
    by_run: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        if row["run_id"] is not None and row["execution_id"] in ours:
            by_run[row["run_id"]].append(row)
    assert len(by_run) == 1 + sum(1 for life in walked.values() if life.run_id)
    for run_id, events in by_run.items():
        keys = [row["event_key"] for row in events]
        opening = keys[1:] if keys[0] == "controlPlane.execution.retried" else keys
        assert opening[0] == "controlPlane.execution.started", run_id
        assert keys.count("controlPlane.execution.started") == 1, run_id
        assert len({row["execution_id"] for row in events}) == 1, run_id
    assert sum(1 for events in by_run.values() if events[0]["event_key"].endswith("retried")) == 1


async def test_the_checker_finds_no_problem_after_every_journey(walked: dict[str, Lifecycle], database) -> None:
    async with database.unit_of_work(write=False) as session:
        problems = await check(session)
    assert [str(problem) for problem in problems] == []
