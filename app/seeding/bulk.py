"""Benchmark databases: tens of thousands of executions, exactly as the services would have written them.

One builder for every benchmark (bench/reject.py, bench/scale.py, and the read-scale benchmark's 100k
database): `build_executions` fills a migrated database with `count` executions whose shapes are
demo-seed scenarios (`app.seeding.dataset.Scenario`: a draft and the actions to play).

How, and why this way. Inserting hand-made rows drifted from the domain model once already: the old
seeding wrote executions naming runs that did not exist, and `python -m app check` failed on every
benchmark database. So no row here is made up. For each shape, one *template* execution is played
through the real services (the demo-seed player: submitIntent, compilePlan, verifyPlan, startExecution,
runner reports and decisions through the executor, with the seed clock and readable ids); then its
rows, read back from every table that belongs to an execution (execution, intent, plan, run, step,
decision, event), are cloned in bulk for every other index with

- the template's name replaced by the clone's in every string (all ids embed the name:
  exec-<name>, int-<name>, plan-<name>, run-<name>-<n>, step-<name>-<n>, dec-<name>-<n>),
- every timestamp the template's clock handed out moved by the clone's offset (columns, and the
  ISO strings of event payloads),
- the events renumbered: each clone's events keep the template's order (and stream versions) and take
  the next positions of the inserting transaction, as the event log would give them,
- a plan's `deterministic_hash` recomputed when its document changed, and every review digest (it
  covers the execution and step ids and the plan hash) recomputed for the clone's,
- None in a JSON column written as SQL NULL, as the services leave it (not JSON `null`).

Clone i is therefore, row for row, what playing the shape under the name of i and the clock of i
would have written (tests/integration/test_bulk_seed.py compares the two, and runs the invariant
checker on a bulk-built database, on SQLite and PostgreSQL), at the cost of a few executemany
statements per thousand executions instead of a dozen transactions per execution. Shapes that export
evidence are refused: a bundle embeds event sequences and digests, which cloning would have to rewrite.

Execution i is named `<prefix>-<i:06d>`; `execution_id`, `step_id` give its ids. Shapes take turns
(execution i has shape i mod len(shapes)); execution i's clock starts at `at + i × spacing`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Table, insert, null, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.contracts.executor import Executor
from app.db.database import Database
from app.db.tables import (
    bundle_table,
    event_table,
    execution_table,
    metadata,
    plan_table,
    run_table,
    step_table,
    vote_table,
)
from app.seeding.dataset import Scenario, ScenarioStep
from app.seeding.player import ScenarioIds, ScenarioPlayer
from app.services.approval.review import review_digest
from app.services.kernel.canonical import sha256_digest
from app.services.kernel.clock import replayed_as
from app.services.kernel.event_log import next_position

BENCH_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)

AWAITING_APPROVAL = Scenario(
    name="shape-awaiting-approval",
    workspace="ws-bench",
    text="Deploy the billing service to production.",
    at=BENCH_EPOCH,
    steps=[ScenarioStep(key="deploy.production", input={"service": "billing", "region": "eu-west-1"})],
    actions=["compile", "verify", "start"],
)
"""One high-risk step that awaits approval (bench/reject.py and bench/scale.py decide it)."""

_ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")
_TABLES: tuple[Table, ...] = tuple(
    table for table in metadata.sorted_tables if table is execution_table or "execution_id" in table.c
)
"""Every table whose rows belong to one execution, parents first (foreign keys)."""


def execution_name(index: int, prefix: str = "bx") -> str:
    return f"{prefix}-{index:06d}"


def execution_id(index: int, prefix: str = "bx") -> str:
    return f"exec-{execution_name(index, prefix)}"


def step_id(index: int, position: int = 1, prefix: str = "bx") -> str:
    return f"step-{execution_name(index, prefix)}-{position}"


@dataclass(frozen=True, slots=True)
class BulkReport:
    executions: int
    played: int
    """Templates played through the services; the rest were cloned."""
    events: int
    seconds: float


class _RecordingIds:
    """The seed player's ids (exec-<name>, ...); the ids it leaves random get <prefix>-<name>-<n> instead,
    so that every id of the template carries its name."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.ids = ScenarioIds(name)

    def __call__(self, prefix: str) -> str:
        return self.ids(prefix) or f"{prefix}-{self.name}-{self.ids.counts[prefix]}"


