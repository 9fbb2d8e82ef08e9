"""Bearer tokens: verified with an HS256 secret, a PEM public key or an identity provider's JWKS, and
turned into a Principal (id, roles, workspace grants). Nothing else decides who you are."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from app.auth.claims import string_list
from app.auth.jwks import JwksKeys
from app.auth.principal import Principal
from app.errors import ConfigurationError, Unauthenticated
from app.settings import Settings

DEV_SECRET_FILE = "jwt-secret"  # noqa: S105 - a file name, not a secret
SYMMETRIC = frozenset({"HS256", "HS384", "HS512"})
ASYMMETRIC = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"})


VERIFIED_TOKENS = 1024
"""How many verified tokens a TokenService remembers (`TokenService._remember`)."""


@dataclass(frozen=True, slots=True)
class _Verified:
    key: Any
    """The key it was verified with (compared by identity)."""
    expires_at: int
    """Its `exp` claim, as PyJWT reads it."""
    principal: Principal


@dataclass(frozen=True, slots=True)
class ClaimNames:
    """Where roles and workspace grants are in a token (dotted paths: `realm_access.roles`)."""

    roles: str = "roles"
    workspaces: str = "workspaces"


class TokenService:
    def __init__(  # noqa: PLR0913 - keyword-only: the key, and what every token is checked against
        self,
        *,
        algorithms: Sequence[str],
        verify_key: Any = None,
        signing_key: Any | None = None,
        jwks: JwksKeys | None = None,
        issuer: str | None = None,
        audience: str | None = None,
        leeway: int = 0,
        claim_names: ClaimNames = ClaimNames(),
    ) -> None:
        _check_algorithms(algorithms, symmetric_key=jwks is None and _is_secret(verify_key))
        if (verify_key is None) == (jwks is None):
            raise ConfigurationError("Give tokens one way to be verified: a key or a JWKS URL.")
        self.algorithms = tuple(algorithms)
        self._verify_key = verify_key
        self._signing_key = signing_key
        self.jwks = jwks
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        self.claim_names = claim_names
        self._verified: dict[str, _Verified] = {}

    async def verify(self, token: str) -> Principal:
        key = (await self.jwks.key_for(token)).key if self.jwks is not None else self._verify_key
        known = self._verified.get(token)
        if known is not None and known.key is key:
            # Everything but the clock was checked when this very token was verified with this very key: the
            # signature, algorithm, issuer, audience and claims are fixed by the token's bytes, and nbf/iat,
            # once in the past, stay there. So only expiry is checked again, on every use, as PyJWT does.
            if known.expires_at <= time.time() - self.leeway:
                del self._verified[token]
                raise Unauthenticated("The bearer token has expired; request a new one.")
            return known.principal
        claims = self._decode(token, key)
        principal = self.principal_of(claims)
        self._remember(token, _Verified(key, int(claims["exp"]), principal))
        return principal

    def _remember(self, token: str, verified: _Verified) -> None:
        """A small, bounded memory of verified tokens (oldest out first), keyed by the exact token string: a
        client sends the same token with every request, and verifying it (PyJWT's key checks, the HMAC or
        signature, the claims) was a tenth of a replayed decision's CPU. A different key (a JWKS refresh gives
        new key objects) or any other token string is verified in full."""
        if len(self._verified) >= VERIFIED_TOKENS:
            del self._verified[next(iter(self._verified))]
        self._verified[token] = verified

    def _decode(self, token: str, key: Any) -> dict[str, Any]:
        required = ["sub", "exp"] + (["iss"] if self.issuer else []) + (["aud"] if self.audience else [])
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=list(self.algorithms),
                issuer=self.issuer,
                audience=self.audience,
                leeway=self.leeway,
                options={"require": required, "verify_aud": self.audience is not None},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("The bearer token has expired; request a new one.") from None
        except jwt.ImmatureSignatureError:
            raise Unauthenticated("The bearer token is not valid yet (nbf or iat is in the future).") from None
        except jwt.PyJWTError:
            raise Unauthenticated("The bearer token is not valid.") from None
        return claims

    def principal_of(self, claims: dict[str, Any]) -> Principal:
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub:
            raise Unauthenticated("The bearer token has no subject.")
        roles = string_list(claims, self.claim_names.roles)
        workspaces = string_list(claims, self.claim_names.workspaces)
        return Principal.of(sub, roles, workspaces)

    async def authenticate(self, authorization: str | None) -> Principal:
        if not authorization:
            raise Unauthenticated("This operation needs a bearer token (Authorization: Bearer <JWT>).")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("The Authorization header must be 'Bearer <JWT>'.")
        return await self.verify(token.strip())

    @property
    def can_mint(self) -> bool:
        return self._signing_key is not None

    def mint(self, sub: str, roles: list[str], workspaces: list[str], ttl_seconds: int = 3600) -> str:
        """A token for `sub`; `workspaces` are its grants (`["*"]` for all), under the configured claim names."""
        if self._signing_key is None:
            raise ConfigurationError("No signing key is configured (set JWT_SECRET or JWT_PRIVATE_KEY).")
        now = int(time.time())
        claims: dict[str, Any] = {"sub": sub, "iat": now, "exp": now + ttl_seconds}
        _put(claims, self.claim_names.roles, roles)
        _put(claims, self.claim_names.workspaces, workspaces)
        if self.issuer:
            claims["iss"] = self.issuer
        if self.audience:
            claims["aud"] = self.audience
        return jwt.encode(claims, self._signing_key, algorithm=self.algorithms[0])


def _is_secret(key: Any) -> bool:
    """An HMAC secret (text that is not a PEM key), as opposed to a public key."""
    if isinstance(key, bytes):
        key = key.decode("utf-8", "replace")
    return isinstance(key, str) and not key.lstrip().startswith("-----BEGIN")


def _put(claims: dict[str, Any], path: str, value: Any) -> None:
    """Write a claim at a dotted path (the inverse of claims.claim, for minting)."""
    *parents, last = path.split(".")
    target = claims
    for part in parents:
        target = target.setdefault(part, {})
    target[last] = value


def _check_algorithms(algorithms: Sequence[str], *, symmetric_key: bool) -> None:
    """Pinned, never `none`, and never a symmetric algorithm with a public key (algorithm confusion:
    a token "signed" with the public key as an HMAC secret) nor the other way round."""
    if not algorithms:
        raise ConfigurationError("JWT_ALGORITHMS must name at least one algorithm.")
    unknown = [name for name in algorithms if name not in SYMMETRIC | ASYMMETRIC]
    if unknown:
        names = ", ".join(unknown)
        raise ConfigurationError(f"JWT_ALGORITHMS: unsupported algorithm(s) {names} ('none' is never allowed).")
    wrong = [name for name in algorithms if (name in SYMMETRIC) != symmetric_key]
    if wrong:
        kind = "an HS256 secret" if symmetric_key else "a public key or JWKS"
        raise ConfigurationError(f"JWT_ALGORITHMS {', '.join(wrong)} cannot be used with {kind}.")


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
        "claim_names": ClaimNames(roles=settings.jwt_roles_claim, workspaces=settings.jwt_workspaces_claim),
    }
    configured = settings.jwt_algorithm_list
    if settings.jwt_jwks_url:
        jwks = JwksKeys(
            settings.jwt_jwks_url,
            ttl_seconds=settings.jwt_jwks_cache_seconds,
            min_refresh_seconds=settings.jwt_jwks_min_refresh_seconds,
            timeout_seconds=settings.jwt_jwks_timeout_seconds,
        )
        return TokenService(algorithms=configured or ["RS256", "ES256"], jwks=jwks, **common)
    if settings.jwt_public_key:
        private = _read_key(settings.jwt_private_key.get_secret_value()) if settings.jwt_private_key else None
        return TokenService(
            algorithms=configured or ["RS256"],
            verify_key=_read_key(settings.jwt_public_key),
            signing_key=private,
            **common,
        )
    if settings.jwt_secret:
        secret = settings.jwt_secret.get_secret_value()
        if len(secret) < 32:
            raise ConfigurationError("JWT_SECRET must be at least 32 characters long.")
        return TokenService(algorithms=configured or ["HS256"], verify_key=secret, signing_key=secret, **common)
    if settings.is_production:
        raise ConfigurationError(
            "APP_ENV=production needs a token key: set JWT_SECRET (HS256), JWT_PUBLIC_KEY (RS256/ES256) "
            "or JWT_JWKS_URL (an identity provider's keys)."
        )
    secret = _dev_secret(settings.var_dir)
    return TokenService(algorithms=configured or ["HS256"], verify_key=secret, signing_key=secret, **common)
