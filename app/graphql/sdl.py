"""The printed schema, as committed in schema.graphql."""

from __future__ import annotations

from app.contracts.control_plane import build_registry
from app.graphql.schema import build_schema


def printed_schema() -> str:
    return str(build_schema(build_registry())).rstrip("\n") + "\n"