@dataclass
class _Template:
    """A played execution's rows, and how to turn them into another index's."""

    name: str
    prefix: str
    index: int
    times: frozenset[datetime]
    rows: dict[Table, list[dict[str, Any]]] = field(default_factory=dict)
    events: int = 0

    def check(self) -> None:
        if self.rows.get(bundle_table):
            raise ValueError(f"shape of {self.name}: evidence bundles embed sequences and digests; not cloned")
        hashes = {row["deterministic_hash"] for row in self.rows.get(plan_table, [])}
        for table, rows in self.rows.items():
            for row in rows:
                for column, value in row.items():
                    if (table, column) != (plan_table, "deterministic_hash") and _mentions(value, hashes):
                        raise ValueError(f"shape of {self.name}: {table.name}.{column} quotes a plan hash")
        known = set(self._review_digests(self.rows))
        quoted = {row["review_digest"] for row in self.rows.get(step_table, []) if row["review_digest"]}
        quoted |= {row["review_digest"] for row in self.rows.get(vote_table, [])}
        if quoted - known:
            raise ValueError(f"shape of {self.name}: a review digest this builder cannot recompute")

    @staticmethod
    def _review_digests(rows: dict[Table, list[dict[str, Any]]]) -> list[str]:
        """Every review digest the rows may quote, in one order for the template and its clones: each step
        with each input it had (as planned, as edited by each vote) under its run's plan."""
        plans = {row["id"]: row["deterministic_hash"] for row in rows.get(plan_table, [])}
        run_plans = {row["id"]: plans.get(row["plan_id"]) for row in rows.get(run_table, [])}
        digests: list[str] = []
        for step in rows.get(step_table, []):
            edits = [vote["edited_input"] for vote in rows.get(vote_table, []) if vote["step_id"] == step["id"]]
            digests.extend(
                review_digest(
                    execution_id=step["execution_id"],
                    step_id=step["id"],
                    key=step["key"],
                    step_input=step_input,
                    risk_tier=step["risk_tier"],
                    plan_hash=plan_hash,
                )
                for step_input in [step["input"], step["original_input"], *edits]
                for plan_hash in [run_plans.get(step["run_id"]), *plans.values()]
            )
        return digests

    def clone(self, index: int, spacing: timedelta, first_sequence: int) -> dict[Table, list[dict[str, Any]]]:
        name, new, delta = self.name, execution_name(index, self.prefix), spacing * (index - self.index)

        convert = _Rewrite(name, new, delta, self.times)
        out: dict[Table, list[dict[str, Any]]] = {}
        for table, rows in self.rows.items():
            cloned = []
            for row in rows:
                copy = {column: convert(value) for column, value in row.items()}
                if table is plan_table and copy["document"] != row["document"]:
                    copy["deterministic_hash"] = sha256_digest(copy["document"])
                cloned.append(copy)
            if table is event_table:
                for offset, copy in enumerate(cloned):
                    copy["sequence"] = first_sequence + offset
            out[table] = cloned
        # A review digest covers the execution and step ids and the plan hash: the clone's are its own.
        digests = dict(zip(self._review_digests(self.rows), self._review_digests(out), strict=True))
        redigest = _Redigest(digests)
        for table, cloned in out.items():
            json_columns = {column.name for column in table.c if isinstance(column.type, JSON)}
            for copy in cloned:
                for column, value in copy.items():
                    # None in a JSON column is SQL NULL, as the services leave it (JSON `null` otherwise).
                    copy[column] = null() if value is None and column in json_columns else redigest(value)
        return out


