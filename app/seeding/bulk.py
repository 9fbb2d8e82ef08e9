"""Bulk rows that benchmarks insert directly when they need tens of thousands of executions."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.contracts.control_plane.statuses import ExecutionStatus, RiskTier, StepStatus
from app.contracts.types import ID, Timestamp
from app.db.tables import execution_table as execution_t
from app.db.tables import step_table as step_t


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
