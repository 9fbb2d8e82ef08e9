"""End-to-end fixtures: a real `python -m app serve` process on a free port, the way `make serve`
starts it, plus helpers that run the CLI and read the SQLite file the server writes.

Everything here talks to the application from the outside only: environment variables, the
command line, HTTP, and the database file.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 60.0  # seconds until /healthz must answer (startup measured up to ~20 s under load)
STOP_TIMEOUT = 15.0  # seconds between SIGTERM and SIGKILL
CLI_TIMEOUT = 120.0  # a CLI command on a busy 2-core machine

# Variables of app/settings.py (and of the serve command) that must not leak from the developer's
# shell into the tests: every e2e server starts from the embedded development default.
_SETTINGS_VARIABLES = (
    "APP_ENV",
    "HOST",
    "PORT",
    "VAR_DIR",
    "DATABASE_URL",
    "DB_POOL_SIZE",
    "DB_POOL_TIMEOUT",
    "SQLITE_BUSY_TIMEOUT_MS",
    "JWT_SECRET",
    "JWT_PUBLIC_KEY",
    "JWT_PRIVATE_KEY",
    "JWT_ALGORITHM",
    "JWT_ISSUER",
    "JWT_AUDIENCE",
    "JWT_LEEWAY_SECONDS",
    "GRAPHIQL",
    "GRAPHQL_CACHE_SIZE",
    "LOG_LEVEL",
    "BENCH_ENDPOINTS",
    "WORKERS",
)


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


@dataclass
class ServerProcess:
    """A running `python -m app serve`; `output()` is everything it printed so far (stdout and
    stderr interleaved, as a terminal shows them)."""

    process: subprocess.Popen[str]
    port: int
    var_dir: Path
    env: dict[str, str]
    _lines: list[str] = field(default_factory=list)
    _reader: threading.Thread | None = None
    admin_token: str = ""

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def graphql_url(self) -> str:
        return f"{self.base_url}/graphql"

    @property
    def db_path(self) -> Path:
        return self.var_dir / "control-plane.db"

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
    var_dir: Path, *, timeout: float = STARTUP_TIMEOUT, attempts: int = 3, **extra_env: str
) -> ServerProcess:
    """Start `python -m app serve` and wait for /healthz. The free port is picked before the
    server binds it, so another process may grab it in between: then retry on a new port."""
    failure = ""
    for _ in range(attempts):
        port = free_port()
        env = app_env(var_dir, HOST="127.0.0.1", PORT=str(port), **extra_env)
        process = subprocess.Popen(
            [sys.executable, "-m", "app", "serve"],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        server = ServerProcess(process=process, port=port, var_dir=var_dir, env=env)
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
def serve(var_dir: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start servers on `var_dir` (extra env as keyword arguments); all are stopped at teardown."""
    started: list[ServerProcess] = []

    def start(**extra_env: str) -> ServerProcess:
        server = start_server(var_dir, **extra_env)
        started.append(server)
        return server

    yield start
    for server in reversed(started):
        server.stop()


@pytest.fixture
def server(serve: Callable[..., ServerProcess]) -> ServerProcess:
    """One server on a fresh var/, seeded from seeds/ on first start."""
    return serve()


def query_db(db_path: Path, sql: str, parameters: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Read the server's SQLite file directly (WAL: reading beside a running server is fine)."""
    connection = sqlite3.connect(db_path, timeout=30.0)
    try:
        return connection.execute(sql, parameters).fetchall()
    finally:
        connection.close()
