"""RFC 8785 (JSON Canonicalization Scheme) bytes and SHA-256 digests of JSON values.

Plan hashes and evidence digests are computed over these bytes, so anyone can recompute them with
any JCS library: object members sorted by the UTF-16 code units of their names, no whitespace,
strings and numbers written as ECMAScript's JSON.stringify writes them, UTF-8.
"""

from __future__ import annotations

import hashlib
from typing import Any

from app.services.kernel.json_writer import write_json


def _utf16(key: str) -> bytes:
    return key.encode("utf-16-be", "surrogatepass")


def _jcs_order(keys: list[str]) -> list[str]:
    return sorted(keys, key=_utf16)


def canonical_bytes(value: Any) -> bytes:
    out: list[str] = []
    write_json(value, out, _jcs_order)
    return "".join(out).encode("utf-8")


def sha256_digest(value: Any) -> str:
    """`sha256:` and the lowercase hex SHA-256 of the canonical bytes."""
    return "sha256:" + hashlib.sha256(canonical_bytes(value)).hexdigest()
