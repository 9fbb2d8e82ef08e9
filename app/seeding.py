"""Load the demo data set by playing each scenario through the real lifecycle.

Every action is a contract call through the executor, exactly as a client makes it (submitIntent,
compilePlan, verifyPlan, startExecution, runner reports, decisions, ...): a seeded step that awaits
approval is one the system put there. Only two things differ from live traffic, both for readable
demo data: ids are derived from the scenario's name, and the clock starts at the scenario's `at`
and moves `every_seconds` per action. A scenario whose execution exists is skipped, so seeding twice
changes nothing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.auth import Principal
from app.contracts.control_plane.commands import (
    approve,
    evidence_export,
    execution_abort,
    execution_cancel,
    execution_pause,
    execution_resume,
    execution_retry,
    execution_shutdown,
    execution_start,
    intent_submit,
    plan_compile,
    plan_verify,
    reject,
    step_completed,
    step_failed,
    step_started,
)
from app.contracts.control_plane.queries import execution_get
from app.contracts.executor import Executor
from app.contracts.model import OperationSpec
from app.db.database import Database
from app.db.tables import execution_table
from app.services.common import replayed_as
from app.services.seed import DemoDataset, Scenario, read_scenarios

SEEDS_DIR = Path(__file__).resolve().parent.parent / "seeds"
_PREFIXES = {"exe": "exec", "int": "int", "pln": "plan"}


@dataclass(frozen=True, slots=True)
class SeedReport:
    executions_added: int
    actions: int


class SeedError(RuntimeError):
    """A scenario asked for something the lifecycle refused; names the scenario and the action."""


class _Ids:
    """exec-<name>, int-<name>, plan-<name>, run-<name>-<n>, step-<name>-<n>; other ids stay random."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.counts: Counter[str] = Counter()

    def __call__(self, prefix: str) -> str | None:
        self.counts[prefix] += 1
        if prefix in _PREFIXES:
            suffix = "" if self.counts[prefix] == 1 else f"-{self.counts[prefix]}"
            return f"{_PREFIXES[prefix]}-{self.name}{suffix}"
        if prefix == "run":
            return f"run-{self.name}-{self.counts[prefix]}"
        if prefix == "stp":
            return f"step-{self.name}-{self.counts[prefix]}"
        return None


