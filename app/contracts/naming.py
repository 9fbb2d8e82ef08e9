"""GraphQL naming shared by the schema builder and the executor's error details."""

from __future__ import annotations

import re

_NAME = re.compile(r"^[_A-Za-z][_0-9A-Za-z]*$")


def camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def is_graphql_name(name: str) -> bool:
    return bool(_NAME.match(name)) and not name.startswith("__")


def derived_field_name(key: str, version: str) -> str:
    """`controlPlane.execution.reject` 1.0.0 -> `controlPlaneExecutionRejectV1`."""
    words = [w for w in re.split(r"[^0-9A-Za-z]+", key) if w]
    name = words[0][:1].lower() + words[0][1:] + "".join(w[:1].upper() + w[1:] for w in words[1:])
    major = version.split(".", maxsplit=1)[0]
    name = f"{name}V{major}" if major.isdigit() else name
    return name if is_graphql_name(name) else f"op_{name}"
