"""The canonical JSON form a skill manifest is signed in, byte for byte what the original TypeScript
implementation produces (pure: no I/O).

The TypeScript signer computes

    canonical(value) = JSON.stringify(sortKeys(value))

where `sortKeys` drops object members whose value is `undefined`, keeps `null`, keeps array order, and
rebuilds every object with its keys inserted in `Object.keys(o).sort((a, b) => a.localeCompare(b))`
order; the result is encoded as UTF-8. Three parts of that need care in Python:

* **Key order.** `localeCompare` without arguments is ICU's collator for the default locale (`en-US`,
  which has no tailoring: the CLDR root collation) with ECMA-402's defaults: tertiary strength
  (sensitivity `variant`), non-ignorable punctuation, no numeric collation, no case-first setting, and
  normalization on (canonically equivalent strings compare equal). `sort_keys` uses ICU itself
  (PyICU) with exactly those settings, for every key of all of Unicode (lone surrogates included:
  they reach ICU as the UTF-16 code units JavaScript holds). Keys that compare equal (`"é"` and
  `"e\\u0301"`, or `"a"` and `"a\\u0000"`: equal under every strength ICU uses by default) keep their
  order in the object, as JavaScript's stable sort keeps insertion order. Node's ICU and PyICU's ICU
  may be different versions; they order every key alike except keys with code points a newer Unicode
  assigned or re-described (see `icu_version_sensitive`; tests/vectors/ records what was measured).
* **Array-index keys.** A JavaScript object enumerates keys that are array indexes (`"0"`, `"2"`,
  `"10"`: canonical decimal integers below 2**32 - 1) first, in ascending numeric order, whatever the
  insertion order; so `JSON.stringify` of the sorted object writes them before all other keys
  (`{"2":..,"10":..,"01":..,"a":..}`). `ordered_keys` does the same.
* **Numbers and strings** are written as JSON.stringify writes them (app/services/kernel/json_writer.py).

There is no separate ASCII fast path: ICU's sort keys order printable-ASCII keys exactly as the
table this module used before did (tests/unit/test_skill_vectors.py compares both) and 3 to 4 times
faster than building that table's Python tuples, so ICU does all of it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import icu

from app.services.kernel.json_writer import write_json

ICU_VERSION: str = icu.ICU_VERSION
UNICODE_VERSION: str = icu.UNICODE_VERSION

_MAX_ARRAY_INDEX = 2**32 - 1
_ARRAY_INDEX = re.compile(r"^(?:0|[1-9][0-9]*)$")

REDESCRIBED_IN_UNICODE_17 = frozenset(
    {
        *range(0x18D00, 0x18D09),  # Tangut ideograph supplement
        *(0x4748, 0x52B3, 0x232F0, 0x23D92, 0x24775, 0x24822, 0x257CC, 0x25A5A, 0x291AC, 0x2C0D1, 0x2F992, 0x3080C),
    }
)
"""Code points assigned before Unicode 17 whose root-collation position ICU 78 (Unicode 17, Node 20.20)
changed from ICU 77 (Unicode 16, pyicu-wheels 2.15): the 21 such code points a comparison of every code
point's position found (CJK and Tangut ideographs, whose radical-stroke data Unicode 17 revised)."""


@functools.cache
def root_collator() -> Any:
    """ICU's root collator with the settings of JavaScript's default `localeCompare` (built once;
    `getSortKey` and `compare` are const, so it is shared)."""
    collator = icu.Collator.createInstance(icu.Locale.getRoot())
    collator.setStrength(icu.Collator.TERTIARY)
    collator.setAttribute(icu.UCollAttribute.NORMALIZATION_MODE, icu.UCollAttributeValue.ON)
    collator.setAttribute(icu.UCollAttribute.ALTERNATE_HANDLING, icu.UCollAttributeValue.NON_IGNORABLE)
    collator.setAttribute(icu.UCollAttribute.CASE_FIRST, icu.UCollAttributeValue.OFF)
    collator.setAttribute(icu.UCollAttribute.CASE_LEVEL, icu.UCollAttributeValue.OFF)
    collator.setAttribute(icu.UCollAttribute.NUMERIC_COLLATION, icu.UCollAttributeValue.OFF)
    collator.setAttribute(icu.UCollAttribute.FRENCH_COLLATION, icu.UCollAttributeValue.OFF)
    return collator


def collation_key(key: str) -> bytes:
    """ICU sort key: `a.localeCompare(b)` has the sign of comparing `collation_key(a)` with `collation_key(b)`."""
    key_bytes: bytes = root_collator().getSortKey(key)
    return key_bytes


def is_array_index(key: str) -> bool:
    return bool(_ARRAY_INDEX.match(key)) and int(key) < _MAX_ARRAY_INDEX


def sort_keys(keys: Sequence[str]) -> list[str]:
    """`keys.sort((a, b) => a.localeCompare(b))` (stable: equal keys keep their order)."""
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


def _unassigned(code_point: int) -> bool:
    return bool(icu.Char.charType(code_point) == icu.UCharCategory.UNASSIGNED)


def icu_version_sensitive(key: str) -> bool:
    """Whether another ICU version may place `key` differently: it has a code point this ICU's Unicode
    does not assign (a signer's newer ICU gives it a real weight, this one an implicit weight after
    every script), or one of REDESCRIBED_IN_UNICODE_17."""
    return any(_unassigned(ord(char)) or ord(char) in REDESCRIBED_IN_UNICODE_17 for char in key if char > "\x7f")


def version_sensitive_keys(value: Any) -> list[str]:
    """Every object key in `value` (recursively) whose order may differ under another ICU version."""
    return [key for key in _object_keys(value) if icu_version_sensitive(key)]


def _object_keys(value: Any) -> Iterator[str]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str):
                yield key
            yield from _object_keys(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _object_keys(item)
