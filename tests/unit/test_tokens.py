import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from app.auth import AuthLevel, Principal, TokenService, token_service_from_settings
from app.errors import ConfigurationError, Unauthenticated
from app.settings import Settings

SECRET = "s" * 40


def service(**kwargs) -> TokenService:
    return TokenService(algorithm="HS256", verify_key=SECRET, signing_key=SECRET, **kwargs)


def test_round_trip_gives_the_principal():
    tokens = service()
    principal = tokens.verify(tokens.mint("alice", ["admin", "user"]))
    assert principal == Principal("alice", frozenset({"admin", "user"}))
    assert principal.level is AuthLevel.ADMIN


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"sub": "a", "roles": [], "exp": int(time.time()) - 5}, "expired"),
        ({"roles": ["admin"], "exp": int(time.time()) + 86400}, "not valid"),
        ({"sub": "a", "roles": "admin", "exp": int(time.time()) + 86400}, "list of strings"),
        ({"sub": "a", "roles": []}, "not valid"),
    ],
)
def test_bad_claims_are_unauthenticated(claims, message):
    with pytest.raises(Unauthenticated, match=message):
        service().verify(jwt.encode(claims, SECRET, algorithm="HS256"))


def test_issuer_and_audience_are_checked_when_configured():
    tokens = service(issuer="https://idp", audience="control-plane")
    assert tokens.verify(tokens.mint("a", ["user"])).id == "a"
    foreign = jwt.encode({"sub": "a", "exp": int(time.time()) + 60, "iss": "x", "aud": "y"}, SECRET, algorithm="HS256")
    with pytest.raises(Unauthenticated):
        tokens.verify(foreign)


def test_none_algorithm_is_refused():
    unsigned = jwt.encode({"sub": "a", "roles": ["admin"], "exp": int(time.time()) + 60}, "", algorithm="none")
    with pytest.raises(Unauthenticated):
        service().verify(unsigned)


def test_levels_follow_roles_and_unknown_roles_grant_nothing():
    assert Principal("a", frozenset()).level is AuthLevel.ANONYMOUS
    assert Principal("a", frozenset({"robot"})).level is AuthLevel.ANONYMOUS
    assert Principal("a", frozenset({"runner"})).level is AuthLevel.RUNNER
    assert Principal("a", frozenset({"runner", "admin"})).level is AuthLevel.ADMIN
    assert Principal("a", frozenset({"user"})).level is AuthLevel.USER


def test_production_refuses_to_start_without_a_key(tmp_path: Path):
    with pytest.raises(ConfigurationError, match="JWT_SECRET"):
        token_service_from_settings(Settings(app_env="production", var_dir=tmp_path))


def test_development_creates_one_private_secret_and_keeps_it(tmp_path: Path):
    first = token_service_from_settings(Settings(var_dir=tmp_path))
    second = token_service_from_settings(Settings(var_dir=tmp_path))
    assert second.verify(first.mint("a", ["admin"])).id == "a"
    assert (tmp_path / "jwt-secret").stat().st_mode & 0o777 == 0o600


def test_short_secret_is_refused(tmp_path: Path):
    with pytest.raises(ConfigurationError, match="32"):
        token_service_from_settings(Settings(var_dir=tmp_path, jwt_secret="short"))


def test_rs256_public_key_verifies_tokens_signed_by_the_private_key(tmp_path: Path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_path = tmp_path / "public.pem"
    public_path.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    tokens = token_service_from_settings(
        Settings(var_dir=tmp_path, jwt_public_key=str(public_path), app_env="production")
    )
    assert not tokens.can_mint
    token = jwt.encode({"sub": "ops", "roles": ["admin"], "exp": int(time.time()) + 60}, private_pem, algorithm="RS256")
    assert tokens.verify(token).id == "ops"
    with pytest.raises(Unauthenticated):
        tokens.verify(jwt.encode({"sub": "x", "exp": int(time.time()) + 60}, SECRET, algorithm="HS256"))
