"""Throw-away databases: a SQLite file in a temporary VAR_DIR, or a PostgreSQL database created for the run and
dropped at its end; migrated with `python -m app migrate`, seeded with the app's bulk builder
(app.seeding.bulk: executions exactly as the services write them), verified with `python -m app check`."""

from __future__ import annotations

import asyncio
import secrets
import shutil
import sqlite3
import sys
import tempfile
import time
import urllib.parse
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.kit.server import Server, base_env, migrate, run_check

DEFAULT_PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
SAMPLER_NAME = "bench-sampler"  # application_name of the bench's own PostgreSQL connections


@dataclass
class ScratchDatabase:
    """One throw-away database and the environment of the processes that use it."""

    kind: str  # pg | sqlite
    var_dir: Path
    env: dict[str, str]
    url: str | None = None  # DATABASE_URL (PostgreSQL)
    dsn: str | None = None  # asyncpg DSN of the same database (PostgreSQL)
    name: str | None = None  # the PostgreSQL database
    cursor: int = 0  # the next unused seeded step
    succeeded: int = 0  # successful rejects, pre-flight and warm-up included
    uncertain: int = 0  # failed rejects (a failure may still have committed)
    servers: list[Server] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"PostgreSQL database {self.name}" if self.kind == "pg" else f"SQLite in {self.var_dir}"


def temporary_directory(prefix: str, cleanup: ExitStack, *, keep: bool) -> Path:
    """A fresh directory, deleted by `cleanup` (unless `keep`: then its path is printed)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    if keep:
        cleanup.callback(print, f"kept {path}", file=sys.stderr)
    else:
        cleanup.callback(shutil.rmtree, path, ignore_errors=True)
    return path


def _with_database(url: str, name: str, scheme: str | None = None) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((scheme or parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


async def _pg_admin(admin_url: str, statement: str) -> None:
    import asyncpg  # noqa: PLC0415 - the parent only

    connection = await asyncpg.connect(admin_url, timeout=10)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def _pg_fetch(dsn: str, query: str, *args: Any) -> list[Any]:
    import asyncpg  # noqa: PLC0415 - the parent only

    connection = await asyncpg.connect(dsn, timeout=10, server_settings={"application_name": SAMPLER_NAME})
    try:
        return list(await connection.fetch(query, *args))
    finally:
        await connection.close()


def pg_fetch(dsn: str, query: str, *args: Any) -> list[Any]:
    return asyncio.run(_pg_fetch(dsn, query, *args))


def scratch_database(  # noqa: PLR0913 - where, what, and how to clean up, by keyword
    kind: str,
    var_dir: Path,
    secret: str,
    cleanup: ExitStack,
    *,
    keep: bool,
    pg_admin_url: str = DEFAULT_PG_ADMIN_URL,
    extra_env: dict[str, str] | None = None,
    database_url: str | None = None,
    awaiting: int = 0,
) -> ScratchDatabase:
    """A migrated database. PostgreSQL (`kind` pg): created on `pg_admin_url` and dropped by `cleanup` unless
    `keep`. `database_url`: an existing database instead (neither created nor dropped). `awaiting`: seeded with
    that many executions whose one step awaits approval (app.seeding.bulk.AWAITING_APPROVAL), migrated in this
    process then (as `python -m app migrate` does), else with `python -m app migrate`."""
    var_dir.mkdir(parents=True, exist_ok=True)
    env = base_env(var_dir, secret) | (extra_env or {})
    database = ScratchDatabase(kind=kind, var_dir=var_dir, env=env)
    if database_url:
        database.url = env["DATABASE_URL"] = database_url
    elif kind == "pg":
        name = f"bench_scale_{secrets.token_hex(4)}"
        asyncio.run(_pg_admin(pg_admin_url, f'CREATE DATABASE "{name}"'))
        database.name = name
        database.url = env["DATABASE_URL"] = _with_database(pg_admin_url, name, "postgresql+asyncpg")
        database.dsn = _with_database(pg_admin_url, name)
        if keep:
            cleanup.callback(print, f"kept PostgreSQL database {name} ({database.url})", file=sys.stderr)
        else:
            cleanup.callback(drop_pg, pg_admin_url, name)
    if awaiting:
        started = time.perf_counter()
        added = asyncio.run(_migrate_and_seed(database, awaiting))
        elapsed = time.perf_counter() - started
        print(f"prepared {database.label}: migrated and seeded {added} executions in {elapsed:.1f} s")
    else:
        migrate(var_dir, env)
    return database


def drop_pg(admin_url: str, name: str) -> None:
    try:
        asyncio.run(_pg_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    except Exception as error:  # noqa: BLE001 - asyncpg's errors or the network: say so, finish cleaning up
        print(f"could not drop PostgreSQL database {name}: {error}", file=sys.stderr)


async def _migrate_and_seed(database: ScratchDatabase, count: int) -> int:
    from app.db import migrate as migrations  # noqa: PLC0415 - the app stays out of the load generators
    from app.seeding.bulk import AWAITING_APPROVAL, build_executions  # noqa: PLC0415 - as above
    from app.server import build_services  # noqa: PLC0415 - as above
    from app.settings import Settings  # noqa: PLC0415 - as above

    settings = Settings(  # type: ignore[call-arg]
        var_dir=database.var_dir,
        database_url=database.url,
        jwt_secret=database.env["JWT_SECRET"],
        approval_policy_file=database.env.get("APPROVAL_POLICY_FILE"),  # the seeded requests' terms
        _env_file=None,
    )
    services = build_services(settings)
    try:
        await migrations.upgrade(services.database.engine)
        report = await build_executions(services.database, services.executor, shapes=[AWAITING_APPROVAL], count=count)
    finally:
        await services.database.dispose()
    return report.executions


def _summary(output: str) -> str:
    """The check's verdict in a line or a few: its own messages, or the gist of a traceback."""
    if "statement timeout" in output:
        return "cancelled by PostgreSQL's statement timeout (DB_STATEMENT_TIMEOUT_MS, default 15 s)"
    if "Traceback" in output:
        errors = [line.strip(" │") for line in output.splitlines() if "Error" in line and ":" in line]
        return errors[-1] if errors else output.splitlines()[-1]
    lines = output.splitlines()
    return "\n  ".join(lines[:10] + ([f"... {len(lines) - 10} more lines"] if len(lines) > 10 else []))


