"""The canonical JSON form a skill manifest is signed in, byte for byte what the original TypeScript
implementation produces (pure: no I/O).

The TypeScript signer computes

    canonical(value) = JSON.stringify(sortKeys(value))

where `sortKeys` drops object members whose value is `undefined`, keeps `null`, keeps array order, and
rebuilds every object with its keys inserted in `Object.keys(o).sort((a, b) => a.localeCompare(b))`
order; the result is encoded as UTF-8. Three parts of that need care in Python:

* **Key order.** `localeCompare` (ICU, default `en` locale = CLDR root collation, non-ignorable
  punctuation, no numeric collation, lower case before upper case) is not code-point order:
  `"a" < "B"`, `"_a" < "-a" < "a"`, `"a1" < "aB"`. For printable ASCII (U+0020..U+007E) the ICU order
  is a two-level comparison: first the sequence of *primary* weights (case-insensitive, in the order
  of `ASCII_PRIMARY_ORDER` below), then, when all primaries are equal, the sequence of *tertiary*
  weights (lower case before upper case). No two distinct printable-ASCII strings tie, ASCII has no
  contractions or expansions, and all its secondary weights are equal, so this reproduces
  `localeCompare` exactly. `ASCII_PRIMARY_ORDER` is what Node prints for
  `[...printable].sort((a, b) => a.localeCompare(b))` (ICU 78); tests/vectors/make_vectors.mjs
  records it and the unit tests compare it, and a few hundred tricky keys, with Node.
  Keys outside printable ASCII would need the whole Unicode collation algorithm; they are refused
  (`CanonicalizationError`) rather than ordered in a way that might disagree with a signer.
* **Array-index keys.** A JavaScript object enumerates keys that are array indexes (`"0"`, `"2"`,
  `"10"`: canonical decimal integers below 2**32 - 1) first, in ascending numeric order, whatever the
  insertion order; so `JSON.stringify` of the sorted object writes them before all other keys
  (`{"2":..,"10":..,"01":..,"a":..}`). `ordered_keys` does the same.
* **Numbers and strings** are written as JSON.stringify writes them (app/services/kernel/json_writer.py).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from app.services.kernel.json_writer import CanonicalizationError, write_json

ASCII_PRIMARY_ORDER = (
    " _-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$0123456789aAbBcCdDeEfFgGhHiIjJkKlLmMnNoOpPqQrRsStTuUvVwWxXyYzZ"
)
"""Printable ASCII in ICU root collation order; a letter's two cases share one primary weight."""


def _weights() -> tuple[dict[str, int], dict[str, int]]:
    primary: dict[str, int] = {}
    tertiary: dict[str, int] = {}
    rank = 0
    for char in ASCII_PRIMARY_ORDER:
        if char.isupper():
            primary[char], tertiary[char] = primary[char.lower()], 1
        else:
            primary[char], tertiary[char] = rank, 0
            rank += 1
    return primary, tertiary


_PRIMARY, _TERTIARY = _weights()
_MAX_ARRAY_INDEX = 2**32 - 1
_ARRAY_INDEX = re.compile(r"^(?:0|[1-9][0-9]*)$")


def collation_key(key: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Sort key that orders printable-ASCII strings exactly like JavaScript's `a.localeCompare(b)`."""
    try:
        return tuple(_PRIMARY[char] for char in key), tuple(_TERTIARY[char] for char in key)
    except KeyError:
        raise CanonicalizationError(
            f"object key {key!r} has characters outside printable ASCII; their localeCompare order is not reproduced"
        ) from None


def is_array_index(key: str) -> bool:
    return bool(_ARRAY_INDEX.match(key)) and int(key) < _MAX_ARRAY_INDEX


def sort_keys(keys: Sequence[str]) -> list[str]:
    """`keys.sort((a, b) => a.localeCompare(b))`."""
    return sorted(keys, key=collation_key)


def ordered_keys(keys: Sequence[str]) -> list[str]:
    """The order `JSON.stringify` writes an object's keys in after they were inserted in localeCompare
    order: array indexes first (ascending), then the others as sorted."""
    indexes = sorted((key for key in keys if is_array_index(key)), key=int)
    return indexes + sort_keys([key for key in keys if not is_array_index(key)])


def canonical_json(value: Any) -> str:
    """`JSON.stringify(sortKeys(value))`: keys in localeCompare order (array indexes first), no whitespace.

    Absent members are simply not in the mapping; a `None` value is written as `null`."""
    out: list[str] = []
    write_json(value, out, ordered_keys)
    return "".join(out)


def canonical_bytes(value: Any) -> bytes:
    """The canonical form as UTF-8 (lone surrogates are escaped, so encoding cannot fail)."""
    return canonical_json(value).encode("utf-8")
