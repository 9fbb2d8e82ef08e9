"""Load the demo data set by playing each scenario through the real lifecycle.

Every action is a contract call through the executor, exactly as a client makes it (submitIntent,
compilePlan, verifyPlan, startExecution, runner reports, decisions, ...): a seeded step that awaits
approval is one the system put there. Only two things differ from live traffic, both for readable
demo data: ids are derived from the scenario's name, and the clock starts at the scenario's `at`
and moves `every_seconds` per action. A scenario whose execution exists is skipped, so seeding twice
changes nothing.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth import Principal
from app.contracts.control_plane.statuses import StepStatus
from app.contracts.executor import Executor
from app.contracts.model import OperationSpec, UnitOfWorkFactory
from app.db.database import Database
from app.db.tables import execution_table
from app.seeding.dataset import DemoDataset, Scenario, read_scenarios
from app.services.approval.sweeper import sweep
from app.services.kernel.clock import replayed_as
from app.settings import Settings

SEEDS_DIR = Path(__file__).resolve().parents[2] / "seeds"
_PREFIXES = {"exe": "exec", "int": "int", "pln": "plan"}


@dataclass(frozen=True, slots=True)
class SeedReport:
    executions_added: int
    actions: int


class SeedError(RuntimeError):
    """A scenario asked for something the lifecycle refused; names the scenario and the action."""


class ScenarioIds:
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


class ScenarioPlayer:
    def __init__(
        self,
        executor: Executor[AsyncConnection],
        scenario: Scenario,
        uow: UnitOfWorkFactory[AsyncConnection] | None = None,
    ) -> None:
        self.executor = executor
        self.scenario = scenario
        self.uow = uow
        self.tick = 0
        self.waited = timedelta()
        self.execution_id = f"exec-{scenario.name}"
        self.intent_id = f"int-{scenario.name}"
        self.plan_id = ""
        self.run_id = ""
        self.steps: list[str] = []

    def now(self) -> Any:
        return self.scenario.at + timedelta(seconds=self.tick * self.scenario.every_seconds) + self.waited

    def spec(self, key: str) -> OperationSpec:
        """The contract by key, from the executor's registry (contracts are imported in one place)."""
        spec = self.executor.registry.get(key)
        if not isinstance(spec, OperationSpec):
            raise SeedError(f"{key} is not an operation")
        return spec

    async def call(self, key: str, raw: dict[str, Any], actor: str, role: str = "admin") -> Any:
        spec = self.spec(key)
        principal = Principal.of(actor, {role}, {self.scenario.workspace})

        async def caller() -> Principal:
            return principal

        try:
            result = await self.executor.execute(spec, raw, caller)
        except Exception as error:
            raise SeedError(f"seed scenario {self.scenario.name!r}: {spec.field_name} failed: {error}") from error
        self.tick += 1
        return result

    async def next_step(self, *statuses: StepStatus) -> str:
        operator = Principal.of(self.scenario.operator, {"admin"}, {self.scenario.workspace})

        async def caller() -> Principal:
            return operator

        record = await self.executor.execute(
            self.spec("controlPlane.execution.get"), {"execution_id": self.execution_id}, caller
        )
        for step in record.execution.steps:  # type: ignore[attr-defined]
            if step.status in statuses:
                return str(step.step_id)
        raise SeedError(f"seed scenario {self.scenario.name!r}: no step is {' or '.join(statuses)}")

    async def play(self) -> int:
        s = self.scenario
        submit = {"workspace_id": s.workspace, "text": s.text, "channel_key": s.channel}
        await self.call("controlPlane.intent.submit", submit, s.submitted_by, "user")
        for action in s.actions:
            name, argument = (action, None) if isinstance(action, str) else next(iter(action.items()))
            act = self.ACTIONS.get(name)
            if act is None:
                raise SeedError(f"seed scenario {s.name!r}: unknown action {name!r}")
            await act(self, argument)
        return len(s.actions) + 1

    # --- one method per scenario action (ACTIONS below) ---------------------------------------------

    async def compile_plan(self, _: str | None) -> None:
        s = self.scenario
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
        self.plan_id = (await self.call("controlPlane.plan.compile", raw, s.operator)).plan_id

    async def verify(self, _: str | None) -> None:
        raw = {"execution_id": self.execution_id, "plan_id": self.plan_id}
        await self.call("controlPlane.plan.verify", raw, self.scenario.operator)

    async def start(self, _: str | None) -> None:
        raw = {"execution_id": self.execution_id, "plan_id": self.plan_id}
        self.run_id = (await self.call("controlPlane.execution.start", raw, self.scenario.operator)).run_id

    async def begin(self, _: str | None) -> str:
        step = await self.next_step(StepStatus.PENDING, StepStatus.APPROVED)
        raw = {"run_id": self.run_id, "step_id": step}
        await self.call("controlPlane.runner.stepStarted", raw, self.scenario.runner, "runner")
        return step

    async def complete(self, _: str | None) -> None:
        try:
            step = await self.next_step(StepStatus.RUNNING)
        except SeedError:
            step = await self.begin(None)
        raw = {"run_id": self.run_id, "step_id": step}
        await self.call("controlPlane.runner.stepCompleted", raw, self.scenario.runner, "runner")

    async def fail(self, argument: str | None) -> None:
        code, _, message = (argument or "FAILED: failed").partition(":")
        step = await self.next_step(StepStatus.RUNNING)
        raw = {"run_id": self.run_id, "step_id": step, "error_code": code.strip(), "message": message.strip()}
        await self.call("controlPlane.runner.stepFailed", raw, self.scenario.runner, "runner")

    async def approve(self, note: str | None) -> None:
        op = self.scenario.operator
        raw = {"execution_id": self.execution_id, "step_id": await self.next_step(StepStatus.AWAITING_APPROVAL)}
        await self.call("controlPlane.execution.approve", raw | {"approved_by": op, "note": note}, op)

    async def vote(self, argument: str | None) -> None:
        """`{vote = "erin: note"}`: an approval by another admin (one vote toward a quorum)."""
        who, _, note = (argument or self.scenario.operator).partition(":")
        raw = {"execution_id": self.execution_id, "step_id": await self.next_step(StepStatus.AWAITING_APPROVAL)}
        await self.call(
            "controlPlane.execution.approve",
            raw | {"approved_by": who.strip(), "note": note.strip() or None},
            who.strip(),
        )

    async def edit(self, argument: str | None) -> None:
        """`{edit = '{"replicas": 1}'}`: the operator approves with this input instead (where the rule allows)."""
        op = self.scenario.operator
        raw = {"execution_id": self.execution_id, "step_id": await self.next_step(StepStatus.AWAITING_APPROVAL)}
        edited = json.loads(argument or "{}")
        await self.call("controlPlane.execution.approve", raw | {"approved_by": op, "edited_input": edited}, op)

    async def wait(self, argument: str | None) -> None:
        """`{wait = "3700"}`: the clock moves on this many seconds (nobody acts meanwhile)."""
        self.waited += timedelta(seconds=int(argument or "0"))

    async def sweep(self, _: str | None) -> None:
        """The deadline sweeper runs once at the scenario's clock (as every server process does)."""
        if self.uow is None:
            raise SeedError(f"seed scenario {self.scenario.name!r}: sweep needs the database")
        await sweep(self.uow, now=self.now())
        self.tick += 1

    async def reject(self, reason: str | None) -> None:
        op = self.scenario.operator
        raw = {"execution_id": self.execution_id, "step_id": await self.next_step(StepStatus.AWAITING_APPROVAL)}
        await self.call("controlPlane.execution.reject", raw | {"rejected_by": op, "reason": reason or "Rejected."}, op)

    async def cancel(self, reason: str | None) -> None:
        op = self.scenario.operator
        raw = {"execution_id": self.execution_id, "cancelled_by": op, "reason": reason}
        await self.call("controlPlane.execution.cancel", raw, op)

    async def retry(self, _: str | None) -> None:
        op = self.scenario.operator
        self.run_id = (
            await self.call("controlPlane.execution.retry", {"run_id": self.run_id, "retried_by": op}, op)
        ).run_id

    async def export(self, _: str | None) -> None:
        op = self.scenario.operator
        await self.call("controlPlane.execution.evidence.export", {"run_id": self.run_id, "exported_by": op}, op)

    async def resume(self, _: str | None) -> None:
        op = self.scenario.operator
        await self.call("controlPlane.execution.resume", {"run_id": self.run_id, "resumed_by": op}, op)

    async def _stop(self, key: str, actor_field: str, reason: str | None) -> None:
        op = self.scenario.operator
        await self.call(key, {"run_id": self.run_id, actor_field: op, "reason": reason}, op)

    async def pause(self, reason: str | None) -> None:
        await self._stop("controlPlane.execution.pause", "paused_by", reason)

    async def abort(self, reason: str | None) -> None:
        await self._stop("controlPlane.execution.abort", "aborted_by", reason)

    async def shutdown(self, reason: str | None) -> None:
        await self._stop("controlPlane.execution.shutdown", "shutdown_by", reason)

    ACTIONS: ClassVar[Mapping[str, Callable[[ScenarioPlayer, str | None], Awaitable[object]]]] = {
        "compile": compile_plan,
        "verify": verify,
        "start": start,
        "begin": begin,
        "complete": complete,
        "fail": fail,
        "approve": approve,
        "vote": vote,
        "edit": edit,
        "wait": wait,
        "sweep": sweep,
        "reject": reject,
        "cancel": cancel,
        "retry": retry,
        "export": export,
        "resume": resume,
        "pause": pause,
        "abort": abort,
        "shutdown": shutdown,
    }
    """Scenario action -> what the player does (the `actions` of a scenario in seeds/*.toml)."""


async def load_seed(database: Database, executor: Executor[AsyncConnection], dataset: DemoDataset) -> SeedReport:
    names = [f"exec-{scenario.name}" for scenario in dataset.scenarios]
    async with database.unit_of_work(write=False) as session:
        existing = set(
            (await session.execute(select(execution_table.c.id).where(execution_table.c.id.in_(names)))).scalars()
        )
    added = actions = 0
    for scenario in dataset.scenarios:
        if f"exec-{scenario.name}" in existing:
            continue
        player = ScenarioPlayer(executor, scenario, database.unit_of_work)
        with replayed_as(player.now, ScenarioIds(scenario.name)):
            actions += await player.play()
        added += 1
    return SeedReport(executions_added=added, actions=actions)


def seeding_settings(settings: Settings, dataset: DemoDataset) -> Settings:
    """The settings to play `dataset` with: the server's, under the data set's approval policy if it has one."""
    if dataset.approval_policy_file is None:
        return settings
    return settings.model_copy(update={"approval_policy_file": dataset.approval_policy_file})


def default_dataset(directory: Path = SEEDS_DIR) -> DemoDataset:
    return read_scenarios(directory)
