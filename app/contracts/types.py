"""Field types that contract models share, with the marks the schema builder reads."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints


class IdMarker:
    """Marks a string field as a GraphQL `ID`."""

    def __repr__(self) -> str:
        return "ID"


ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:@-]*$"
ID = Annotated[str, IdMarker(), StringConstraints(min_length=1, max_length=128, pattern=ID_PATTERN)]
"""An identifier: 1-128 characters, letters, digits and `_ . : @ -`, starting with a letter or digit."""

JSONObject = dict[str, Any]
"""A free-form JSON object (GraphQL `JSON`)."""


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def Text(max_length: int) -> Any:  # noqa: N802 - reads like a type in model declarations
    """Required text: not blank, at most `max_length` characters."""
    return Annotated[str, StringConstraints(max_length=max_length), AfterValidator(_not_blank)]


Timestamp = Annotated[datetime, AfterValidator(_utc)]
"""An instant, always in UTC (GraphQL `DateTime`, ISO 8601 with offset)."""


class ContractModel(BaseModel):
    """Base of every contract input, output and payload model."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)
