"""Constant value lists written into a statement.

`column.in_(values)` is an expanding bind parameter: SQLAlchemy rewrites the compiled statement for it at every
execution (post-compile), even when the values are constants of the code (statuses, kinds). That rewrite was about
a twentieth of a page's server time. `one_of` and `none_of` write such a list into the statement once, when it is
compiled, as the SQL literals it would have sent. Only for constants of the code: values from a request go in bind
parameters (`in_(bindparam(..., expanding=True))`), never in the statement's text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, literal_column

_PLAIN = re.compile(r"^[A-Za-z0-9_.:-]+$")


def _literals(values: Iterable[str]) -> list[ColumnElement[Any]]:
    chosen = sorted({str(value) for value in values})
    unfit = [value for value in chosen if not _PLAIN.match(value)]
    if unfit or not chosen:
        raise ValueError(f"one_of/none_of take constant names, not {unfit or 'nothing'}")
    return [literal_column(f"'{value}'") for value in chosen]


def one_of(column: ColumnElement[Any], values: Iterable[str]) -> ColumnElement[bool]:
    """`column IN ('a', 'b')`, the constants written into the statement (sorted: one statement per set)."""
    return column.in_(_literals(values))


def none_of(column: ColumnElement[Any], values: Iterable[str]) -> ColumnElement[bool]:
    """`column NOT IN ('a', 'b')`, as `one_of`."""
    return column.not_in(_literals(values))
