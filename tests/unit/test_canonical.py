"""RFC 8785 (JSON Canonicalization Scheme) as app/services/canonical.py writes it: the examples of the
RFC itself, byte for byte, and the rules they illustrate."""

from __future__ import annotations

import hashlib
import json
import struct

import pytest

from app.services.kernel.canonical import canonical_bytes, sha256_digest


def test_rfc8785_section_3_2_2_example() -> None:
    # RFC 8785 3.2.2, with the input as the RFC prints it (parsed here the way any JSON parser would).
    source = r"""{
      "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
      "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
      "literals": [null, true, false]
    }"""
    expected_hex = (
        "7b 22 6c 69 74 65 72 61 6c 73 22 3a 5b 6e 75 6c 6c 2c 74 72 75 65 2c 66 61 6c 73 65 5d 2c 22 6e 75 6d 62 "
        "65 72 73 22 3a 5b 33 33 33 33 33 33 33 33 33 2e 33 33 33 33 33 33 33 2c 31 65 2b 33 30 2c 34 2e 35 2c 30 "
        "2e 30 30 32 2c 31 65 2d 32 37 5d 2c 22 73 74 72 69 6e 67 22 3a 22 e2 82 ac 24 5c 75 30 30 30 66 5c 6e 41 "
        "27 42 5c 22 5c 5c 5c 5c 5c 22 2f 22 7d"
    )
    produced = canonical_bytes(json.loads(source))
    assert produced == bytes.fromhex(expected_hex)
    assert produced.decode() == (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )


def test_rfc8785_section_3_2_3_sorting_by_utf16_code_units() -> None:
    # RFC 8785 3.2.3: the emoji (U+1F600, surrogates D83D DE00) sorts before U+FB33 in UTF-16 code
    # units, although it comes after it in code points.
    source = r"""{
      "\u20ac": "Euro Sign",
      "\r": "Carriage Return",
      "\ufb33": "Hebrew Letter Dalet With Dagesh",
      "1": "One",
      "\ud83d\ude00": "Emoji: Grinning Face",
      "\u0080": "Control",
      "\u00f6": "Latin Small Letter O With Diaeresis"
    }"""
    produced = canonical_bytes(json.loads(source)).decode()
    assert list(json.loads(produced).values()) == [
        "Carriage Return",
        "One",
        "Control",
        "Latin Small Letter O With Diaeresis",
        "Euro Sign",
        "Emoji: Grinning Face",
        "Hebrew Letter Dalet With Dagesh",
    ]
    assert produced.startswith('{"\\r":"Carriage Return","1":"One","\u0080":"Control"')
    assert sorted(json.loads(source)) != list(json.loads(produced))  # code point order would differ


def test_ascii_keys_sort_by_code_unit_not_by_locale() -> None:
    value = {"b": 1, "B": 2, "a": 3, "_": 4, "A": 5, "10": 6, "2": 7, "aa": 8, "": 9}
    assert canonical_bytes(value) == b'{"":9,"10":6,"2":7,"A":5,"B":2,"_":4,"a":3,"aa":8,"b":1}'


def test_nested_objects_and_arrays() -> None:
    value = {"z": [3, {"b": [], "a": {}}, [[1, [2.0]], "x"]], "a": {"d": None, "c": [True, False]}}
    assert canonical_bytes(value) == b'{"a":{"c":[true,false],"d":null},"z":[3,{"a":{},"b":[]},[[1,[2]],"x"]]}'
    # Arrays keep their order; only object members are sorted.
    assert canonical_bytes([3, 1, 2]) == b"[3,1,2]"
    assert canonical_bytes(("a", "b")) == b'["a","b"]'


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1"),
        (-1.0, "-1"),
        (0, "0"),
        (0.0, "0"),
        (-0.0, "0"),
        (1e21, "1e+21"),
        (10**21, "1e+21"),
        (1e20, "100000000000000000000"),
        (10**20, "100000000000000000000"),
        (123456789012345680000.0, "123456789012345680000"),
        (4.5, "4.5"),
        (0.1, "0.1"),
        (1e-6, "0.000001"),
        (1e-7, "1e-7"),
        (1.5e-7, "1.5e-7"),
        (2e-3, "0.002"),
        (1e30, "1e+30"),
        (-1e30, "-1e+30"),
        (333333333.33333329, "333333333.3333333"),
        (2**53, "9007199254740992"),
        (2**53 + 1, "9007199254740992"),  # rounded to a double, as JSON.parse would
        (123, "123"),
        (-7, "-7"),
    ],
)
def test_numbers_are_written_like_ecmascript(value: float, text: str) -> None:
    assert canonical_bytes(value) == text.encode()
    assert canonical_bytes([value]) == f"[{text}]".encode()


