"""Compact JSON text written exactly as ECMAScript's JSON.stringify writes it, with a pluggable key order.

RFC 8785 (canonical.py) and the skill signing form (app/services/skills/canonical_form.py) differ only
in how object keys are ordered; both write numbers and strings like JSON.stringify:

* **Numbers** are formatted like ECMAScript `Number::toString` (shortest round-trip digits,
  `1e+21`, `1e-7`, `100000000000000000000`, `-0` -> `0`); integers beyond 2**53 are first rounded
  to a double, as `JSON.parse` does. NaN and infinities are refused (JSON has none).
* **Strings** are escaped like `JSON.stringify` (well-formed variant): `\\"`, `\\\\`, `\\b \\f \\n \\r \\t`,
  other controls as `\\u00xx`, lone surrogates as `\\udxxx`, everything else verbatim.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

_MAX_SAFE_INTEGER = 2**53
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}

KeyOrder = Callable[[list[str]], list[str]]


class CanonicalizationError(ValueError):
    """The value has no canonical form (NaN, a non-JSON type, a key the chosen order cannot place)."""


def js_number(value: float) -> str:
    """ECMAScript Number::toString of `value` (as JSON.stringify writes numbers)."""
    if isinstance(value, int) and abs(value) < _MAX_SAFE_INTEGER:
        return str(value)
    number = float(value)  # OverflowError for ints beyond a double: JSON.parse would give Infinity
    if not math.isfinite(number):
        raise CanonicalizationError("NaN and infinite numbers have no JSON form")
    if number == 0:
        return "0"
    sign = "-" if number < 0 else ""
    digits_tuple, exponent = Decimal(repr(abs(number))).as_tuple()[1:]
    digits = "".join(map(str, digits_tuple)).rstrip("0")
    assert isinstance(exponent, int)
    exponent += len("".join(map(str, digits_tuple))) - len(digits)
    k = len(digits)
    n = exponent + k  # value = 0.digits x 10^n
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * (-n) + digits
    power = n - 1
    mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
    return f"{sign}{mantissa}e{'+' if power > 0 else '-'}{abs(power)}"


def js_string(value: str) -> str:
    """JSON.stringify of a string."""
    out = ['"']
    for char in value:
        code = ord(char)
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif code < 0x20 or 0xD800 <= code <= 0xDFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


_LITERALS = {None: "null", True: "true", False: "false"}


def write_json(value: Any, out: list[str], order: KeyOrder) -> None:
    """Append the compact JSON text of `value` to `out`, object members in `order`; strings and numbers
    as JSON.stringify writes them. Shared by RFC 8785 (canonical.py) and the skill signing form
    (app/services/skills/canonical_form.py)."""
    if value is None or value is True or value is False:
        out.append(_LITERALS[value])
    elif isinstance(value, str):
        out.append(js_string(value))
    elif isinstance(value, int | float):
        try:
            out.append(js_number(value))
        except OverflowError:
            raise CanonicalizationError(f"number {value} is too large for JSON") from None
    elif isinstance(value, Mapping):
        _write_object(value, out, order)
    elif isinstance(value, list | tuple):
        _write_array(value, out, order)
    else:
        raise CanonicalizationError(f"{type(value).__name__} is not a JSON value")


def _write_object(value: Mapping[Any, Any], out: list[str], order: KeyOrder) -> None:
    for key in value:
        if not isinstance(key, str):
            raise CanonicalizationError(f"object key {key!r} is not a string")
    out.append("{")
    for index, key in enumerate(order(list(value))):
        if index:
            out.append(",")
        out.append(js_string(key))
        out.append(":")
        write_json(value[key], out, order)
    out.append("}")


def _write_array(value: list[Any] | tuple[Any, ...], out: list[str], order: KeyOrder) -> None:
    out.append("[")
    for index, item in enumerate(value):
        if index:
            out.append(",")
        write_json(item, out, order)
    out.append("]")
