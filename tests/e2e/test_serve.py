"""`python -m app serve` and the other CLI commands, end to end: a real process on a real port,
a fresh var/ directory, the development default for the token key, and clients over HTTP. Every
test runs on the database of `--db` (see conftest.py); the ones about the embedded SQLite file skip
on PostgreSQL."""

from __future__ import annotations

import stat
import time
import tomllib
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from gql import Client, gql
from gql.transport.httpx import HTTPXAsyncTransport

from app.testing.documents import EXECUTION, PENDING_APPROVALS, REJECT
from tests.e2e.conftest import (
    REPO_ROOT,
    E2EDatabase,
    ServerProcess,
    app_env,
    describe,
    free_port,
    port_is_listening,
    run_cli,
)

pytestmark = pytest.mark.e2e

SEEDED_AWAITING = {
    ("exec-acme-deploy-42", "step-acme-deploy-42-3"),
    ("exec-acme-refund-7", "step-acme-refund-7-2"),
    ("exec-globex-cleanup-3", "step-globex-cleanup-3-2"),
    ("exec-globex-migrate-9", "step-globex-migrate-9-2"),
    ("exec-initech-email-5", "step-initech-email-5-2"),
    ("exec-acme-rollout-7", "step-acme-rollout-7-2"),  # seeds/approvals.toml: half-approved, 1 of 2
    ("exec-acme-revoke-2", "step-acme-revoke-2-1"),  # seeds/approvals.toml: escalated
}

COUNTED_TABLES = (
    "execution",
    "execution_step",
    "approval_decision",
    "execution_event",
    "intent",
    "plan",
    "execution_run",
    "evidence_bundle",
)


