"""Load seed data: executions straight into the store, decisions through the executor like any client."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from app.auth import Principal
from app.contracts.control_plane.commands import approve, reject
from app.contracts.executor import Executor
from app.db.database import Database
from app.services.seed import SeedDataset, insert_executions, read_directory

SEEDS_DIR = Path(__file__).resolve().parent.parent / "seeds"


@dataclass(frozen=True, slots=True)
class SeedReport:
    executions_added: int
    decisions: int


async def load_seed(database: Database, executor: Executor, dataset: SeedDataset) -> SeedReport:
    async with database.unit_of_work(write=True) as session:
        added = await insert_executions(session, dataset)
    for decision in dataset.decisions:
        principal = Principal(id=decision.actor, roles=frozenset({"admin"}))
        raw: dict[str, Any] = {"execution_id": decision.execution, "step_id": decision.step}
        if decision.action == "reject":
            spec = reject.SPEC
            raw |= {"rejected_by": decision.actor, "reason": decision.reason}
        else:
            spec = approve.SPEC
            raw |= {"approved_by": decision.actor, "note": decision.reason}
        # An identical replay returns the original result: seeding twice changes nothing.
        await executor.execute(spec, raw, partial(_as, principal))
    return SeedReport(executions_added=added, decisions=len(dataset.decisions))


def _as(principal: Principal) -> Principal:
    return principal


def default_dataset(directory: Path = SEEDS_DIR) -> SeedDataset:
    return read_directory(directory)
