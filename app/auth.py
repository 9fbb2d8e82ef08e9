"""Identity: a bearer token becomes a Principal. Nothing else decides who you are."""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Any

import jwt

from app.errors import ConfigurationError, Unauthenticated
from app.settings import Settings

DEV_SECRET_FILE = "jwt-secret"  # noqa: S105 - a file name, not a secret


class AuthLevel(IntEnum):
    """Ordered: a principal at a level may call every contract at or below it."""

    ANONYMOUS = 0
    USER = 1
    RUNNER = 2
    """Workers that execute steps and report on them; an admin may report too."""
    ADMIN = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, label: str) -> AuthLevel:
        return cls[label.upper()]


ROLE_LEVELS = {"user": AuthLevel.USER, "runner": AuthLevel.RUNNER, "admin": AuthLevel.ADMIN}


@dataclass(frozen=True, slots=True)
class Principal:
    id: str
    roles: frozenset[str]

    @property
    def level(self) -> AuthLevel:
        # A token with no known role is authenticated but may call only anonymous contracts.
        return max((ROLE_LEVELS.get(r, AuthLevel.ANONYMOUS) for r in self.roles), default=AuthLevel.ANONYMOUS)


class TokenService:
    def __init__(
        self,
        *,
        algorithm: str,
        verify_key: Any,
        signing_key: Any | None,
        issuer: str | None = None,
        audience: str | None = None,
        leeway: int = 0,
    ) -> None:
        self.algorithm = algorithm
        self._verify_key = verify_key
        self._signing_key = signing_key
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway

    def verify(self, token: str) -> Principal:
        required = ["sub", "exp"] + (["iss"] if self.issuer else []) + (["aud"] if self.audience else [])
        try:
            claims = jwt.decode(
                token,
                self._verify_key,
                algorithms=[self.algorithm],
                issuer=self.issuer,
                audience=self.audience,
                leeway=self.leeway,
                options={"require": required, "verify_aud": self.audience is not None},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("The bearer token has expired; request a new one.") from None
        except jwt.PyJWTError:
            raise Unauthenticated("The bearer token is not valid.") from None
        sub, roles = claims.get("sub"), claims.get("roles", [])
        if not isinstance(sub, str) or not sub:
            raise Unauthenticated("The bearer token has no subject.")
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise Unauthenticated("The bearer token's roles claim must be a list of strings.")
        return Principal(id=sub, roles=frozenset(roles))

    def authenticate(self, authorization: str | None) -> Principal:
        if not authorization:
            raise Unauthenticated("This operation needs a bearer token (Authorization: Bearer <JWT>).")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("The Authorization header must be 'Bearer <JWT>'.")
        return self.verify(token.strip())

    @property
    def can_mint(self) -> bool:
        return self._signing_key is not None

    def mint(self, sub: str, roles: list[str], ttl_seconds: int = 3600) -> str:
        if self._signing_key is None:
            raise ConfigurationError("No signing key is configured (set JWT_SECRET or JWT_PRIVATE_KEY).")
        now = int(time.time())
        claims: dict[str, Any] = {"sub": sub, "roles": roles, "iat": now, "exp": now + ttl_seconds}
        if self.issuer:
            claims["iss"] = self.issuer
        if self.audience:
            claims["aud"] = self.audience
        return jwt.encode(claims, self._signing_key, algorithm=self.algorithm)


def _read_key(value: str) -> str:
    """A key given inline (PEM text) or as a path to a PEM file."""
    if value.lstrip().startswith("-----BEGIN"):
        return value
    path = Path(value)
    if not path.is_file():
        raise ConfigurationError(f"Key file {value!r} does not exist.")
    return path.read_text()


def _dev_secret(var_dir: Path) -> str:
    path = var_dir / DEV_SECRET_FILE
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    # O_EXCL: two processes starting at once keep the first secret, not a mix of both.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secret)
    return secret


def token_service_from_settings(settings: Settings) -> TokenService:
    common: dict[str, Any] = {
        "issuer": settings.jwt_issuer,
        "audience": settings.jwt_audience,
        "leeway": settings.jwt_leeway_seconds,
    }
    if settings.jwt_public_key:
        algorithm = settings.jwt_algorithm or "RS256"
        if algorithm == "HS256":
            raise ConfigurationError("JWT_PUBLIC_KEY needs JWT_ALGORITHM RS256 or ES256.")
        private = _read_key(settings.jwt_private_key.get_secret_value()) if settings.jwt_private_key else None
        return TokenService(
            algorithm=algorithm, verify_key=_read_key(settings.jwt_public_key), signing_key=private, **common
        )
    if settings.jwt_secret:
        secret = settings.jwt_secret.get_secret_value()
        if len(secret) < 32:
            raise ConfigurationError("JWT_SECRET must be at least 32 characters long.")
        return TokenService(algorithm="HS256", verify_key=secret, signing_key=secret, **common)
    if settings.is_production:
        raise ConfigurationError(
            "APP_ENV=production needs a token key: set JWT_SECRET (HS256) or JWT_PUBLIC_KEY (RS256/ES256)."
        )
    secret = _dev_secret(settings.var_dir)
    return TokenService(algorithm="HS256", verify_key=secret, signing_key=secret, **common)