def unverified_claims(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def gql_client(server: ServerProcess, bearer: str) -> Client:
    transport = HTTPXAsyncTransport(url=server.graphql_url, headers={"Authorization": f"Bearer {bearer}"}, timeout=60.0)
    return Client(transport=transport, fetch_schema_from_transport=False, execute_timeout=60)


def operation(document: str, variables: dict[str, Any] | None = None) -> Any:
    graphql_request = gql(document)
    if variables is not None:
        graphql_request.variable_values = variables
    return graphql_request


def expected_seed_executions() -> int:
    total = 0
    for path in sorted((REPO_ROOT / "seeds").glob("*.toml")):
        with path.open("rb") as handle:
            total += len(tomllib.load(handle).get("scenarios", []))
    return total


# --- serve on a fresh var/ ---------------------------------------------------------------------------------------


def test_serve_on_fresh_var_dir_prints_address_and_token(server: ServerProcess, var_dir: Path) -> None:
    output = server.output()
    assert f"http://127.0.0.1:{server.port}/graphql" in output, output
    assert "Admin token" in output, output
    assert server.admin_token.count(".") == 2, f"no JWT after 'Admin token' in:\n{output}"
    claims = unverified_claims(server.admin_token)
    assert claims["sub"] == "admin"
    assert claims["roles"] == ["admin"]

    # The banner names the database in use; the development secret lives under var/ either way.
    assert f"on {server.database.backend}" in output, output
    if server.database.url is not None:
        assert server.database.url.rsplit("/", 1)[1] in output, output
    assert (var_dir / "jwt-secret").is_file()
    secret = (var_dir / "jwt-secret").read_text().strip()
    assert len(secret) >= 32
    assert stat.S_IMODE((var_dir / "jwt-secret").stat().st_mode) == 0o600, "the secret must be private to its owner"
    # The printed token is signed with the secret the server created under var/.
    assert jwt.decode(server.admin_token, secret, algorithms=["HS256"])["sub"] == "admin"

    with httpx.Client(base_url=server.base_url, timeout=30.0) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["status"] == "ready"

        page = client.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 200, page.text[:500]
        assert page.headers["content-type"].startswith("text/html")
        assert "graphiql" in page.text.lower()


@pytest.mark.usefixtures("sqlite_only")
def test_serve_creates_the_embedded_database_under_var(server: ServerProcess, var_dir: Path) -> None:
    assert server.database.url is None, "the SQLite tests use the embedded default, no DATABASE_URL"
    assert (var_dir / "control-plane.db").is_file()
    assert f"on sqlite {(var_dir / 'control-plane.db').as_posix()}" in server.output(), server.output()


@pytest.mark.usefixtures("postgresql_only")
def test_postgresql_server_writes_no_sqlite_file(server: ServerProcess, var_dir: Path) -> None:
    assert not (var_dir / "control-plane.db").exists()
    assert sorted(path.name for path in var_dir.iterdir()) == ["jwt-secret"]


def test_sigterm_shuts_the_server_down_gracefully(server: ServerProcess) -> None:
    server.stop()
    assert server.process.returncode is not None
    output = server.output()
    # uvicorn re-raises SIGTERM after its graceful shutdown, so the exit status is not asserted.
    assert "Application shutdown complete" in output, output
    assert "Traceback" not in output, output
    assert not port_is_listening(server.port)


def test_serve_seeds_the_fresh_database(server: ServerProcess) -> None:
    output = server.output()
    assert f"seeded {expected_seed_executions()} executions" in output, output
    assert server.database.count("SELECT count(*) FROM execution") == expected_seed_executions()


def test_admin_token_is_accepted_and_anonymous_is_not(server: ServerProcess) -> None:
    body = {"query": "{ pendingApprovals(input: {}) { total } }"}
    with httpx.Client(base_url=server.base_url, timeout=30.0) as client:
        anonymous = client.post("/graphql", json=body).json()
        assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", anonymous
        authorized = client.post(
            "/graphql", json=body, headers={"Authorization": f"Bearer {server.admin_token}"}
        ).json()
        assert "errors" not in authorized, authorized
        assert authorized["data"]["pendingApprovals"]["total"] == len(SEEDED_AWAITING)


# --- token minting with the CLI ----------------------------------------------------------------------------------


def test_token_command_prints_the_token_alone(server: ServerProcess) -> None:
    result = run_cli("token", "--sub", "alice", "--role", "admin", "--workspace", "*", env=server.env)
    assert result.returncode == 0, describe(result)
    token = result.stdout.strip()
    assert result.stdout == token + "\n", f"stdout is not one line holding the token: {result.stdout!r}"
    assert token.count(".") == 2
    assert " " not in token
    claims = unverified_claims(token)
    assert claims["sub"] == "alice"
    assert claims["roles"] == ["admin"]

    # Same VAR_DIR, same development secret: the running server accepts the minted token.
    with httpx.Client(base_url=server.base_url, timeout=30.0) as client:
        answer = client.post(
            "/graphql",
            json={"query": "{ pendingApprovals(input: {}) { total } }"},
            headers={"Authorization": f"Bearer {token}"},
        ).json()
    assert "errors" not in answer, answer


def test_token_command_repeats_role(tmp_path: Path) -> None:
    env = app_env(tmp_path / "var")
    result = run_cli("token", "--sub", "bob", "--role", "admin", "--role", "user", "--workspace", "*", env=env)
    assert result.returncode == 0, describe(result)
    assert len(result.stdout.splitlines()) == 1, describe(result)
    claims = unverified_claims(result.stdout.strip())
    assert claims["sub"] == "bob"
    assert claims["roles"] == ["admin", "user"]
    # Without a server the CLI creates the development secret itself.
    assert (tmp_path / "var" / "jwt-secret").is_file()


def test_token_command_ttl_sets_expiry(tmp_path: Path) -> None:
    env = app_env(tmp_path / "var")
    before = int(time.time())
    result = run_cli("token", "--sub", "carol", "--role", "admin", "--ttl", "60", "--workspace", "*", env=env)
    after = int(time.time()) + 1
    assert result.returncode == 0, describe(result)
    claims = unverified_claims(result.stdout.strip())
    assert claims["exp"] - claims["iat"] == 60
    assert before + 60 <= claims["exp"] <= after + 60


# --- gql over real HTTP ------------------------------------------------------------------------------------------


async def test_gql_reject_flow_over_http(server: ServerProcess) -> None:
    alice = run_cli("token", "--sub", "alice", "--role", "admin", "--workspace", "*", env=server.env)
    assert alice.returncode == 0, describe(alice)
    client = gql_client(server, alice.stdout.strip())
    async with client as session:
        pending = (await session.execute(operation(PENDING_APPROVALS, {"input": {}})))["pendingApprovals"]
        listed = {(item["executionId"], item["stepId"]) for item in pending["items"]}
        assert listed == SEEDED_AWAITING
        assert pending["total"] == len(SEEDED_AWAITING)
        # The seed's own rejection (exec-initech-payout-2) is not waiting any more.
        assert all(item["executionId"] != "exec-initech-payout-2" for item in pending["items"])

        reason = "Release freeze until the incident review is done."
        rejected = await session.execute(
            operation(
                REJECT,
                {
                    "input": {
                        "executionId": "exec-acme-deploy-42",
                        "stepId": "step-acme-deploy-42-3",
                        "rejectedBy": "alice",
                        "reason": reason,
                    }
                },
            )
        )
        result = rejected["rejectExecutionStep"]
        assert result["status"] == "rejected"
        assert result["executionId"] == "exec-acme-deploy-42"
        assert result["stepId"] == "step-acme-deploy-42-3"
        assert result["rejectedAt"]

        got = await session.execute(operation(EXECUTION, {"input": {"executionId": "exec-acme-deploy-42"}}))
        execution = got["execution"]["execution"]
        assert execution["status"] == "rejected"
        steps = {step["stepId"]: step for step in execution["steps"]}
        assert steps["step-acme-deploy-42-1"]["status"] == "completed"
        assert steps["step-acme-deploy-42-2"]["status"] == "completed"
        assert steps["step-acme-deploy-42-3"]["status"] == "rejected"
        assert steps["step-acme-deploy-42-3"]["decidedBy"] == "alice"
        assert steps["step-acme-deploy-42-3"]["decisionNote"] == reason
        assert steps["step-acme-deploy-42-4"]["status"] == "skipped"

        after = (await session.execute(operation(PENDING_APPROVALS, {"input": {}})))["pendingApprovals"]
        assert {(item["executionId"], item["stepId"]) for item in after["items"]} == SEEDED_AWAITING - {
            ("exec-acme-deploy-42", "step-acme-deploy-42-3")
        }

    events = server.query(
        "SELECT event_key, actor FROM execution_event WHERE step_id = ? ORDER BY sequence",
        ("step-acme-deploy-42-3",),
    )
    assert events == [
        ("controlPlane.execution.step.approvalRequested", "runner-1"),  # the seed's runner reached the step
        ("controlPlane.execution.step.blocked", "alice"),
        ("controlPlane.execution.failed", "alice"),
    ]


# --- seed ----------------------------------------------------------------------------------------------------------


def _table_counts(database: E2EDatabase) -> dict[str, int]:
    return {table: database.count(f"SELECT count(*) FROM {table}") for table in COUNTED_TABLES}


def _table_rows(database: E2EDatabase) -> dict[str, list[tuple[object, ...]]]:
    return {table: sorted(database.query(f"SELECT * FROM {table}"), key=repr) for table in COUNTED_TABLES}


def test_seed_twice_is_idempotent(e2e_database: E2EDatabase, cli_env: dict[str, str]) -> None:
    first = run_cli("seed", env=cli_env)
    assert first.returncode == 0, describe(first)
    assert f"seeded {expected_seed_executions()} executions" in first.stdout, describe(first)
    counts, rows = _table_counts(e2e_database), _table_rows(e2e_database)
    assert counts["execution"] == expected_seed_executions()
    assert counts["approval_decision"] >= 1
    assert counts["execution_event"] >= 2

    second = run_cli("seed", env=cli_env)
    assert second.returncode == 0, describe(second)
    assert "seeded 0 executions" in second.stdout, describe(second)
    assert _table_counts(e2e_database) == counts
    assert _table_rows(e2e_database) == rows


def test_check_on_the_seeded_database_is_ok(cli_env: dict[str, str]) -> None:
    seeded = run_cli("seed", env=cli_env)
    assert seeded.returncode == 0, describe(seeded)
    result = run_cli("check", env=cli_env)
    assert result.returncode == 0, describe(result)
    assert result.stdout.startswith("ok"), describe(result)


# --- production mode -----------------------------------------------------------------------------------------------


def test_production_without_key_refuses_to_start(e2e_database: E2EDatabase) -> None:
    var = e2e_database.var_dir
    port = free_port()
    env = app_env(var, APP_ENV="production", HOST="127.0.0.1", PORT=str(port), **e2e_database.env)
    # A server that did start would never exit: run_cli's timeout would fail the test.
    result = run_cli("serve", env=env, timeout=90.0)
    assert result.returncode != 0, describe(result)
    output = result.stdout + result.stderr
    assert "JWT_SECRET" in output, describe(result)
    assert "Uvicorn running" not in output, describe(result)
    assert "Admin token" not in result.stdout, describe(result)
    assert not port_is_listening(port)
    # No development secret is created in production.
    assert not (var / "jwt-secret").exists()


def test_production_with_an_empty_jwt_secret_refuses_to_start(e2e_database: E2EDatabase) -> None:
    env = app_env(
        e2e_database.var_dir,
        APP_ENV="production",
        HOST="127.0.0.1",
        PORT=str(free_port()),
        JWT_SECRET="",
        **e2e_database.env,
    )
    result = run_cli("serve", env=env, timeout=90.0)
    assert result.returncode != 0, describe(result)
    assert "JWT_SECRET" in result.stderr, describe(result)