def rejected_steps(database: ScratchDatabase) -> int:
    query = "SELECT count(*) FROM execution_step WHERE status = 'rejected'"
    if database.kind == "pg" and database.dsn:
        return int(pg_fetch(database.dsn, query)[0][0])
    with sqlite3.connect(database.var_dir / "control-plane.db") as connection:
        return int(connection.execute(query).fetchone()[0])


def verify(database: ScratchDatabase, timeout: float) -> dict[str, Any]:
    """`python -m app check` on the database, and the rejected steps counted against the successful requests.

    On PostgreSQL the check counts each rejected step's events with a correlated subquery; should the statement
    timeout cancel it, that is reported, then the check runs again after adding an index on
    execution_event (step_id) to this throw-away database."""
    attempts = [run_check(database.var_dir, database.env, timeout)]
    if database.kind == "pg" and database.dsn and "statement timeout" in attempts[0]["output"]:
        pg_fetch(database.dsn, "CREATE INDEX IF NOT EXISTS bench_execution_event_step ON execution_event (step_id)")
        attempts.append(
            run_check(database.var_dir, database.env, timeout)
            | {"note": "after CREATE INDEX ON execution_event (step_id)"}
        )
    rejected = rejected_steps(database)
    low, high = database.succeeded, database.succeeded + database.uncertain
    for attempt in attempts:
        attempt["summary"] = _summary(attempt["output"])
    return {
        "database": database.kind,
        "check": attempts,
        "rejected_steps": rejected,
        "successful_rejects": database.succeeded,
        "failed_rejects": database.uncertain,
        "counts_agree": low <= rejected <= high,
        "check_ok": attempts[-1]["exit_code"] == 0,
        "ok": attempts[-1]["exit_code"] == 0 and low <= rejected <= high,
    }
