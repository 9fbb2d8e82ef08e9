"""RFC 8785 (JSON Canonicalization Scheme) bytes and SHA-256 digests of JSON values.

Plan hashes and evidence digests are computed over these bytes, so anyone can recompute them with
any JCS library: object members sorted by the UTF-16 code units of their names, no whitespace,
strings and numbers written as ECMAScript's JSON.stringify writes them, UTF-8.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from app.services.skill_canonical import js_number, js_string


def _utf16(key: str) -> bytes:
    return key.encode("utf-16-be", "surrogatepass")


def _write(value: Any, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int | float):
        out.append(js_number(value))
    elif isinstance(value, str):
        out.append(js_string(value))
    elif isinstance(value, Mapping):
        out.append("{")
        for index, key in enumerate(sorted(value, key=_utf16)):
            if index:
                out.append(",")
            out.append(js_string(key))
            out.append(":")
            _write(value[key], out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _write(item, out)
        out.append("]")
    else:
        raise TypeError(f"{type(value).__name__} is not a JSON value")


def canonical_bytes(value: Any) -> bytes:
    out: list[str] = []
    _write(value, out)
    return "".join(out).encode("utf-8")


def sha256_digest(value: Any) -> str:
    """`sha256:` and the lowercase hex SHA-256 of the canonical bytes."""
    return "sha256:" + hashlib.sha256(canonical_bytes(value)).hexdigest()
