"""The whole server with tokens from an identity provider: keys from a real local JWKS endpoint, claims
where Keycloak puts them, production mode with no secret of its own."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from app.server import create_app
from app.testing.documents import PENDING_TOTAL, VIEWER
from tests.conftest import make_settings
from tests.jwks_provider import Provider, rsa_key

ISSUER = "https://idp.example/realms/cp"


async def post(app: Any, token: str, query: str) -> dict[str, Any]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.post("/graphql", json={"query": query}, headers={"Authorization": f"Bearer {token}"})
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
async def keycloak_app(provider: Provider, tmp_path: Path, database_url: str) -> AsyncIterator[Any]:
    settings = make_settings(
        tmp_path,
        database_url,
        app_env="production",
        jwt_secret=None,
        jwt_jwks_url=provider.url,
        jwt_issuer=ISSUER,
        jwt_audience="control-plane",
        jwt_roles_claim="realm_access.roles",
        jwt_workspaces_claim="cp.workspaces",
    )
    application = create_app(settings, migrate_on_start=False)
    yield application
    await application.state.services.database.dispose()


def keycloak_token(key: Any, sub: str, roles: list[str], workspaces: list[str], **claims: Any) -> str:
    payload = {
        "sub": sub,
        "iss": ISSUER,
        "aud": "control-plane",
        "exp": int(time.time()) + 60,
        "realm_access": {"roles": roles},
        "cp": {"workspaces": workspaces},
        **claims,
    }
    return jwt.encode(payload, key.private, algorithm=key.algorithm, headers={"kid": key.kid})


async def test_a_provider_token_reaches_its_workspaces_in_production(provider: Provider, keycloak_app: Any):
    key = rsa_key("realm-key-1")
    provider.keys = [key.public_jwk()]
    body = await post(keycloak_app, keycloak_token(key, "ops@acme", ["admin"], ["ws-acme"]), VIEWER)
    assert body == {
        "data": {
            "viewer": {
                "principalId": "ops@acme",
                "roles": ["admin"],
                "authLevel": "admin",
                "workspaces": ["ws-acme"],
                "allWorkspaces": False,
            }
        }
    }
    acme = await post(keycloak_app, keycloak_token(key, "ops@acme", ["admin"], ["ws-acme"]), PENDING_TOTAL)
    everyone = await post(keycloak_app, keycloak_token(key, "root", ["admin"], ["*"]), PENDING_TOTAL)
    assert 0 < acme["data"]["pendingApprovals"]["total"] < everyone["data"]["pendingApprovals"]["total"]


async def test_rotation_and_a_wrong_issuer_through_the_server(provider: Provider, keycloak_app: Any):
    old, new = rsa_key("old"), rsa_key("new")
    provider.keys = [old.public_jwk()]
    assert "data" in await post(keycloak_app, keycloak_token(old, "a", ["user"], ["ws-acme"]), VIEWER)
    provider.keys = [old.public_jwk(), new.public_jwk()]
    # a new kid refetches once the minimum interval (30 s by default) has passed: not yet, so refused ...
    refused = await post(keycloak_app, keycloak_token(new, "b", ["user"], ["ws-acme"]), VIEWER)
    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    # ... and the provider was asked only once however many such tokens come
    for _ in range(5):
        await post(keycloak_app, keycloak_token(new, "b", ["user"], ["ws-acme"]), VIEWER)
    assert provider.hits == 1
    wrong_issuer = keycloak_token(old, "c", ["admin"], ["*"], iss="https://evil.example")
    body = await post(keycloak_app, wrong_issuer, VIEWER)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert body.get("data") is None
