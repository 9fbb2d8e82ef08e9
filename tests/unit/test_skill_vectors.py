"""Interoperability with the original TypeScript signer: vectors produced by Node's crypto
(tests/vectors/make_vectors.mjs) verify here, and manifests signed here verify in Node."""

from __future__ import annotations

import copy
import json
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from app.services.kernel.json_writer import CanonicalizationError, js_number, js_string
from app.services.skills import verification as sv
from app.services.skills.canonical_form import (
    ASCII_PRIMARY_ORDER,
    canonical_json,
    ordered_keys,
    sort_keys,
)
from app.services.skills.keys import ALGORITHMS, generate_key
from app.services.skills.registry import server_facts
from app.services.skills.signing import manifest_digest, sign_manifest, signing_payload
from app.services.skills.trust import TrustPolicy
from tests.skill_fixtures import NOW, unsigned_manifest, vectors

VECTORS_DIR = Path(__file__).resolve().parents[1] / "vectors"
NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed")

SIGNED = {vector["name"]: vector for vector in vectors()["signed"]}


def _trust(vector: dict[str, Any]) -> TrustPolicy:
    return TrustPolicy.parse(
        json.dumps(
            {
                "trustedPublishers": [
                    {
                        "id": "acme",
                        "publicKeys": [vector["publicKeyPem"]],
                        "keyIds": [vector["manifest"]["signature"]["keyId"]],
                        "provenancePrefixes": ["https://github.com/acme/"],
                    }
                ]
            }
        )
    )


def _verify(vector: dict[str, Any], manifest: dict[str, Any] | None = None) -> sv.VerificationReport:
    manifest = manifest or vector["manifest"]
    return sv.verify_manifest(
        manifest,
        skill_key=manifest["skill"]["key"],
        version=manifest["skill"]["version"],
        artifact_digest=manifest["artifact"]["digest"],
        policy=_trust(vector),
        server=server_facts(),
        now=NOW,
    )


def test_vectors_were_made_with_the_default_english_collation():
    assert vectors()["locale"].startswith("en")


def test_ascii_collation_table_is_nodes():
    assert vectors()["asciiCollation"] == ASCII_PRIMARY_ORDER


@pytest.mark.parametrize("case", vectors()["keyOrders"], ids=lambda case: ",".join(case["keys"][:4]))
def test_key_order_is_locale_compare(case):
    assert sort_keys(case["keys"]) == case["localeCompare"]
    assert canonical_json(dict.fromkeys(case["keys"], 0)) == case["stringify"]


def test_array_index_keys_come_first_like_in_javascript_objects():
    assert ordered_keys(["b", "10", "2", "01", "-1", "4294967294", "4294967295"]) == [
        "2",
        "10",
        "4294967294",
        "-1",
        "01",
        "4294967295",
        "b",
    ]


@pytest.mark.parametrize("case", vectors()["numbers"], ids=lambda case: case["literal"])
def test_numbers_are_written_like_json_stringify(case):
    literal = case["literal"]
    value = int(literal) if literal.lstrip("-").isdigit() else float(literal)
    assert js_number(value) == case["stringify"]
    assert canonical_json([value]) == f"[{case['stringify']}]"


@pytest.mark.parametrize("case", vectors()["strings"], ids=lambda case: repr(case["value"]))
def test_strings_are_escaped_like_json_stringify(case):
    assert js_string(case["value"]) == case["stringify"]


def test_values_without_a_canonical_form_are_refused():
    for bad in ({"é": 1}, {"\n": 1}, {1: "x"}, float("inf"), {"x": {1, 2}}, 10**400):
        with pytest.raises(CanonicalizationError):
            canonical_json(bad)


@pytest.mark.parametrize("name", sorted(SIGNED))
def test_node_signed_manifests_verify_here(name):
    vector = SIGNED[name]
    assert signing_payload(vector["manifest"]).decode() == vector["canonical"]
    assert manifest_digest(vector["manifest"]) == vector["manifestDigest"]
    report = _verify(vector)
    assert report.signature_verified
    assert report.manifest_digest == vector["manifestDigest"]
    expected = {sv.SIGNATURE_EXPIRED} if name.endswith("expired") else set()
    assert {issue.code for issue in report.issues} == expected


def test_vectors_cover_both_algorithms_and_tricky_keys():
    assert {vector["manifest"]["signature"]["algorithm"] for vector in SIGNED.values()} == set(ALGORITHMS)
    tricky = list(SIGNED["ed25519"]["manifest"]["metadata"]["tricky"])
    assert sort_keys(tricky) != sorted(tricky)


@pytest.mark.parametrize("name", sorted(SIGNED))
def test_node_vectors_tampered_fail_here(name):
    vector = SIGNED[name]
    manifest = json.loads(json.dumps(vector["manifest"]))
    manifest["metadata"]["tricky"]["aB"] += 1
    assert not _verify(vector, manifest).signature_verified


def _node_verify(manifest: dict[str, Any]) -> dict[str, Any]:
    assert NODE is not None
    result = subprocess.run(
        [NODE, str(VECTORS_DIR / "verify_manifest.mjs")],
        input=json.dumps(manifest),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    output: dict[str, Any] = json.loads(result.stdout)
    assert (result.returncode == 0) == output["verified"]
    return output


@needs_node
@pytest.mark.parametrize("name", sorted(SIGNED))
def test_manifests_signed_here_verify_in_node(name):
    vector = SIGNED[name]
    unsigned = copy.deepcopy({key: value for key, value in vector["manifest"].items() if key != "signature"})
    document = sign_manifest(unsigned, vector["privateKeyPem"].encode(), key_id="python")
    output = _node_verify(document)
    assert output["verified"]
    assert output["canonical"] == vector["canonical"]
    assert output["manifestDigest"] == manifest_digest(document)
    document["skill"]["entryPoint"] = "dist/evil.js"
    assert not _node_verify(document)["verified"]


@needs_node
def test_random_keys_sort_like_node():
    rng = random.Random(20260601)
    alphabets = ["".join(map(chr, range(0x20, 0x7F))), "aAbB_-1 .", "xyzXYZ09-_"]
    keys = sorted({"".join(rng.choice(rng.choice(alphabets)) for _ in range(rng.randint(0, 6))) for _ in range(2000)})
    result = subprocess.run(
        [
            NODE or "node",
            "-e",
            (
                "const k=JSON.parse(require('fs').readFileSync(0,'utf8'));"
                "console.log(JSON.stringify(k.sort((a,b)=>a.localeCompare(b))))"
            ),
        ],
        input=json.dumps(keys),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert sort_keys(keys) == json.loads(result.stdout)


@needs_node
def test_fresh_python_manifest_verifies_in_node_with_both_algorithms():
    for algorithm in ALGORITHMS:
        private, _ = generate_key(algorithm)  # type: ignore[arg-type]
        document = sign_manifest(unsigned_manifest(), private.encode(), issued_at="2026-01-01T00:00:00.000Z")
        assert _node_verify(document)["verified"]
