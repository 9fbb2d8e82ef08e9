"""The demo data set: a readable TOML file of executions and the decisions taken on them."""

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


class SeedDecision(_Seed):
    action: Literal["reject", "approve"]
    execution: ID
    step: ID
    actor: ID
    reason: str | None = None


class SeedDataset(_Seed):
    executions: list[SeedExecution] = []
    decisions: list[SeedDecision] = []


def read_dataset(path: Path) -> SeedDataset:
    with path.open("rb") as handle:
        return SeedDataset.model_validate(tomllib.load(handle))


def read_directory(directory: Path) -> SeedDataset:
    """Every `*.toml` file of a directory, in name order, as one data set."""
    executions: list[SeedExecution] = []
    decisions: list[SeedDecision] = []
    for path in sorted(directory.glob("*.toml")):
        dataset = read_dataset(path)
        executions.extend(dataset.executions)
        decisions.extend(dataset.decisions)
    return SeedDataset(executions=executions, decisions=decisions)


async def insert_executions(session: AsyncSession, dataset: SeedDataset) -> int:
    """Insert the executions (with their steps) that do not exist yet; returns how many were new."""
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