@pytest.mark.parametrize(
    ("bits", "text"),
    [
        # RFC 8785 Appendix B: IEEE 754 bit patterns and their canonical form.
        ("0000000000000000", "0"),
        ("8000000000000000", "0"),
        ("0000000000000001", "5e-324"),
        ("8000000000000001", "-5e-324"),
        ("7fefffffffffffff", "1.7976931348623157e+308"),
        ("ffefffffffffffff", "-1.7976931348623157e+308"),
        ("4340000000000000", "9007199254740992"),
        ("c340000000000000", "-9007199254740992"),
        ("4430000000000000", "295147905179352830000"),
        ("44b52d02c7e14af5", "9.999999999999997e+22"),
        ("44b52d02c7e14af6", "1e+23"),
        ("44b52d02c7e14af7", "1.0000000000000001e+23"),
        ("444b1ae4d6e2ef4e", "999999999999999700000"),
        ("444b1ae4d6e2ef4f", "999999999999999900000"),
        ("444b1ae4d6e2ef50", "1e+21"),
        ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
        ("3eb0c6f7a0b5ed8d", "0.000001"),
        ("41b3de4355555553", "333333333.3333332"),
        ("41b3de4355555554", "333333333.33333325"),
        ("41b3de4355555555", "333333333.3333333"),
        ("41b3de4355555556", "333333333.3333334"),
        ("41b3de4355555557", "333333333.33333343"),
        ("becbf647612f3696", "-0.0000033333333333333333"),
        ("43143ff3c1cb0959", "1424953923781206.2"),
    ],
)
def test_rfc8785_appendix_b_numbers(bits: str, text: str) -> None:
    (value,) = struct.unpack(">d", bytes.fromhex(bits))
    assert canonical_bytes(value) == text.encode()


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_numbers_json_cannot_hold_are_refused(value: float) -> None:
    with pytest.raises(ValueError, match="NaN and infinite numbers have no JSON form"):
        canonical_bytes({"n": value})


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ('"', r"\""),
        ("\\", r"\\"),
        ("/", "/"),
        ("\b\f\n\r\t", r"\b\f\n\r\t"),
        ("\u0000\u0001\u000b\u001f", r"\u0000\u0001\u000b\u001f"),
        ("\u000f", r"\u000f"),  # lowercase hex
        ("\u007f", "\u007f"),  # DEL is not a control character for JSON
        (" ", " "),
        ("é€😀", "é€😀"),  # everything else verbatim, as UTF-8
        ("\u2028\u2029", "\u2028\u2029"),
        ("<script>&'", "<script>&'"),
    ],
)
def test_string_escapes(value: str, text: str) -> None:
    assert canonical_bytes(value) == f'"{text}"'.encode()
    assert canonical_bytes({value: value}) == f'{{"{text}":"{text}"}}'.encode()


def test_literals_and_no_whitespace() -> None:
    assert canonical_bytes(None) == b"null"
    assert canonical_bytes(True) == b"true"
    assert canonical_bytes(False) == b"false"
    assert canonical_bytes({"a": [1, 2], "b": {"c": None}}) == b'{"a":[1,2],"b":{"c":null}}'


def test_a_value_that_is_not_json_is_refused() -> None:
    with pytest.raises(ValueError, match="not a JSON value"):
        canonical_bytes({"when": object()})


def test_sha256_digest() -> None:
    value = {"b": 2, "a": [1.0, "x"]}
    expected = hashlib.sha256(b'{"a":[1,"x"],"b":2}').hexdigest()
    assert sha256_digest(value) == f"sha256:{expected}"
    # Key order and number spelling of the input do not change the digest.
    assert sha256_digest(json.loads('{"a": [1, "x"], "b": 2.0}')) == sha256_digest(value)
    assert sha256_digest({"a": [1, "x"], "b": 3}) != sha256_digest(value)
