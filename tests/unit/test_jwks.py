"""Keys from a real local JWKS endpoint: rotation, removal, an unknown-kid flood, an unreachable or slow
provider. The endpoint is an `http.server` on a free port, serving whatever key set the test sets."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest

from app.auth import TokenService
from app.auth.jwks import JwksKeys
from app.errors import Unauthenticated
from tests.jwks_provider import Provider, ec_key, rsa_key


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def tokens_for(provider: Provider, clock: Clock, **options: Any) -> TokenService:
    jwks = JwksKeys(
        provider.url,
        ttl_seconds=options.get("ttl", 300),
        min_refresh_seconds=options.get("min_refresh", 30),
        timeout_seconds=options.get("timeout", 2),
        clock=clock,
    )
    return TokenService(algorithms=["RS256", "ES256"], jwks=jwks)


async def test_a_token_signed_with_a_published_key_is_accepted(provider: Provider):
    first, second = rsa_key("2026-11"), ec_key("ec-1")
    provider.keys = [first.public_jwk(), second.public_jwk()]
    tokens = tokens_for(provider, Clock())
    assert (await tokens.verify(first.token("alice"))).id == "alice"
    assert (await tokens.verify(second.token("bob"))).id == "bob"
    assert provider.hits == 1, "keys are cached: one fetch for both tokens"


async def test_a_rotated_in_key_is_fetched_on_first_sight_of_its_kid(provider: Provider):
    old, new = rsa_key("old"), rsa_key("new")
    provider.keys = [old.public_jwk()]
    clock = Clock()
    tokens = tokens_for(provider, clock)
    assert (await tokens.verify(old.token())).id == "ops"
    provider.keys = [old.public_jwk(), new.public_jwk()]
    clock.now += 31  # past the minimum refresh interval, well inside the TTL
    assert (await tokens.verify(new.token("rotated"))).id == "rotated"
    assert provider.hits == 2


async def test_a_removed_key_is_refused_once_the_cache_refreshes(provider: Provider):
    old, new = rsa_key("old"), rsa_key("new")
    provider.keys = [old.public_jwk(), new.public_jwk()]
    clock = Clock()
    tokens = tokens_for(provider, clock, ttl=60)
    assert (await tokens.verify(old.token())).id == "ops"
    provider.keys = [new.public_jwk()]
    assert (await tokens.verify(old.token())).id == "ops", "still cached: the TTL has not passed"
    clock.now += 61
    with pytest.raises(Unauthenticated, match="does not publish"):
        await tokens.verify(old.token())
    assert (await tokens.verify(new.token("n"))).id == "n"


async def test_a_flood_of_unknown_kids_fetches_at_most_once_per_interval(provider: Provider):
    known = rsa_key("known")
    provider.keys = [known.public_jwk()]
    clock = Clock()
    tokens = tokens_for(provider, clock, min_refresh=30)
    await tokens.verify(known.token())
    for index in range(50):
        with pytest.raises(Unauthenticated):
            await tokens.verify(rsa_key(f"forged-{index}").token())
        clock.now += 0.1
    assert provider.hits == 1, "the keys were fetched under 30 s ago: no unknown kid refetches them"
    clock.now += 30
    with pytest.raises(Unauthenticated):
        await tokens.verify(rsa_key("later").token())
    assert provider.hits == 2, "past the interval, one unknown kid refetches once"
    with pytest.raises(Unauthenticated):
        await tokens.verify(rsa_key("and-another").token())
    assert provider.hits == 2


async def test_an_unreachable_provider_keeps_cached_keys_working(provider: Provider):
    cached, unseen = rsa_key("cached"), rsa_key("unseen")
    provider.keys = [cached.public_jwk(), unseen.public_jwk()]
    clock = Clock()
    tokens = tokens_for(provider, clock, ttl=60, min_refresh=0)
    assert (await tokens.verify(cached.token())).id == "ops"
    provider.stop()
    clock.now += 120  # the cache is stale and the refresh fails: the keys it has stay in use
    assert (await tokens.verify(cached.token("still"))).id == "still"
    with pytest.raises(Unauthenticated):
        await tokens.verify(rsa_key("brand-new").token())


async def test_an_error_status_or_garbage_keeps_cached_keys(provider: Provider):
    key = rsa_key("k")
    provider.keys = [key.public_jwk()]
    clock = Clock()
    tokens = tokens_for(provider, clock, ttl=10, min_refresh=0)
    await tokens.verify(key.token())
    provider.status = 503
    clock.now += 11
    assert (await tokens.verify(key.token("after-503"))).id == "after-503"
    provider.status, provider.keys = 200, [{"kty": "RSA", "kid": "broken", "n": "!", "e": "AQAB"}]
    clock.now += 11
    assert (await tokens.verify(key.token("after-garbage"))).id == "after-garbage"


async def test_a_slow_provider_times_out_into_unauthenticated(provider: Provider):
    key = rsa_key("slow")
    provider.keys = [key.public_jwk()]
    provider.delay = 1.5
    tokens = tokens_for(provider, Clock(), timeout=0.3)
    started = time.perf_counter()
    with pytest.raises(Unauthenticated):
        await tokens.verify(key.token())
    assert time.perf_counter() - started < 1.2, "the fetch gives up at its timeout"


async def test_symmetric_keys_in_a_jwks_are_never_used(provider: Provider):
    """An `oct` key in a public JWKS would let anyone who reads the JWKS mint tokens."""
    secret = "k" * 40
    provider.keys = [{"kty": "oct", "kid": "shared", "k": "a2trLWtrLWtr", "alg": "HS256"}]
    tokens = tokens_for(provider, Clock())
    forged = jwt.encode(
        {"sub": "m", "exp": int(time.time()) + 60}, secret, algorithm="HS256", headers={"kid": "shared"}
    )
    with pytest.raises(Unauthenticated):
        await tokens.verify(forged)


async def test_a_token_whose_algorithm_is_not_pinned_is_refused(provider: Provider):
    key = ec_key("ec")
    provider.keys = [key.public_jwk()]
    jwks = JwksKeys(provider.url, clock=Clock())
    tokens = TokenService(algorithms=["RS256"], jwks=jwks)
    with pytest.raises(Unauthenticated, match="not valid"):
        await tokens.verify(key.token())
