"""Input a contract's model accepts but no database can store: refused before any handler runs.

Found by fuzzing the API (tests/integration/test_fuzz.py). The executor checks every validated input
with `storage_problems` and answers BAD_USER_INPUT naming each field, on SQLite and PostgreSQL alike:

* a NUL character, in text or in a JSON string or key: PostgreSQL's text and jsonb refuse it;
* a lone surrogate (a JSON string may escape one, `"\\ud800"`): it is not UTF-8;
* a non-finite number in a JSON value (`1e400` parses as infinity, an integer literal too long to
  convert as NaN): JSON has none, so jsonb refuses it, SQLite would store invalid JSON, and plan
  hashes and evidence digests cannot be computed;
* a JSON value nested deeper than `MAX_JSON_DEPTH`: serializing and hashing it recurses once per level.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from app.contracts.naming import camel

MAX_JSON_DEPTH = 64
"""Arrays and objects nested in one JSON value, at most."""

NUL = "must not contain NUL characters"
NUL_KEY = "keys must not contain NUL characters"
SURROGATE = "must be valid Unicode text (no lone surrogates)"
SURROGATE_KEY = "keys must be valid Unicode text (no lone surrogates)"
NOT_FINITE = "must be a finite number"
TOO_DEEP = f"must not nest arrays and objects more than {MAX_JSON_DEPTH} levels deep"


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return NUL
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return SURROGATE
    return None


def _key_problem(keys: list[str]) -> str | None:
    for key in keys:
        problem = _text_problem(key)
        if problem is not None:
            return NUL_KEY if problem == NUL else SURROGATE_KEY
    return None


def storage_problems(data: BaseModel) -> dict[str, str]:
    """Input path (as in `extensions.fields`, e.g. `metadata.tags.1`) -> what is wrong there; empty when
    everything can be stored. Iterative, so that no input is too deep to be checked."""
    problems: dict[str, str] = {}
    # (value, its path, arrays and objects entered to reach it); popped in input order
    pending: list[tuple[Any, tuple[str, ...], int]] = [(data, (), 0)]
    while pending:
        value, path, depth = pending.pop()
        children: list[tuple[Any, tuple[str, ...], int]] = []
        problem: str | None = None
        if isinstance(value, str):
            problem = _text_problem(value)
        elif isinstance(value, float):
            problem = None if math.isfinite(value) else NOT_FINITE
        elif isinstance(value, BaseModel):
            children = [(getattr(value, name), (*path, camel(name)), depth) for name in type(value).model_fields]
        elif isinstance(value, Mapping | list | tuple) and depth >= MAX_JSON_DEPTH:
            problem = TOO_DEEP
        elif isinstance(value, Mapping):
            keys = [key for key in value if isinstance(key, str)]
            problem = _key_problem(keys)
            children = [(value[key], (*path, key), depth + 1) for key in keys] if problem is None else []
        elif isinstance(value, list | tuple):
            children = [(item, (*path, str(index)), depth + 1) for index, item in enumerate(value)]
        if problem is not None:
            problems.setdefault(".".join(path) or "input", problem)
        pending.extend(reversed(children))
    return problems
