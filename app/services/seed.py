"""Seed data: the demo data set (scenarios played through the real lifecycle, see app/seeding.py), and
bulk rows that benchmarks insert directly when they need tens of thousands of executions."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.contracts.control_plane.shared import ExecutionStatus, RiskTier
from app.contracts.types import ID, Timestamp
from app.db.tables import execution_table as execution_t
from app.db.tables import step_table as step_t

StepStatus = Literal[
    "pending", "awaiting_approval", "approved", "running", "completed", "failed", "rejected", "skipped", "expired"
]


class _Seed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- the demo data set: scenarios ------------------------------------------------------------------


class ScenarioStep(_Seed):
    key: str = Field(min_length=1, max_length=200)
    risk_tier: RiskTier | None = None
    input: dict[str, object] | None = None


Action = str | dict[str, str]
"""`compile`, `verify`, `start`, `begin` (runner starts the next step), `complete` (begin if needed, then
complete it), `approve`, `pause`, `resume`, `retry`, `export`, or a table with one entry:
`{fail = "CODE: message"}`, `{reject = "reason"}`, `{approve = "note"}`, `{cancel = "reason"}`,
`{abort = "reason"}`, `{shutdown = "reason"}`, `{pause = "reason"}`."""


class Scenario(_Seed):
    """One execution, played from submitIntent on. Ids are derived from `name`: exec-<name>,
    int-<name>, plan-<name>, run-<name>-<attempt>, step-<name>-<position>."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=80)
    workspace: ID
    text: str = Field(min_length=1, max_length=10_000)
    channel: str | None = None
    submitted_by: ID = "sam"
    operator: ID = "dana"
    runner: ID = "runner-1"
    at: Timestamp
    every_seconds: int = Field(default=30, ge=1)
    steps: list[ScenarioStep] | None = None
    actions: list[Action] = []


class DemoDataset(_Seed):
    scenarios: list[Scenario] = []


def read_scenarios(directory: Path) -> DemoDataset:
    """Every `*.toml` file of a directory, in name order, as one data set."""
    scenarios: list[Scenario] = []
    for path in sorted(directory.glob("*.toml")):
        with path.open("rb") as handle:
            scenarios.extend(DemoDataset.model_validate(tomllib.load(handle)).scenarios)
    names = [scenario.name for scenario in scenarios]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"seed scenarios named more than once: {', '.join(duplicates)}")
    return DemoDataset(scenarios=scenarios)


# --- bulk rows for benchmarks -----------------------------------------------------------------------


class SeedStep(_Seed):
    id: ID
    key: str = Field(min_length=1, max_length=200)
    status: StepStatus
    risk_tier: RiskTier | None = None
    requires_approval: bool = False


class SeedExecution(_Seed):
    id: ID
    workspace: ID
    intent: ID | None = None
    plan: ID | None = None
    run: ID | None = None
    status: ExecutionStatus
    risk_tier: RiskTier | None = None
    requires_approval: bool = False
    created_at: Timestamp
    updated_at: Timestamp
    steps: list[SeedStep] = []


class SeedDataset(_Seed):
    executions: list[SeedExecution] = []


async def insert_executions(session: AsyncSession, dataset: SeedDataset) -> int:
    """Insert executions (with their steps) as rows, bypassing the lifecycle: for benchmarks only.
    Returns how many were new."""
    ids = [execution.id for execution in dataset.executions]
    if not ids:
        return 0
    existing = set((await session.execute(select(execution_t.c.id).where(execution_t.c.id.in_(ids)))).scalars())
    new = [execution for execution in dataset.executions if execution.id not in existing]
    if not new:
        return 0
    await session.execute(
        insert(execution_t),
        [
            {
                "id": e.id,
                "workspace_id": e.workspace,
                "intent_id": e.intent,
                "plan_id": e.plan,
                "run_id": e.run,
                "status": e.status,
                "risk_tier": e.risk_tier,
                "requires_approval": e.requires_approval,
                "created_at": e.created_at,
                "updated_at": e.updated_at,
            }
            for e in new
        ],
    )
    steps = [
        {
            "id": s.id,
            "execution_id": e.id,
            "position": position,
            "key": s.key,
            "risk_tier": s.risk_tier,
            "requires_approval": s.requires_approval,
            "status": s.status,
            "created_at": e.created_at,
            "updated_at": e.updated_at,
        }
        for e in new
        for position, s in enumerate(e.steps, start=1)
    ]
    if steps:
        await session.execute(insert(step_t), steps)
    return len(new)
