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
(execution i has shape i mod len(shapes)), or follow `pattern` (execution first + j has shape
pattern[j mod len(pattern)]: a status mix); execution i's clock starts at `at + i × spacing`. With
`workspaces`, execution i is in workspaces[i mod len(workspaces)] (its shape's workspace replaced, in
columns and payloads alike).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Dialect, Table, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.contracts.executor import Executor
from app.db.database import Database
from app.db.sqlite_driver import THREADED
from app.db.tables import (
    bundle_table,
    event_table,
    execution_table,
    metadata,
    plan_table,
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

_CONSTANT, _REWRITE, _TIME, _SEQUENCE, _HASH, _DIGEST, _REWRITE_DIGESTS = range(7)
"""How a clone gets a template's cell: as is (bound once), rewritten, moved in time, the next event number,
the plan's hash, a review digest recomputed for the clone, rewritten with the review digests it quotes
(event payloads) recomputed."""
_DIGEST_COLUMNS = {(step_table, "review_digest"), (vote_table, "review_digest")}
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
    workspace: str
    workspaces: Sequence[str] = ()
    rows: dict[Table, list[dict[str, Any]]] = field(default_factory=dict)
    events: int = 0
    statements: dict[Table, tuple[str, list[list[tuple[int, Any, Any]]]]] = field(default_factory=dict)
    columns: dict[Table, list[str]] = field(default_factory=dict)
    recipes: dict[str, tuple[dict[str, Any], Any, str]] = field(default_factory=dict)
    """Review digest the template quotes -> (its step's row, the input it covers, the plan id it covers)."""

    def check(self) -> None:
        if self.rows.get(bundle_table):
            raise ValueError(f"shape of {self.name}: evidence bundles embed sequences and digests; not cloned")
        hashes = {row["deterministic_hash"] for row in self.rows.get(plan_table, [])}
        for table, rows in self.rows.items():
            for row in rows:
                for column, value in row.items():
                    if (table, column) != (plan_table, "deterministic_hash") and _mentions(value, hashes):
                        raise ValueError(f"shape of {self.name}: {table.name}.{column} quotes a plan hash")
        recipes = self._digest_recipes()
        quoted = {row["review_digest"] for row in self.rows.get(step_table, []) if row["review_digest"]}
        quoted |= {row["review_digest"] for row in self.rows.get(vote_table, [])}
        if quoted - set(recipes):
            raise ValueError(f"shape of {self.name}: a review digest this builder cannot recompute")
        self.recipes = {digest: recipe for digest, recipe in recipes.items() if digest in quoted}

    def _digest_recipes(self) -> dict[str, tuple[dict[str, Any], Any, str]]:
        """Every review digest the rows may quote: each step with each input it had (as planned, as edited
        by each vote) under each plan of the execution."""
        plans = {row["id"]: row["deterministic_hash"] for row in self.rows.get(plan_table, [])}
        recipes: dict[str, tuple[dict[str, Any], Any, str]] = {}
        for step in self.rows.get(step_table, []):
            edits = [vote["edited_input"] for vote in self.rows.get(vote_table, []) if vote["step_id"] == step["id"]]
            for step_input in [step["input"], step["original_input"], *edits]:
                for plan_id, plan_hash in plans.items():
                    digest = _digest(step, step_input, plan_hash)
                    recipes.setdefault(digest, (step, step_input, plan_id))
        return recipes

    def compile(self, dialect: Dialect) -> None:
        """Prepares each row as driver parameters: what no clone changes is bound once, here; the rest is
        marked with how to change it (so a clone costs a few string replacements, not a walk of every value)."""
        self.statements = {}
        hashes = {row["deterministic_hash"] for row in self.rows.get(plan_table, [])}
        for table, rows in self.rows.items():
            written = [column.key for column in table.c if column.computed is None]  # the database generates the rest
            compiled = insert(table).compile(dialect=dialect, column_keys=written)
            order = list(compiled.positiontup or [])
            processors: dict[str, Any] = dict(compiled._bind_processors)  # noqa: SLF001 - the dialect's own
            cells_of_rows = []
            for row in rows:
                cells: list[tuple[int, Any, Any]] = []
                for key in order:
                    value, process = row[key], processors.get(key)
                    if table is event_table and key == "sequence":
                        kind = _SEQUENCE
                    elif (table, key) in _DIGEST_COLUMNS and value is not None:
                        kind = _DIGEST
                    elif table is plan_table and key == "deterministic_hash" and value in hashes:
                        kind = _HASH
                    elif _mentions(value, set(self.recipes)):
                        kind = _REWRITE_DIGESTS
                    elif not self.changes(value):
                        kind, value = _CONSTANT, process(value) if process and value is not None else value
                    elif isinstance(value, datetime):
                        kind = _TIME
                    else:
                        kind = _REWRITE
                    cells.append((kind, value, process))
                cells_of_rows.append(cells)
            self.statements[table] = (str(compiled), cells_of_rows)
            self.columns[table] = [table.c[key].name for key in order]

    def changes(self, value: Any) -> bool:
        """Whether some clone would write `value` differently (a name, a time of the clock, the workspace)."""
        probe = _Rewrite(self.name, "\0", timedelta(seconds=1), self.times, self.workspace, "\0")
        return bool(probe(value) != value)

    def clone_rows(self, index: int, spacing: timedelta, first_sequence: int) -> dict[Table, list[tuple[Any, ...]]]:
        """Clone `index`'s rows as driver parameters, in the order of `compile`'s statements."""
        new, delta = execution_name(index, self.prefix), spacing * (index - self.index)
        workspace = self.workspaces[index % len(self.workspaces)] if self.workspaces else self.workspace
        convert = _Rewrite(self.name, new, delta, self.times, self.workspace, workspace)
        out: dict[Table, list[tuple[Any, ...]]] = {}
        sequence = first_sequence
        digests = self._clone_digests(convert)
        for table, (_, rows) in self.statements.items():
            cloned = []
            for cells in rows:
                values = []
                document: Any = None
                for kind, value, process in cells:
                    if kind == _CONSTANT:
                        values.append(value)
                        continue
                    if kind == _SEQUENCE:
                        changed: Any = sequence
                        sequence += 1
                    elif kind == _TIME:
                        changed = value + delta
                    elif kind == _HASH:
                        changed = None  # filled in below, from the document
                    elif kind == _DIGEST:
                        changed = digests[value]
                    elif kind == _REWRITE_DIGESTS:
                        changed = _replace_strings(convert(value), digests)
                    else:
                        changed = convert(value)
                        if table is plan_table and isinstance(changed, dict):
                            document = changed
                    values.append(process(changed) if process and changed is not None else changed)
                if table is plan_table:
                    row_hash = self._hash_of(cells, document)
                    values = [
                        row_hash if kind == _HASH else value for (kind, _, _), value in zip(cells, values, strict=True)
                    ]
                cloned.append(tuple(values))
            out[table] = cloned
        return out

    def _clone_digests(self, convert: _Rewrite) -> dict[str, str]:
        """The template's quoted review digests -> the clone's (each over the clone's ids and plan hash)."""
        if not self.recipes:
            return {}
        plan_hashes = {}
        for row in self.rows.get(plan_table, []):
            document = convert(row["document"])
            plan_hashes[row["id"]] = (
                row["deterministic_hash"] if document == row["document"] else sha256_digest(document)
            )
        return {
            digest: _digest(
                {key: convert(value) for key, value in step.items()}, convert(step_input), plan_hashes[plan_id]
            )
            for digest, (step, step_input, plan_id) in self.recipes.items()
        }

    def _hash_of(self, cells: list[tuple[int, Any, Any]], document: Any) -> Any:
        """A plan's hash: the template's when its document is unchanged, else that of the new document."""
        original = next(value for kind, value, _ in cells if kind == _HASH)
        return original if document is None else sha256_digest(document)


@dataclass(frozen=True, slots=True)
class _Rewrite:
    """One template value as the clone's: the name replaced, the clock's times moved (JSON included)."""

    name: str
    new: str
    delta: timedelta
    times: frozenset[datetime]
    workspace: str
    new_workspace: str

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
        if value == self.workspace:
            return self.new_workspace
        if self.name in value:
            return value.replace(self.name, self.new)
        if _ISO.fullmatch(value) and (moment := datetime.fromisoformat(value)) in self.times:
            return _render(moment + self.delta, value)
        return value


def _digest(step: dict[str, Any], step_input: Any, plan_hash: str | None) -> str:
    return review_digest(
        execution_id=step["execution_id"],
        step_id=step["id"],
        key=step["key"],
        step_input=step_input,
        risk_tier=step["risk_tier"],
        plan_hash=plan_hash,
    )


def _replace_strings(value: Any, replacements: dict[str, str]) -> Any:
    if isinstance(value, str):
        return replacements.get(value, value)
    if isinstance(value, dict):
        return {key: _replace_strings(item, replacements) for key, item in value.items()}
    if isinstance(value, list):
        return [_replace_strings(item, replacements) for item in value]
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


async def _play(executor: Executor[AsyncConnection], scenario: Scenario) -> frozenset[datetime]:
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


async def _read(session: AsyncConnection, template: _Template) -> None:
    exec_id = f"exec-{template.name}"
    for table in _TABLES:
        key = table.c.id if table is execution_table else table.c.execution_id
        statement = select(table).where(key == exec_id)
        if table is event_table:
            statement = statement.order_by(event_table.c.sequence)
        template.rows[table] = [dict(row) for row in (await session.execute(statement)).mappings()]
    template.events = len(template.rows[event_table])


async def _insert(session: AsyncConnection, batch: list[tuple[_Template, int]], spacing: timedelta) -> int:
    total = sum(template.events for template, _ in batch)
    sequence = await next_position(session) if total else 0
    rows: dict[Table, list[tuple[Any, ...]]] = {table: [] for table in _TABLES}
    statements: dict[Table, tuple[str, list[str]]] = {}
    for template, index in batch:
        for table, cloned in template.clone_rows(index, spacing, sequence).items():
            rows[table].extend(cloned)
            statements.setdefault(table, (template.statements[table][0], template.columns[table]))
        sequence += template.events
    connection = session
    copy = None
    if connection.dialect.name == "postgresql":  # COPY: several times faster than a multi-row INSERT there
        driver: Any = (await connection.get_raw_connection()).driver_connection  # asyncpg's connection
        copy = driver.copy_records_to_table
    for table in _TABLES:
        if rows[table]:
            statement, columns = statements[table]
            if copy is not None:
                await copy(table.name, records=rows[table], columns=columns)
            else:
                # thousands of rows: in the driver's thread, not on the event loop's (app/db/sqlite_driver.py)
                await connection.exec_driver_sql(statement, rows[table], execution_options={THREADED: True})
    return total


async def build_executions(  # noqa: PLR0913 - the database, the services and what to build, all by keyword
    database: Database,
    executor: Executor[AsyncConnection],
    *,
    shapes: Sequence[Scenario] = (AWAITING_APPROVAL,),
    count: int,
    first: int = 0,
    prefix: str = "bx",
    at: datetime = BENCH_EPOCH,
    spacing: timedelta = timedelta(seconds=1),
    batch: int = 1000,
    progress: Callable[[int], None] | None = None,
    pattern: Sequence[int] | None = None,
    workspaces: Sequence[str] = (),
) -> BulkReport:
    """`count` executions, indexes `first`..`first + count - 1`, into a migrated database without them.

    The first execution of each shape is played through `executor`; the others are its clones, inserted
    `batch` executions per transaction. `progress`, when given, is called with the executions done so far.
    `pattern` (indexes into `shapes`, cycled) gives the shape of each execution; `workspaces` theirs.
    """
    if not shapes:
        raise ValueError("build_executions needs at least one shape")
    if count < 0 or batch < 1 or spacing.microseconds or at.microsecond:
        raise ValueError("count ≥ 0, batch ≥ 1, and whole seconds for `at` and `spacing`")
    cycle = list(pattern) if pattern is not None else list(range(len(shapes)))
    if not cycle or not all(0 <= shape < len(shapes) for shape in cycle):
        raise ValueError("pattern needs indexes into shapes")
    started = time.perf_counter()
    shape_of = [cycle[offset % len(cycle)] for offset in range(count)]
    templates: dict[int, _Template] = {}
    for offset, kind in enumerate(shape_of):
        if kind in templates:
            continue
        index = first + offset
        name = execution_name(index, prefix)
        workspace = workspaces[index % len(workspaces)] if workspaces else shapes[kind].workspace
        update = {"name": name, "at": at + spacing * index, "workspace": workspace}
        times = await _play(executor, Scenario.model_validate(shapes[kind].model_copy(update=update).model_dump()))
        templates[kind] = _Template(
            name=name, prefix=prefix, index=index, times=times, workspace=workspace, workspaces=workspaces
        )
    async with database.unit_of_work(write=False) as session:
        for template in templates.values():
            await _read(session, template)
            template.check()
            template.compile(session.dialect)
    events = sum(template.events for template in templates.values())
    played = {template.index for template in templates.values()}
    clones = [(templates[kind], first + offset) for offset, kind in enumerate(shape_of) if first + offset not in played]
    done = len(templates)
    for start in range(0, len(clones), batch):
        async with database.unit_of_work(write=True) as session:
            events += await _insert(session, clones[start : start + batch], spacing)
        done += len(clones[start : start + batch])
        if progress is not None:
            progress(done)
    return BulkReport(executions=count, played=len(templates), events=events, seconds=time.perf_counter() - started)
