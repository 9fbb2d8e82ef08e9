"""The read benchmark's databases: a realistic status mix of five-step executions across 20 workspaces
(bench/reads.py), built with the app's bulk builder (app.seeding.bulk), plus a few evidence exports played
through the services. The app is imported lazily (bench/kit stays importable by the load generators)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

WORKSPACES = tuple(f"ws-{n:02d}" for n in range(20))
FIVE_STEPS = (
    {"key": "fetch.config", "input": {"ref": "main"}},
    {"key": "build.artifact", "input": {"ref": "release/1"}},
    {"key": "test.integration"},
    {"key": "deploy.production", "input": {"service": "billing", "region": "eu-west-1"}},
    {"key": "notify.team", "input": {"channel": "#ops"}},
)
_DONE3 = ("compile", "verify", "start", "complete", "complete", "complete")  # step 4 (high risk) then awaits
MIX: dict[str, tuple[int, list[Any]]] = {
    # status: (executions per 100, the scenario's actions)
    "completed": (82, [*_DONE3, {"approve": "ok"}, "complete", "complete"]),
    "awaiting_approval": (1, list(_DONE3)),
    "running": (5, ["compile", "verify", "start", "complete", "begin"]),
    "failed": (5, ["compile", "verify", "start", "complete", "begin", {"fail": "TIMEOUT: the build timed out"}]),
    "cancelled": (3, ["compile", "verify", "start", "complete", {"cancel": "Superseded by a newer release."}]),
    "rejected": (2, [*_DONE3, {"reject": "Deploy freeze until Monday."}]),
    "pending": (2, ["compile", "verify"]),
}
"""Most completed, about 1 % awaiting approval, some running, failed, cancelled, rejected, pending."""
MIXES = {"realistic": MIX, "awaiting": {"awaiting_approval": (1, list(_DONE3))}}


@dataclass(frozen=True, slots=True)
class Built:
    executions: int
    events: int
    bundles: int
    seconds: float
    rows: dict[str, int]


def shapes_and_pattern(mix: dict[str, tuple[int, list[Any]]]) -> tuple[list[Any], list[int]]:
    """The scenarios of a mix and a pattern of 100 (or the mix's total) spreading them evenly."""
    from app.seeding.bulk import BENCH_EPOCH  # noqa: PLC0415 - the app stays out of the load generators
    from app.seeding.dataset import Scenario, ScenarioStep  # noqa: PLC0415 - as above

    shapes = [
        Scenario(
            name=f"shape-{status.replace('_', '-')}",
            workspace=WORKSPACES[0],
            text="Deploy release 1 of the billing service to production.",
            at=BENCH_EPOCH,
            steps=[ScenarioStep.model_validate(step) for step in FIVE_STEPS],
            actions=actions,
        )
        for status, (_, actions) in mix.items()
    ]
    weights = [weight for weight, _ in mix.values()]
    total = sum(weights)
    # Bresenham-like spread: shape k at every total/weight[k]-th slot, so statuses interleave in time.
    pattern: list[int] = []
    credit = [0.0] * len(weights)
    for _ in range(total):
        for k, weight in enumerate(weights):
            credit[k] += weight / total
        chosen = max(range(len(weights)), key=lambda k: credit[k])
        credit[chosen] -= 1
        pattern.append(chosen)
    return shapes, pattern


async def build(database: Any, executor: Any, count: int, *, mix: str = "realistic", bundles: int = 5) -> Built:
    """`count` executions of the mix into a migrated, empty database; then `bundles` evidence exports of
    completed executions (through the executor, as an operator exports them)."""
    from sqlalchemy import func, select  # noqa: PLC0415 - as above

    from app.db.tables import metadata  # noqa: PLC0415 - as above
    from app.seeding.bulk import build_executions  # noqa: PLC0415 - as above

    started = time.perf_counter()
    shapes, pattern = shapes_and_pattern(MIXES[mix])
    report = await build_executions(
        database, executor, shapes=shapes, count=count, pattern=pattern, workspaces=WORKSPACES, prefix="rd", batch=2000
    )
    exported = await export_bundles(database, executor, bundles)
    rows: dict[str, int] = {}
    async with database.unit_of_work(write=False) as session:
        for table in metadata.sorted_tables:
            rows[table.name] = (await session.execute(select(func.count()).select_from(table))).scalar_one()
    return Built(count, report.events, exported, time.perf_counter() - started, rows)


async def export_bundles(database: Any, executor: Any, count: int) -> int:
    """Evidence bundles of the newest `count` completed executions, exported through the executor."""
    from sqlalchemy import select  # noqa: PLC0415 - as above

    from app.auth import Principal  # noqa: PLC0415 - as above
    from app.db.tables import execution_table  # noqa: PLC0415 - as above

    if count <= 0:
        return 0
    async with database.unit_of_work(write=False) as session:
        runs = (
            await session.execute(
                select(execution_table.c.run_id)
                .where(execution_table.c.status == "completed")
                .order_by(execution_table.c.updated_at.desc())
                .limit(count)
            )
        ).scalars()
        run_ids = list(runs)
    spec = executor.registry.get("controlPlane.execution.evidence.export")
    operator = Principal.of("dana", {"admin"}, {"*"})

    async def caller() -> Principal:
        return operator

    for run_id in run_ids:
        await executor.execute(spec, {"run_id": run_id, "exported_by": "dana"}, caller)
    return len(run_ids)
