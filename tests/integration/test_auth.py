"""Identity and policy for both commands: who may decide, and in whose name (DESIGN.md, "Identity", "Errors")."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
import pytest

from app.testing.documents import APPROVE, REJECT
from tests.conftest import TEST_SECRET, MintToken, snapshot
from tests.integration.helpers import DEPLOY, MIGRATE_SCHEMA, contract, failing


@dataclass(frozen=True)
class Operation:
    name: str
    document: str
    actor_field: str
    base: dict[str, Any]

    @property
    def field(self) -> str:
        return f"{self.name}ExecutionStep"

    @property
    def contract(self) -> dict[str, str]:
        return contract(f"controlPlane.execution.{self.name}")

    def variables(self, actor: str = "dana") -> dict[str, Any]:
        return {"input": {**self.base, self.actor_field: actor}}


OPERATIONS = [
    pytest.param(Operation("reject", REJECT, "rejectedBy", {**DEPLOY, "reason": "Freeze."}), id="reject"),
    pytest.param(Operation("approve", APPROVE, "approvedBy", {**MIGRATE_SCHEMA, "note": "Reviewed."}), id="approve"),
]

DROP = object()
OTHER_SECRET = "another-secret-" + "y" * 40


def signed(secret: str = TEST_SECRET, algorithm: str = "HS256", **overrides: Any) -> str:
    """A JWT built by hand, so that tests can produce what the server's own minting never does."""
    claims: dict[str, Any] = {
        "sub": "dana",
        "roles": ["admin"],
        "workspaces": ["*"],
        "iat": int(time.time()),
        "exp": int(time.time()) + 600,
    }
    claims.update(overrides)
    return jwt.encode({k: v for k, v in claims.items() if v is not DROP}, secret, algorithm=algorithm)


def tampered(token: str) -> str:
    """The payload of a genuine token rewritten to another subject, the signature kept."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged = base64.urlsafe_b64encode(json.dumps({**claims, "sub": "mallory"}).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


Credential = Callable[[MintToken], str | None]
"""Makes the token a case sends from the `token` fixture (or without it)."""

UNAUTHENTICATED: dict[str, Credential] = {
    "no-token": lambda _: None,
    "garbage": lambda _: "not-a-jwt",
    "three-garbage-parts": lambda _: "aaa.bbb.ccc",
    "other-secret": lambda _: signed(OTHER_SECRET),
    "expired": lambda _: signed(exp=int(time.time()) - 3600),
    "no-sub": lambda _: signed(sub=DROP),
    "empty-sub": lambda _: signed(sub=""),
    "non-string-sub": lambda _: signed(sub=42),
    "no-exp": lambda _: signed(exp=DROP),
    "alg-none": lambda _: jwt.encode({"sub": "dana", "roles": ["admin"], "exp": int(time.time()) + 600}, "", "none"),
    "roles-not-a-list": lambda _: signed(roles="admin"),
    "tampered-payload": lambda token: tampered(token("mallory")),
}

FORBIDDEN: dict[str, tuple[Credential, str]] = {
    "user-role": (lambda token: token("dana", "user"), "dana"),
    "unknown-role": (lambda token: token("dana", "viewer"), "dana"),
    "no-roles-claim": (lambda _: signed(roles=DROP), "dana"),
    "empty-roles": (lambda _: signed(roles=[]), "dana"),
    "admin-in-another-name": (lambda token: token("bob"), "dana"),
    "user-in-another-name": (lambda token: token("bob", "user"), "dana"),
    "admin-in-name-of-admin0": (lambda token: token("dana"), "admin0"),
}


async def expect_error(execute, database, operation: Operation, bearer: str | None, actor: str = "dana") -> Any:
    variables = operation.variables(actor)
    return await failing(
        execute, database, operation.document, variables, expect_contract=operation.contract, bearer=bearer
    )


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("case", list(UNAUTHENTICATED))
async def test_missing_or_invalid_token_is_unauthenticated(execute, database, token, operation, case):
    error = await expect_error(execute, database, operation, UNAUTHENTICATED[case](token))

    assert error["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("case", list(FORBIDDEN))
async def test_insufficient_role_or_foreign_actor_is_forbidden(execute, database, token, operation, case):
    bearer, actor = FORBIDDEN[case]

    error = await expect_error(execute, database, operation, bearer(token), actor)

    assert error["extensions"]["code"] == "FORBIDDEN"


@pytest.mark.parametrize("operation", OPERATIONS)
async def test_authentication_comes_before_input_validation(execute, database, operation):
    variables = {"input": {**operation.variables()["input"], "executionId": "bad id!"}}

    error = await failing(execute, database, operation.document, variables, bearer=None)

    assert error["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize("operation", OPERATIONS)
async def test_a_valid_hand_made_token_is_accepted(execute, database, operation):
    data = await execute(operation.document, operation.variables("dana"), bearer=signed())

    assert data[operation.field]["status"] in ("rejected", "approved")


@pytest.mark.parametrize("operation", OPERATIONS)
async def test_a_token_without_workspace_grants_reaches_nothing(execute, database, operation):
    """Deny by default: no `workspaces` claim, no workspace; the step answers as if it did not exist."""
    error = await failing(
        execute, database, operation.document, operation.variables("dana"), bearer=signed(workspaces=DROP)
    )

    assert error["extensions"]["code"] == "NOT_FOUND"
    assert error["message"] == f"Execution {operation.variables()['input']['executionId']!r} does not exist."


@pytest.mark.parametrize("operation", OPERATIONS)
async def test_admin_acting_in_own_name_succeeds_with_any_subject(execute, token, operation):
    data = await execute(operation.document, operation.variables("ops.bot@acme"), bearer=token("ops.bot@acme"))

    assert data[operation.field]["status"] in ("rejected", "approved")


async def post(http, headers: dict[str, str], operation: Operation) -> dict[str, Any]:
    async with http(headers) as client:
        response = await client.post("/graphql", json={"query": operation.document, "variables": operation.variables()})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


RAW_HEADERS: dict[str, Callable[[str], dict[str, str]]] = {
    "basic-scheme": lambda _: {"Authorization": "Basic " + base64.b64encode(b"dana:hunter2").decode()},
    "basic-scheme-with-jwt": lambda jwt_: {"Authorization": f"Basic {jwt_}"},
    "token-scheme": lambda jwt_: {"Authorization": f"Token {jwt_}"},
    "no-scheme": lambda jwt_: {"Authorization": jwt_},
    "bearer-without-token": lambda _: {"Authorization": "Bearer "},
    "bearer-only": lambda _: {"Authorization": "Bearer"},
    "token-in-other-header": lambda jwt_: {"X-Auth-Token": jwt_},
}


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("case", list(RAW_HEADERS))
async def test_authorization_header_must_use_the_bearer_scheme(http, database, token, operation, case):
    before = await snapshot(database)

    body = await post(http, RAW_HEADERS[case](token()), operation)

    assert body.get("data") is None
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert error["extensions"]["contract"] == operation.contract
    assert await snapshot(database) == before


@pytest.mark.parametrize("operation", OPERATIONS)
async def test_bearer_scheme_is_case_insensitive(http, token, operation):
    body = await post(http, {"Authorization": f"bearer {token()}"}, operation)

    assert "errors" not in body, body
    assert body["data"][operation.field]["status"] in ("rejected", "approved")