class _Player:
    def __init__(self, executor: Executor, scenario: Scenario) -> None:
        self.executor = executor
        self.scenario = scenario
        self.tick = 0
        self.execution_id = f"exec-{scenario.name}"
        self.intent_id = f"int-{scenario.name}"
        self.plan_id = ""
        self.run_id = ""
        self.steps: list[str] = []

    def now(self) -> Any:
        return self.scenario.at + timedelta(seconds=self.tick * self.scenario.every_seconds)

    async def call(self, spec: OperationSpec, raw: dict[str, Any], actor: str, role: str = "admin") -> Any:
        principal = Principal(id=actor, roles=frozenset({role}))
        try:
            result = await self.executor.execute(spec, raw, lambda: principal)
        except Exception as error:
            raise SeedError(f"seed scenario {self.scenario.name!r}: {spec.field_name} failed: {error}") from error
        self.tick += 1
        return result

    async def next_step(self, *statuses: str) -> str:
        record = await self.executor.execute(
            execution_get.SPEC,
            {"execution_id": self.execution_id},
            lambda: Principal(id=self.scenario.operator, roles=frozenset({"admin"})),
        )
        for step in record.execution.steps:  # type: ignore[attr-defined]
            if step.status in statuses:
                return str(step.step_id)
        raise SeedError(f"seed scenario {self.scenario.name!r}: no step is {' or '.join(statuses)}")

    async def play(self) -> int:
        s = self.scenario
        submit = {"workspace_id": s.workspace, "text": s.text, "channel_key": s.channel}
        await self.call(intent_submit.SPEC, submit, s.submitted_by, "user")
        for action in s.actions:
            name, argument = (action, None) if isinstance(action, str) else next(iter(action.items()))
            await self.act(name, argument)
        return len(s.actions) + 1

    async def act(self, name: str, argument: str | None) -> None:
        s, op, runner = self.scenario, self.scenario.operator, self.scenario.runner
        if name == "compile":
            draft = None
            if s.steps is not None:
                draft = {
                    "steps": [
                        {
                            "key": step.key,
                            **({"riskTier": step.risk_tier} if step.risk_tier else {}),
                            "input": step.input or {},
                        }
                        for step in s.steps
                    ]
                }
            raw = {"execution_id": self.execution_id, "intent_id": self.intent_id, "draft": draft}
            self.plan_id = (await self.call(plan_compile.SPEC, raw, op)).plan_id
        elif name == "verify":
            await self.call(plan_verify.SPEC, {"execution_id": self.execution_id, "plan_id": self.plan_id}, op)
        elif name == "start":
            raw = {"execution_id": self.execution_id, "plan_id": self.plan_id}
            self.run_id = (await self.call(execution_start.SPEC, raw, op)).run_id
        elif name == "begin":
            step = await self.next_step("pending", "approved")
            await self.call(step_started.SPEC, {"run_id": self.run_id, "step_id": step}, runner, "runner")
        elif name == "complete":
            try:
                step = await self.next_step("running")
            except SeedError:
                step = await self.next_step("pending", "approved")
                await self.call(step_started.SPEC, {"run_id": self.run_id, "step_id": step}, runner, "runner")
            await self.call(step_completed.SPEC, {"run_id": self.run_id, "step_id": step}, runner, "runner")
        elif name == "fail":
            code, _, message = (argument or "FAILED: failed").partition(":")
            step = await self.next_step("running")
            raw = {"run_id": self.run_id, "step_id": step, "error_code": code.strip(), "message": message.strip()}
            await self.call(step_failed.SPEC, raw, runner, "runner")
        elif name in ("approve", "reject"):
            step = await self.next_step("awaiting_approval")
            raw = {"execution_id": self.execution_id, "step_id": step}
            if name == "approve":
                await self.call(approve.SPEC, raw | {"approved_by": op, "note": argument}, op)
            else:
                await self.call(reject.SPEC, raw | {"rejected_by": op, "reason": argument or "Rejected."}, op)
        elif name == "cancel":
            raw = {"execution_id": self.execution_id, "cancelled_by": op, "reason": argument}
            await self.call(execution_cancel.SPEC, raw, op)
        elif name == "retry":
            self.run_id = (await self.call(execution_retry.SPEC, {"run_id": self.run_id, "retried_by": op}, op)).run_id
        elif name == "export":
            await self.call(evidence_export.SPEC, {"run_id": self.run_id, "exported_by": op}, op)
        elif name == "resume":
            await self.call(execution_resume.SPEC, {"run_id": self.run_id, "resumed_by": op}, op)
        elif name in ("pause", "abort", "shutdown"):
            spec, actor_field = {
                "pause": (execution_pause.SPEC, "paused_by"),
                "abort": (execution_abort.SPEC, "aborted_by"),
                "shutdown": (execution_shutdown.SPEC, "shutdown_by"),
            }[name]
            await self.call(spec, {"run_id": self.run_id, actor_field: op, "reason": argument}, op)
        else:
            raise SeedError(f"seed scenario {s.name!r}: unknown action {name!r}")


async def load_seed(database: Database, executor: Executor, dataset: DemoDataset) -> SeedReport:
    names = [f"exec-{scenario.name}" for scenario in dataset.scenarios]
    async with database.unit_of_work(write=False) as session:
        existing = set(
            (await session.execute(select(execution_table.c.id).where(execution_table.c.id.in_(names)))).scalars()
        )
    added = actions = 0
    for scenario in dataset.scenarios:
        if f"exec-{scenario.name}" in existing:
            continue
        player = _Player(executor, scenario)
        with replayed_as(player.now, _Ids(scenario.name)):
            actions += await player.play()
        added += 1
    return SeedReport(executions_added=added, actions=actions)


def default_dataset(directory: Path = SEEDS_DIR) -> DemoDataset:
    return read_scenarios(directory)
