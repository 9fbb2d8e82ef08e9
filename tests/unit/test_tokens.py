"""Bearer tokens -> Principal: keys, algorithms, claims (roles and workspace grants, at dotted paths)."""

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from app.auth import AuthLevel, ClaimNames, Principal, TokenService, token_service_from_settings
from app.errors import ConfigurationError, Unauthenticated
from app.settings import Settings

SECRET = "s" * 40
FAR_FUTURE = int(time.time()) + 10 * 365 * 86400
"""Parameters are built at import: a suite may run for longer than any "soon" before this test."""


def service(**kwargs: object) -> TokenService:
    return TokenService(algorithms=["HS256"], verify_key=SECRET, signing_key=SECRET, **kwargs)  # type: ignore[arg-type]


def signed(claims: dict[str, object], key: str = SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode({"exp": int(time.time()) + 60, **claims}, key, algorithm=algorithm)


def rsa_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


async def test_round_trip_gives_the_principal_with_its_grants():
    tokens = service()
    principal = await tokens.verify(tokens.mint("alice", ["admin", "user"], ["ws-acme", "ws-globex"]))
    assert principal == Principal("alice", frozenset({"admin", "user"}), frozenset({"ws-acme", "ws-globex"}))
    assert principal.level is AuthLevel.ADMIN
    assert not principal.all_workspaces
    assert principal.may_reach("ws-acme")
    assert not principal.may_reach("ws-initech")


async def test_a_star_grants_every_workspace():
    tokens = service()
    principal = await tokens.verify(tokens.mint("root", ["admin"], ["*"]))
    assert principal.all_workspaces
    assert principal.workspaces == frozenset()
    assert principal.may_reach("anything")
    assert principal.grant_count is None


async def test_a_token_without_the_workspaces_claim_reaches_no_workspace():
    principal = await service().verify(signed({"sub": "a", "roles": ["admin"]}))
    assert principal.workspaces == frozenset()
    assert not principal.all_workspaces
    assert not principal.may_reach("ws-acme")
    assert principal.grant_count == 0


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"sub": "a", "roles": [], "exp": int(time.time()) - 5}, "expired"),
        ({"roles": ["admin"]}, "not valid"),
        ({"sub": "a", "roles": "admin"}, "list of strings"),
        ({"sub": "a", "roles": ["admin"], "workspaces": "ws-acme"}, "list of strings"),
        ({"sub": "a", "roles": ["admin"], "workspaces": [""]}, "list of strings"),
        ({"sub": "a", "roles": ["admin"], "workspaces": [7]}, "list of strings"),
        ({"sub": "a", "roles": [], "nbf": FAR_FUTURE}, "not valid yet"),
        ({"sub": "a", "roles": [], "iat": FAR_FUTURE}, "not valid yet"),
    ],
)
async def test_bad_claims_are_unauthenticated(claims, message):
    with pytest.raises(Unauthenticated, match=message):
        await service().verify(signed(claims))


async def test_a_token_without_exp_is_refused():
    with pytest.raises(Unauthenticated, match="not valid"):
        await service().verify(jwt.encode({"sub": "a", "roles": []}, SECRET, algorithm="HS256"))


async def test_issuer_and_audience_are_checked_when_configured():
    tokens = service(issuer="https://idp", audience="control-plane")
    assert (await tokens.verify(tokens.mint("a", ["user"], []))).id == "a"
    with pytest.raises(Unauthenticated):
        await tokens.verify(signed({"sub": "a", "iss": "x", "aud": "control-plane"}))
    with pytest.raises(Unauthenticated):
        await tokens.verify(signed({"sub": "a", "iss": "https://idp", "aud": "another"}))


async def test_none_algorithm_is_refused():
    unsigned = jwt.encode({"sub": "a", "roles": ["admin"], "exp": int(time.time()) + 60}, "", algorithm="none")
    with pytest.raises(Unauthenticated):
        await service().verify(unsigned)


async def test_claims_at_dotted_paths_as_keycloak_and_auth0_nest_them():
    keycloak = service(claim_names=ClaimNames(roles="realm_access.roles", workspaces="tenant.workspaces"))
    token = signed({"sub": "kc", "realm_access": {"roles": ["admin"]}, "tenant": {"workspaces": ["ws-acme"]}})
    principal = await keycloak.verify(token)
    assert principal.level is AuthLevel.ADMIN
    assert principal.workspaces == frozenset({"ws-acme"})
    # the minting side writes the same paths
    assert await keycloak.verify(keycloak.mint("kc", ["runner"], ["*"])) == Principal(
        "kc", frozenset({"runner"}), frozenset(), all_workspaces=True
    )
    auth0 = service(claim_names=ClaimNames(roles="https://cp.example/roles", workspaces="https://cp.example/ws"))
    token = signed({"sub": "a0", "https://cp.example/roles": ["user"], "https://cp.example/ws": ["ws-b"]})
    principal = await auth0.verify(token)
    assert principal.level is AuthLevel.USER
    assert principal.workspaces == frozenset({"ws-b"})


