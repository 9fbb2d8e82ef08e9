"""Field types that contract models share, with the marks the schema builder reads."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, StringConstraints


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


class InstantText(datetime):
    """A DateTime that keeps the exact text it was read from (`text`), for documents whose bytes matter
    (a signed manifest is stored as its publisher wrote it): parsed for checks, never re-serialized.
    The GraphQL `DateTime` scalar reads every input into one (app/graphql/schema.py)."""

    text: str

    @classmethod
    def of(cls, value: datetime, text: str) -> InstantText:
        instant = cls(
            value.year,
            value.month,
            value.day,
            value.hour,
            value.minute,
            value.second,
            value.microsecond,
            tzinfo=value.tzinfo,
            fold=value.fold,
        )
        instant.text = text
        return instant


def _instant_text(value: Any) -> Any:
    if isinstance(value, InstantText):
        return value
    if isinstance(value, str):
        return InstantText.of(datetime.fromisoformat(value), value)
    if isinstance(value, datetime):
        return InstantText.of(value, value.isoformat())
    return value


SignedTimestamp = Annotated[datetime, BeforeValidator(_instant_text)]
"""A GraphQL `DateTime` whose value is an `InstantText`: the instant as given (offset or none), with its text."""


class ContractModel(BaseModel):
    """Base of every contract input, output and payload model."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)
