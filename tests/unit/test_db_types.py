"""UTCDateTime reads every form of stored time as an aware UTC datetime: SQLite's own processor (the ISO text in
one step, app/db/types.py) agrees with SQLAlchemy's for what SQLAlchemy writes, and reads what SQL writes too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import DateTime
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.postgresql.base import PGDialect

from app.db.types import UTCDateTime

SQLITE = sqlite.dialect()
POSTGRESQL = PGDialect()  # type: ignore[no-untyped-call]  # SQLAlchemy leaves its __init__ untyped


def _read(stored: object) -> datetime | None:
    process = UTCDateTime().dialect_impl(SQLITE).result_processor(SQLITE, None)  # as a statement's result does
    assert process is not None
    return process(stored)


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 12, 3, 10, 26, 36, 61204, tzinfo=UTC),
        datetime(2026, 12, 3, 10, 26, 36, tzinfo=UTC),
        datetime(1999, 1, 1, tzinfo=UTC),
        datetime(2026, 3, 29, 1, 30, tzinfo=timezone(timedelta(hours=2))),
    ],
)
def test_what_sqlalchemy_writes_reads_back_the_same_instant(moment):
    bind = UTCDateTime().dialect_impl(SQLITE).bind_processor(SQLITE)
    assert bind is not None
    stored = bind(moment)
    assert isinstance(stored, str)
    read = _read(stored)
    assert read == moment
    assert read is not None
    assert read.tzinfo is UTC
    # the same as SQLAlchemy's own SQLite processor followed by the type's zone
    stock = DateTime().dialect_impl(SQLITE).result_processor(SQLITE, None)
    assert stock is not None
    stock_read = stock(stored)
    assert isinstance(stock_read, datetime)
    assert read == stock_read.replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ("2026-12-03 10:26:36", datetime(2026, 12, 3, 10, 26, 36, tzinfo=UTC)),  # CURRENT_TIMESTAMP
        ("2026-12-03T10:26:36.061Z", datetime(2026, 12, 3, 10, 26, 36, 61000, tzinfo=UTC)),  # strftime(... 'Z')
        ("2026-12-03T12:26:36+02:00", datetime(2026, 12, 3, 10, 26, 36, tzinfo=UTC)),
        (None, None),
    ],
)
def test_what_sql_writes_reads_as_utc(stored, expected):
    read = _read(stored)
    assert read == expected
    if read is not None:
        assert read.tzinfo is UTC


def test_postgresql_keeps_the_drivers_aware_datetimes():
    process: Any = UTCDateTime().dialect_impl(POSTGRESQL).result_processor(POSTGRESQL, None)
    moment = datetime(2026, 12, 3, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    assert process is not None
    read = process(moment)
    assert read == moment
    assert read is not None
    assert read.tzinfo is UTC