def test_levels_follow_roles_and_unknown_roles_grant_nothing():
    assert Principal("a", frozenset()).level is AuthLevel.ANONYMOUS
    assert Principal("a", frozenset({"robot"})).level is AuthLevel.ANONYMOUS
    assert Principal("a", frozenset({"runner"})).level is AuthLevel.RUNNER
    assert Principal("a", frozenset({"runner", "admin"})).level is AuthLevel.ADMIN
    assert Principal("a", frozenset({"user"})).level is AuthLevel.USER


def test_production_refuses_to_start_without_a_key(tmp_path: Path):
    with pytest.raises(ConfigurationError, match="JWT_SECRET"):
        token_service_from_settings(Settings(app_env="production", var_dir=tmp_path))


async def test_development_creates_one_private_secret_and_keeps_it(tmp_path: Path):
    first = token_service_from_settings(Settings(var_dir=tmp_path))
    second = token_service_from_settings(Settings(var_dir=tmp_path))
    assert (await second.verify(first.mint("a", ["admin"], ["*"]))).id == "a"
    assert (tmp_path / "jwt-secret").stat().st_mode & 0o777 == 0o600


def test_short_secret_is_refused(tmp_path: Path):
    with pytest.raises(ConfigurationError, match="32"):
        token_service_from_settings(Settings(var_dir=tmp_path, jwt_secret="short"))


async def test_rs256_public_key_verifies_tokens_signed_by_the_private_key(tmp_path: Path):
    private_pem, public_pem = rsa_pair()
    public_path = tmp_path / "public.pem"
    public_path.write_text(public_pem)
    tokens = token_service_from_settings(
        Settings(var_dir=tmp_path, jwt_public_key=str(public_path), app_env="production")
    )
    assert not tokens.can_mint
    assert (await tokens.verify(signed({"sub": "ops", "roles": ["admin"]}, private_pem, "RS256"))).id == "ops"
    with pytest.raises(Unauthenticated):
        await tokens.verify(signed({"sub": "x"}))


async def test_an_hs_token_made_with_the_public_key_is_refused(tmp_path: Path):
    """Algorithm confusion: the public key is public, so an HMAC over it proves nothing."""
    _, public_pem = rsa_pair()
    tokens = TokenService(algorithms=["RS256"], verify_key=public_pem)
    # pyjwt refuses to HMAC with a PEM key, so the forged token is built by hand

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = b64(json.dumps({"sub": "mallory", "roles": ["admin"], "exp": int(time.time()) + 60}).encode())
    mac = hmac.new(public_pem.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    with pytest.raises(Unauthenticated):
        await tokens.verify(f"{header}.{payload}.{b64(mac)}")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"jwt_secret": SECRET, "jwt_algorithms": "RS256"}, "cannot be used with an HS256 secret"),
        ({"jwt_secret": SECRET, "jwt_algorithms": "none"}, "'none' is never allowed"),
        (
            {"jwt_public_key": "-----BEGIN PUBLIC KEY-----\nx\n-----END PUBLIC KEY-----", "jwt_algorithms": "HS256"},
            "cannot be used with a public key",
        ),
        (
            {"jwt_jwks_url": "http://127.0.0.1:9/jwks", "jwt_algorithms": "HS256,RS256"},
            "cannot be used with a public key",
        ),
    ],
)
def test_algorithms_are_pinned_and_never_confused(tmp_path: Path, settings, message):
    with pytest.raises(ConfigurationError, match=message):
        token_service_from_settings(Settings(var_dir=tmp_path, **settings))


async def test_a_remembered_token_is_still_refused_once_it_expires(monkeypatch: pytest.MonkeyPatch):
    """Verified tokens are remembered (TokenService._remember), but expiry is checked on every use."""
    tokens = service()
    token = signed({"sub": "alice", "roles": ["admin"]})
    first = await tokens.verify(token)
    calls: list[str] = []
    decode = jwt.decode

    def counting(*args: object, **kwargs: object) -> object:
        calls.append("decode")
        return decode(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(jwt, "decode", counting)
    assert await tokens.verify(token) is first
    assert calls == [], "the same token string, with the same key, is not decoded again"
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now + 61)
    with pytest.raises(Unauthenticated, match="expired"):
        await tokens.verify(token)
    assert token not in tokens._verified, "forgotten: a later use goes through PyJWT again"


async def test_only_the_exact_token_and_key_are_remembered():
    tokens = service()
    token = signed({"sub": "alice", "roles": ["admin"]})
    await tokens.verify(token)
    header, payload, signature = token.split(".")
    with pytest.raises(Unauthenticated, match="not valid"):
        await tokens.verify(f"{header}.{payload}.{signature[:-2]}AA")  # another signature
    other = TokenService(algorithms=["HS256"], verify_key="t" * 40)
    with pytest.raises(Unauthenticated, match="not valid"):
        await other.verify(token)  # another service, another key: verified in full


def test_the_memory_of_verified_tokens_is_bounded():
    from app.auth import tokens as module  # noqa: PLC0415 - the bound, read where it is defined

    tokens = service()
    for index in range(module.VERIFIED_TOKENS + 10):
        tokens._remember(f"t{index}", module._Verified(SECRET, FAR_FUTURE, Principal.of("a", [])))
    assert len(tokens._verified) == module.VERIFIED_TOKENS
    assert "t0" not in tokens._verified
    assert f"t{module.VERIFIED_TOKENS + 9}" in tokens._verified
