"""End-to-end fixtures: a real `python -m app serve` process on a free port, the way `make serve`
starts it, plus helpers that run the CLI and read the rows the server writes.

Everything here talks to the application from the outside only: environment variables, the
command line, HTTP, and the database itself. On `--db sqlite` (the default) the server uses its
embedded default, `var/control-plane.db`; on `--db postgresql` it gets `DATABASE_URL` pointing at an
empty database of the test's own, which `serve` migrates and seeds on first start.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from app.settings import Settings
from tests.databases import Backend

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 60.0  # seconds until /healthz must answer (startup measured up to ~20 s under load)
STOP_TIMEOUT = 15.0  # seconds between SIGTERM and SIGKILL
CLI_TIMEOUT = 120.0  # a CLI command on a busy 2-core machine

# Variables of app/settings.py (and of the serve command) that must not leak from the developer's
# shell into the tests: every e2e server starts from the embedded development default.
_SETTINGS_VARIABLES = (*(name.upper() for name in Settings.model_fields), "WORKERS")


def free_port() -> int:
    """A port the OS just handed out (bound to port 0, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def app_env(var_dir: Path, **extra: str) -> dict[str, str]:
    """The process environment for `python -m app ...`: the caller's, minus every setting of the
    app, plus VAR_DIR and `extra`. No JWT_SECRET, so the development default applies."""
    env = {name: value for name, value in os.environ.items() if name.upper() not in _SETTINGS_VARIABLES}
    env["VAR_DIR"] = str(var_dir)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def run_cli(*args: str, env: dict[str, str], timeout: float = CLI_TIMEOUT) -> subprocess.CompletedProcess[str]:
    """`python -m app <args>` from the repository root; stdout and stderr captured separately."""
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def describe(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"


Row = tuple[object, ...]
_PLACEHOLDER = re.compile(r"\?")


def _numbered(sql: str) -> str:
    """`?` placeholders (sqlite3 style) as `$1, $2, ...` (asyncpg style). The tests' SQL holds no
    literal question marks."""
    counter = iter(range(1, 1_000_000))
    return _PLACEHOLDER.sub(lambda _: f"${next(counter)}", sql)


@dataclass(frozen=True)
class E2EDatabase:
    """The database e2e servers and CLI commands use, and direct reads of its rows.

    `url` is the SQLAlchemy URL given to the app as DATABASE_URL, or None for the embedded default
    (`<var_dir>/control-plane.db`, no DATABASE_URL at all: the `make serve` path). `query` takes SQL
    with `?` placeholders and returns plain tuples on both databases: sqlite3 for SQLite (WAL, so
    reading beside a running server is fine), asyncpg on a thread of its own for PostgreSQL (so it
    also works from inside a running event loop)."""

    backend: str  # "sqlite" or "postgresql"
    var_dir: Path
    url: str | None = None

    @property
    def is_sqlite(self) -> bool:
        return self.backend == "sqlite"

    @property
    def env(self) -> dict[str, str]:
        """Extra environment for `python -m app ...`."""
        return {"DATABASE_URL": self.url} if self.url else {}

    @property
    def sqlite_path(self) -> Path:
        assert self.is_sqlite, "only SQLite has a database file"
        if self.url is None:
            return self.var_dir / "control-plane.db"
        database = make_url(self.url).database
        assert database is not None
        return Path(database)

    @property
    def _asyncpg_dsn(self) -> str:
        assert self.url is not None
        return make_url(self.url).set(drivername="postgresql").render_as_string(hide_password=False)

    def query(self, sql: str, parameters: Sequence[object] = ()) -> list[Row]:
        if self.is_sqlite:
            connection = sqlite3.connect(self.sqlite_path, timeout=30.0)
            try:
                return connection.execute(sql, tuple(parameters)).fetchall()
            finally:
                connection.close()

        async def fetch() -> list[Row]:
            connection = await asyncpg.connect(self._asyncpg_dsn, timeout=30.0)
            try:
                records = await connection.fetch(_numbered(sql), *parameters, timeout=60.0)
            finally:
                await connection.close()
            return [tuple(record.values()) for record in records]

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="e2e-query") as pool:
            return pool.submit(asyncio.run, fetch()).result(timeout=120.0)

    def scalar(self, sql: str, parameters: Sequence[object] = ()) -> object:
        rows = self.query(sql, parameters)
        assert len(rows) == 1, rows
        assert len(rows[0]) == 1, rows
        return rows[0][0]

    def count(self, sql: str, parameters: Sequence[object] = ()) -> int:
        """The one integer a `SELECT count(*) ...` returns."""
        value = self.scalar(sql, parameters)
        assert isinstance(value, int), value
        return value


@dataclass
class ServerProcess:
    """A running `python -m app serve`; `output()` is everything it printed so far (stdout and
    stderr interleaved, as a terminal shows them)."""

    process: subprocess.Popen[str]
    port: int
    var_dir: Path
    env: dict[str, str]
    database: E2EDatabase
    _lines: list[str] = field(default_factory=list)
    _reader: threading.Thread | None = None
    admin_token: str = ""

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def graphql_url(self) -> str:
        return f"{self.base_url}/graphql"

    def query(self, sql: str, parameters: Sequence[object] = ()) -> list[Row]:
        return self.database.query(sql, parameters)

    def kill(self) -> None:
        """SIGKILL: no shutdown at all, as when the machine or the OOM killer stops the process."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=STOP_TIMEOUT)

    def output(self) -> str:
        return "".join(list(self._lines))

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.append(line)

    def start_reader(self) -> None:
        self._reader = threading.Thread(target=self._drain, name=f"serve-{self.port}-output", daemon=True)
        self._reader.start()

    def stop(self) -> None:
        """SIGTERM (uvicorn shuts down gracefully), then SIGKILL if it does not exit in time."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT)
        if self._reader is not None:
            self._reader.join(timeout=STOP_TIMEOUT)
        if self.process.stdout is not None:
            self.process.stdout.close()


def _admin_token(output: str) -> str:
    """The line after "Admin token ..." holds the token alone (indented)."""
    lines = output.splitlines()
    for index, line in enumerate(lines):
        if "Admin token" in line and index + 1 < len(lines):
            return lines[index + 1].strip()
    return ""


def _wait_until_healthy(server: ServerProcess, timeout: float) -> str | None:
    """None once /healthz answers 200 (from our process); otherwise why not."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=5.0) as client:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                return f"the server exited with code {server.process.returncode}"
            with contextlib.suppress(httpx.HTTPError):
                if client.get(f"{server.base_url}/healthz").status_code == 200 and server.process.poll() is None:
                    return None
            time.sleep(0.2)
    return f"/healthz did not answer within {timeout:.0f} s"


def start_server(
    database: E2EDatabase,
    extra_env: Mapping[str, str] | None = None,
    *,
    timeout: float = STARTUP_TIMEOUT,
    attempts: int = 3,
) -> ServerProcess:
    """Start `python -m app serve` on `database` (with `extra_env` added to its environment) and wait
    for /healthz. The free port is picked before the server binds it, so another process may grab it in
    between: then retry on a new port."""
    failure = ""
    var_dir = database.var_dir
    for _ in range(attempts):
        port = free_port()
        env = app_env(var_dir, HOST="127.0.0.1", PORT=str(port), **{**database.env, **(extra_env or {})})
        process = subprocess.Popen(
            [sys.executable, "-m", "app", "serve"],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        server = ServerProcess(process=process, port=port, var_dir=var_dir, env=env, database=database)
        server.start_reader()
        problem = _wait_until_healthy(server, timeout)
        if problem is None:
            # The banner is printed before uvicorn starts, so it is complete once /healthz answers.
            server.admin_token = _admin_token(server.output())
            return server
        server.stop()
        output = server.output()
        failure = f"{problem}; port {port}; output:\n{output}"
        if "address already in use" not in output.lower():
            break
    pytest.fail(f"`python -m app serve` did not become healthy: {failure}", pytrace=False)


@pytest.fixture
def var_dir(tmp_path: Path) -> Path:
    """A fresh, not yet existing var/ directory: the server creates it."""
    return tmp_path / "var"


@pytest.fixture
def e2e_database(backend: Backend, var_dir: Path, empty_database_url: str) -> E2EDatabase:
    """The database of this test's servers, empty (no tables) until the first `serve` or CLI
    command migrates it. SQLite: the embedded default under `var_dir` (no DATABASE_URL, the
    `make serve` path). PostgreSQL: a fresh database, dropped at teardown."""
    if backend.name == "sqlite":
        return E2EDatabase(backend="sqlite", var_dir=var_dir)
    return E2EDatabase(backend=backend.name, var_dir=var_dir, url=empty_database_url)


@pytest.fixture
def cli_env(e2e_database: E2EDatabase) -> dict[str, str]:
    """The environment of a CLI command on this test's database and var/ (as servers get it)."""
    return app_env(e2e_database.var_dir, **e2e_database.env)


@pytest.fixture
def sqlite_only(backend: Backend) -> None:
    if backend.name != "sqlite":
        pytest.skip("SQLite only: checks the embedded database file under var/")


@pytest.fixture
def postgresql_only(backend: Backend) -> None:
    if backend.name != "postgresql":
        pytest.skip("PostgreSQL only: checks that DATABASE_URL keeps the embedded database unused")


class Serve(Protocol):
    """The `serve` fixture: `serve(APP_ENV="production")` starts a server with that environment added."""

    def __call__(self, **extra_env: str) -> ServerProcess: ...


@pytest.fixture
def serve(e2e_database: E2EDatabase) -> Iterator[Serve]:
    """Start servers on this test's database and var/ (extra env as keyword arguments); all are
    stopped at teardown, before the database is dropped."""
    started: list[ServerProcess] = []

    def start(**extra_env: str) -> ServerProcess:
        server = start_server(e2e_database, extra_env)
        started.append(server)
        return server

    yield start
    for server in reversed(started):
        server.stop()


@pytest.fixture
def server(serve: Serve) -> ServerProcess:
    """One server on a fresh var/, seeded from seeds/ on first start."""
    return serve()
