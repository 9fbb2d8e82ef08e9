"""Reading claims by dotted path, as identity providers nest them (`realm_access.roles` in Keycloak,
`https://example.com/roles` namespaced in Auth0: a path without dots is one key)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.errors import Unauthenticated


def claim(claims: Mapping[str, Any], path: str) -> Any:
    """The claim at `path`: the whole name first (a namespaced URL claim may contain dots), then
    member by member. None when absent."""
    if path in claims:
        return claims[path]
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def string_list(claims: Mapping[str, Any], path: str) -> list[str]:
    """A claim that must be a list of strings; absent is empty, anything else is a bad token."""
    value = claim(claims, path)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise Unauthenticated(f"The bearer token's {path!r} claim must be a list of strings.")
    return value