@dataclass(frozen=True, slots=True)
class _Rewrite:
    """One template value as the clone's: the name replaced, the clock's times moved (JSON included)."""

    name: str
    new: str
    delta: timedelta
    times: frozenset[datetime]

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, datetime):
            return value + self.delta
        if isinstance(value, dict):
            return {key: self(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self(item) for item in value]
        return value

    def text(self, value: str) -> str:
        if self.name in value:
            return value.replace(self.name, self.new)
        if _ISO.fullmatch(value) and (moment := datetime.fromisoformat(value)) in self.times:
            return _render(moment + self.delta, value)
        return value


@dataclass(frozen=True, slots=True)
class _Redigest:
    """Every string that is a template's review digest replaced by the clone's, JSON included."""

    digests: dict[str, str]

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.digests.get(value, value)
        if isinstance(value, dict):
            return {key: self(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self(item) for item in value]
        return value


def _mentions(value: Any, needles: set[str]) -> bool:
    if isinstance(value, str):
        return value in needles
    if isinstance(value, dict):
        return any(_mentions(item, needles) for item in value.values())
    if isinstance(value, list):
        return any(_mentions(item, needles) for item in value)
    return False


def _render(moment: datetime, like: str) -> str:
    """`moment` written as the ISO string `like` was (pydantic's JSON: `Z` for UTC, fraction only if any)."""
    text = moment.isoformat()
    return text.replace("+00:00", "Z") if like.endswith("Z") else text


async def _play(executor: Executor[AsyncSession], scenario: Scenario) -> frozenset[datetime]:
    """Plays one scenario through the real services; returns every time its clock handed out."""
    player = ScenarioPlayer(executor, scenario)
    handed_out: set[datetime] = set()

    def clock() -> datetime:
        moment: datetime = player.now()
        handed_out.add(moment)
        return moment

    with replayed_as(clock, _RecordingIds(scenario.name)):
        await player.play()
    return frozenset(handed_out)


async def _read(session: AsyncSession, template: _Template) -> None:
    exec_id = f"exec-{template.name}"
    for table in _TABLES:
        key = table.c.id if table is execution_table else table.c.execution_id
        statement = select(table).where(key == exec_id)
        if table is event_table:
            statement = statement.order_by(event_table.c.sequence)
        template.rows[table] = [dict(row) for row in (await session.execute(statement)).mappings()]
    template.events = len(template.rows[event_table])


async def _insert(session: AsyncSession, batch: list[tuple[_Template, int]], spacing: timedelta) -> int:
    total = sum(template.events for template, _ in batch)
    sequence = await next_position(session) if total else 0
    rows: dict[Table, list[dict[str, Any]]] = {table: [] for table in _TABLES}
    for template, index in batch:
        for table, cloned in template.clone(index, spacing, sequence).items():
            rows[table].extend(cloned)
        sequence += template.events
    for table in _TABLES:
        if rows[table]:
            await session.execute(insert(table), rows[table])
    return total


async def build_executions(  # noqa: PLR0913 - the database, the services and what to build, all by keyword
    database: Database,
    executor: Executor[AsyncSession],
    *,
    shapes: Sequence[Scenario] = (AWAITING_APPROVAL,),
    count: int,
    first: int = 0,
    prefix: str = "bx",
    at: datetime = BENCH_EPOCH,
    spacing: timedelta = timedelta(seconds=1),
    batch: int = 1000,
    progress: Callable[[int], None] | None = None,
) -> BulkReport:
    """`count` executions, indexes `first`..`first + count - 1`, into a migrated database without them.

    The first execution of each shape is played through `executor`; the others are its clones, inserted
    `batch` executions per transaction. `progress`, when given, is called with the executions done so far.
    """
    if not shapes:
        raise ValueError("build_executions needs at least one shape")
    if count < 0 or batch < 1 or spacing.microseconds or at.microsecond:
        raise ValueError("count ≥ 0, batch ≥ 1, and whole seconds for `at` and `spacing`")
    started = time.perf_counter()
    templates: list[_Template] = []
    for offset, shape in enumerate(shapes[:count]):
        index = first + offset
        name = execution_name(index, prefix)
        scenario = shape.model_copy(update={"name": name, "at": at + spacing * index})
        times = await _play(executor, Scenario.model_validate(scenario.model_dump()))
        templates.append(_Template(name=name, prefix=prefix, index=index, times=times))
    async with database.unit_of_work(write=False) as session:
        for template in templates:
            await _read(session, template)
            template.check()
    events = sum(template.events for template in templates)
    clones = [(templates[offset % len(shapes)], first + offset) for offset in range(len(templates), count)]
    done = len(templates)
    for start in range(0, len(clones), batch):
        async with database.unit_of_work(write=True) as session:
            events += await _insert(session, clones[start : start + batch], spacing)
        done += len(clones[start : start + batch])
        if progress is not None:
            progress(done)
    return BulkReport(executions=count, played=len(templates), events=events, seconds=time.perf_counter() - started)
