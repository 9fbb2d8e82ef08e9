"""Signing keys from an identity provider's JWKS endpoint (Keycloak, Auth0, Okta, Entra ID, Dex).

Keys are cached for `ttl_seconds`. A token naming a `kid` the cache does not hold triggers one
refetch, at most once per `min_refresh_seconds` whatever the number of such tokens, so a flood of
forged tokens cannot hammer the provider. A failed fetch (timeout, an error status, a body that is
no JWKS) keeps the keys already cached: while the provider is unreachable, tokens signed with them
keep working and others are UNAUTHENTICATED. Only public keys are taken (RSA, EC, OKP): a symmetric
`oct` key in a JWKS would let anyone who reads the JWKS sign tokens.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import jwt
from jwt import PyJWK, PyJWKSet
from jwt.exceptions import PyJWKError, PyJWKSetError

from app.errors import Unauthenticated

logger = logging.getLogger("app.auth.jwks")

Fetch = Callable[[str, float], Awaitable[Any]]
"""(url, seconds allowed) -> the parsed JSON document; raises on any failure."""

PUBLIC_KEY_TYPES = frozenset({"RSA", "EC", "OKP"})


async def fetch_json(url: str, seconds: float) -> Any:
    async with httpx.AsyncClient(timeout=seconds, follow_redirects=False) as client:
        response = await client.get(url, headers={"Accept": "application/json"})
        response.raise_for_status()
        return response.json()


class JwksKeys:
    def __init__(
        self,
        url: str,
        *,
        ttl_seconds: float = 300,
        min_refresh_seconds: float = 30,
        timeout_seconds: float = 5,
        fetch: Fetch = fetch_json,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.ttl_seconds = ttl_seconds
        self.min_refresh_seconds = min_refresh_seconds
        self.timeout_seconds = timeout_seconds
        self._fetch = fetch
        self._clock = clock
        self._keys: dict[str | None, PyJWK] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._lock = asyncio.Lock()
        self.fetches = 0
        """How many times the endpoint was asked (tests and logs read it)."""

    async def key_for(self, token: str) -> PyJWK:
        """The cached key the token's header names; refreshes as the module docstring says."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError:
            raise Unauthenticated("The bearer token is not valid.") from None
        if self._stale():
            await self._refresh()
        key = self._find(kid)
        if key is None and self._may_refetch():
            await self._refresh()
            key = self._find(kid)
        if key is None:
            raise Unauthenticated("The bearer token is signed with a key the identity provider does not publish.")
        return key

    def _stale(self) -> bool:
        return self._fetched_at is None or self._clock() - self._fetched_at >= self.ttl_seconds

    def _may_refetch(self) -> bool:
        return self._attempted_at is None or self._clock() - self._attempted_at >= self.min_refresh_seconds

    def _find(self, kid: str | None) -> PyJWK | None:
        if kid is None and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        return self._keys.get(kid)

    async def _refresh(self) -> None:
        async with self._lock:
            started = self._clock()
            if self._attempted_at is not None and started - self._attempted_at < min(
                self.min_refresh_seconds, self.ttl_seconds
            ):
                return  # another request refreshed while this one waited for the lock
            self._attempted_at = started
            self.fetches += 1
            try:
                document = await self._fetch(self.url, self.timeout_seconds)
                keys = self._public_keys(document)
            except (httpx.HTTPError, ValueError, PyJWKSetError, PyJWKError, TypeError) as error:
                logger.warning(
                    "JWKS %s could not be read (%s); keeping %d cached key(s)",
                    self.url,
                    type(error).__name__,
                    len(self._keys),
                )
                return
            self._keys = keys
            self._fetched_at = started
            logger.info("JWKS %s: %d signing key(s)", self.url, len(keys))

    @staticmethod
    def _public_keys(document: Any) -> dict[str | None, PyJWK]:
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise ValueError("not a JWKS document")  # noqa: TRY004 - every unreadable answer is handled alike
        public = [item for item in document["keys"] if isinstance(item, dict) and item.get("kty") in PUBLIC_KEY_TYPES]
        usable = [item for item in public if item.get("use", "sig") == "sig"]
        return {key.key_id: key for key in PyJWKSet.from_dict({"keys": usable}).keys} if usable else {}
