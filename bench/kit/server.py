"""The server processes and the app's command line, always in a throw-away VAR_DIR with our own environment."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.kit.cpu import command_line, process_tree

SUBJECT = "bench-admin"  # the token's `sub`; the executor requires rejectedBy == the caller's id


def _settings_env_names() -> set[str]:
    from app.settings import Settings  # noqa: PLC0415 - the app stays out of the load generators (bench/kit)

    return {name.upper() for name in Settings.model_fields} | {"WORKERS"}


def base_env(var_dir: Path, secret: str) -> dict[str, str]:
    """The parent's environment without any setting of the app, then ours (so nothing leaks in)."""
    names = _settings_env_names()
    env = {key: value for key, value in os.environ.items() if key.upper() not in names}
    env |= {"VAR_DIR": str(var_dir), "JWT_SECRET": secret, "LOG_LEVEL": "warning", "PYTHONUNBUFFERED": "1"}
    return env


def app_command(var_dir: Path, env: dict[str, str], *args: str, timeout: float = 600.0) -> str:
    """`python -m app <args>` in the VAR_DIR (the app reads `.env` from its working directory, the bench must
    not); returns its standard output, raises CalledProcessError (with stderr) when it fails."""
    completed = subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=var_dir,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=timeout,
    )
    return completed.stdout.strip()


def migrate(var_dir: Path, env: dict[str, str]) -> None:
    app_command(var_dir, env, "migrate")


def mint_cli(var_dir: Path, env: dict[str, str], sub: str, role: str) -> str:
    """A bearer token from the app's own CLI (`python -m app token`), with the server's JWT_SECRET."""
    return app_command(var_dir, env, "token", "--sub", sub, "--role", role, "--workspace", "*", "--ttl", str(6 * 3600))


def mint_token(secret: str, ttl: int = 4 * 3600) -> str:
    import jwt  # noqa: PLC0415 - the parent only

    now = int(time.time())
    claims = {"sub": SUBJECT, "roles": ["admin"], "workspaces": ["*"], "iat": now, "exp": now + ttl}
    return jwt.encode(claims, secret, algorithm="HS256")


def run_check(var_dir: Path, env: dict[str, str], timeout: float = 600.0) -> dict[str, Any]:
    """`python -m app check` on the database of this environment: exit code (None on time-out), output, seconds."""
    started = time.perf_counter()
    try:
        completed = subprocess.run(
            [sys.executable, "-m", "app", "check"],
            cwd=var_dir,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )
        code, output = completed.returncode, (completed.stdout + completed.stderr).strip()
    except subprocess.TimeoutExpired:
        code, output = None, f"did not finish within {timeout:.0f} s"
    return {"exit_code": code, "ok": code == 0, "seconds": time.perf_counter() - started, "output": output}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the server gets SIGTERM if the benchmark dies without cleaning up (e.g. SIGKILL)."""
    with contextlib.suppress(OSError, AttributeError):  # best effort: no libc.so.6, or no prctl
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class Server:
    """One `python -m app serve --no-seed` process (uvicorn's supervisor when workers > 1)."""

    name: str
    database: str
    workers: int
    port: int
    log_path: Path
    proc: subprocess.Popen[bytes]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def pids(self) -> list[int]:
        return process_tree(self.proc.pid)

    def worker_pids(self) -> list[int]:
        """The processes that serve requests: the workers under uvicorn's supervisor, or the server itself."""
        if self.workers == 1:
            return [self.proc.pid]
        return [pid for pid in self.pids()[1:] if "spawn_main" in command_line(pid)]  # not the resource tracker

    def exited(self) -> str | None:
        """Why the server is gone, with the end of its log; None while it runs."""
        if self.proc.poll() is None:
            return None
        return f"{self.name} exited with code {self.proc.returncode}:\n{tail(self.log_path)}"

    def stop(self) -> None:
        stop_server(self.proc)


def start_server(  # noqa: PLR0913 - all but the first two by keyword
    var_dir: Path,
    env: dict[str, str],
    *,
    name: str = "server",
    database: str = "sqlite",
    workers: int = 1,
    bench_endpoints: bool = True,
    log_path: Path | None = None,
) -> Server:
    """Starts the server on a free port (BENCH_ENDPOINTS=1 unless told otherwise); see `wait_healthy`."""
    port = free_port()
    log_path = log_path or var_dir / "server.log"
    server_env = env | {
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "BENCH_ENDPOINTS": "1" if bench_endpoints else "0",
        "WORKERS": str(workers),
    }
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--no-seed"],
            cwd=var_dir,
            env=server_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the benchmark only; it stops the server itself
            # The bench starts no threads before its servers; PR_SET_PDEATHSIG needs the child's side of fork.
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509 - see above
        )
    return Server(name, database, workers, port, log_path, proc)


def wait_healthy(server: Server, timeout: float = 60.0) -> float:
    """Seconds until /healthz answered; RuntimeError (with the server log) when it exits or stays silent."""
    started = time.perf_counter()
    deadline = started + timeout
    while time.perf_counter() < deadline:
        if (gone := server.exited()) is not None:
            raise RuntimeError(gone)
        try:
            with urllib.request.urlopen(f"{server.base_url}/healthz", timeout=1) as response:
                if response.status == 200:
                    return time.perf_counter() - started
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{server.name} did not answer /healthz within {timeout:.0f} s:\n{tail(server.log_path)}")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


def post(url: str, body: bytes, token: str, timeout: float = 10.0) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url,
        data=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
