"""python -m app token: roles and workspace grants, as an operator mints them."""

from __future__ import annotations

import jwt
import pytest
from typer.testing import CliRunner

from app.__main__ import cli

runner = CliRunner()
SECRET = "cli-secret-" + "x" * 40


def claims(*args: str) -> dict[str, object]:
    result = runner.invoke(cli, ["token", "--sub", "alice", *args], env={"JWT_SECRET": SECRET})
    assert result.exit_code == 0, result.output
    decoded: dict[str, object] = jwt.decode(result.stdout.strip(), SECRET, algorithms=["HS256"])
    return decoded


def test_workspaces_are_granted_one_option_each():
    minted = claims("--role", "admin", "--workspace", "ws-acme", "--workspace", "ws-globex")
    assert (minted["roles"], minted["workspaces"]) == (["admin"], ["ws-acme", "ws-globex"])


def test_a_star_grants_every_workspace():
    assert claims("--role", "admin", "--workspace", "*")["workspaces"] == ["*"]


def test_without_workspace_the_token_reaches_none():
    assert claims("--role", "runner")["workspaces"] == []


@pytest.mark.parametrize("workspace", ["bad id", "-leading-dash", ""])
def test_an_invalid_workspace_id_is_refused_with_a_clear_error(workspace):
    result = runner.invoke(cli, ["token", "--sub", "a", "--workspace", workspace], env={"JWT_SECRET": SECRET})
    assert result.exit_code == 2
    assert "invalid workspace id" in result.output


def test_approver_roles_are_minted_beside_the_levels():
    minted = claims("--role", "admin", "--role", "release-manager", "--workspace", "*")
    assert minted["roles"] == ["admin", "release-manager"]


@pytest.mark.parametrize("role", ["Release Manager", "9lives", "a" * 65, ""])
def test_a_malformed_role_is_refused_with_a_clear_error(role):
    result = runner.invoke(cli, ["token", "--sub", "a", "--role", role], env={"JWT_SECRET": SECRET})
    assert result.exit_code == 2
    assert "invalid role name" in result.output
