"""The pure verification module: every issue code alone, every compatible pair, all at once; tampering."""

from __future__ import annotations

import base64
import copy
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from app.services.skills import verification as sv
from app.services.skills.keys import generate_key, key_fingerprint, load_public_key
from app.services.skills.registry import server_facts
from app.services.skills.signing import manifest_digest, sign_manifest, signing_payload, verify_signature
from app.services.skills.trust import TrustPolicy, TrustPolicyError
from tests.skill_fixtures import (
    ARTIFACT_DIGEST,
    NOW,
    SKILL_KEY,
    VERSION,
    key_pair,
    policy,
    signed,
    unsigned_manifest,
)

Mutation = Callable[[dict[str, Any]], None]


def verify(manifest: Any, *, trust: TrustPolicy | None = None, **overrides: Any) -> sv.VerificationReport:
    options: dict[str, Any] = {
        "skill_key": SKILL_KEY,
        "version": VERSION,
        "artifact_digest": ARTIFACT_DIGEST,
        "policy": trust or policy(),
        "server": server_facts(),
        "now": NOW,
    }
    options.update(overrides)
    return sv.verify_manifest(manifest, **options)


def codes(report: sv.VerificationReport) -> set[str]:
    return {issue.code for issue in report.issues}


# --- one case per code ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    code: str
    before: Mutation | None = None
    """Applied before signing (the signature stays valid)."""
    after: Mutation | None = None
    """Applied to the signed manifest (tampering)."""
    sign: dict[str, Any] = field(default_factory=dict)
    verify: dict[str, Any] = field(default_factory=dict)


def _set(path: str, value: Any) -> Mutation:
    def mutate(manifest: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = manifest
        for name in parents:
            target = target[name]
        target[last] = value

    return mutate


def _drop(path: str) -> Mutation:
    def mutate(manifest: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = manifest
        for name in parents:
            target = target[name]
        del target[last]

    return mutate


def _add_capability(key: str, version: str) -> Mutation:
    def mutate(manifest: dict[str, Any]) -> None:
        manifest["compatibility"]["requiredCapabilities"].append({"key": key, "version": version})

    return mutate


CASES = {
    sv.MANIFEST_INVALID: Case(sv.MANIFEST_INVALID, before=_set("skill.entryPoint", "   ")),
    sv.SCHEMA_VERSION_INVALID: Case(sv.SCHEMA_VERSION_INVALID, before=_set("schemaVersion", "2.0.0")),
    sv.SIGNATURE_MISSING: Case(sv.SIGNATURE_MISSING, after=_drop("signature")),
    sv.SIGNATURE_INVALID: Case(sv.SIGNATURE_INVALID, after=_set("skill.description", "Exfiltrate secrets.")),
    sv.SIGNATURE_EXPIRED: Case(
        sv.SIGNATURE_EXPIRED, sign={"issued_at": "2025-01-01T00:00:00Z", "expires_at": "2026-01-01T00:00:00Z"}
    ),
    sv.PUBLISHER_UNTRUSTED: Case(sv.PUBLISHER_UNTRUSTED, before=_set("publisher.id", "mallory")),
    sv.KEY_UNTRUSTED: Case(sv.KEY_UNTRUSTED, sign={"key": "mallory"}),
    sv.PROVENANCE_UNTRUSTED: Case(
        sv.PROVENANCE_UNTRUSTED, before=_set("publisher.provenance", "https://evil.example/")
    ),
    sv.ARTIFACT_DIGEST_MISMATCH: Case(sv.ARTIFACT_DIGEST_MISMATCH, verify={"artifact_digest": "sha256:" + "00" * 32}),
    sv.CONTRACTS_SPEC_VERSION_MISSING: Case(
        sv.CONTRACTS_SPEC_VERSION_MISSING, before=_drop("compatibility.contractsSpec")
    ),
    sv.CONTRACTS_SPEC_TOO_OLD: Case(
        sv.CONTRACTS_SPEC_TOO_OLD, before=_set("compatibility.contractsSpec", {"minVersion": "1.1.0"})
    ),
    sv.CONTRACTS_SPEC_TOO_NEW: Case(
        sv.CONTRACTS_SPEC_TOO_NEW, before=_set("compatibility.contractsSpec", {"maxVersion": "0.9.0"})
    ),
    sv.CONTROL_PLANE_VERSION_MISSING: Case(
        sv.CONTROL_PLANE_VERSION_MISSING, before=_set("compatibility.controlPlaneFeature", {})
    ),
    sv.CONTROL_PLANE_TOO_OLD: Case(
        sv.CONTROL_PLANE_TOO_OLD, before=_set("compatibility.controlPlaneFeature", {"minVersion": "2.0.0"})
    ),
    sv.CONTROL_PLANE_TOO_NEW: Case(
        sv.CONTROL_PLANE_TOO_NEW,
        before=_set("compatibility.controlPlaneFeature", {"minVersion": "0.1.0", "maxVersion": "0.9.9"}),
    ),
    sv.CAPABILITY_MISSING: Case(sv.CAPABILITY_MISSING, before=_add_capability("control-plane.teleport", "1.0.0")),
}

# Pairs that cannot both be produced: they change the same member, or one rule stands in for the other
# (no signature: nothing to be invalid, expired or untrusted; an unknown publisher has no pinned keys).
_GROUPS = [
    {sv.SIGNATURE_MISSING, sv.SIGNATURE_INVALID},
    {sv.SIGNATURE_MISSING, sv.SIGNATURE_EXPIRED},
    {sv.SIGNATURE_MISSING, sv.KEY_UNTRUSTED},
    {sv.PUBLISHER_UNTRUSTED, sv.KEY_UNTRUSTED},
    {sv.PUBLISHER_UNTRUSTED, sv.PROVENANCE_UNTRUSTED},
    {sv.CONTRACTS_SPEC_VERSION_MISSING, sv.CONTRACTS_SPEC_TOO_OLD, sv.CONTRACTS_SPEC_TOO_NEW},
    {sv.CONTROL_PLANE_VERSION_MISSING, sv.CONTROL_PLANE_TOO_OLD, sv.CONTROL_PLANE_TOO_NEW},
]


def _exclusive(first: str, second: str) -> bool:
    return any({first, second} <= group for group in _GROUPS)


def build(*cases: Case) -> tuple[dict[str, Any], dict[str, Any]]:
    manifest = unsigned_manifest()
    sign_options: dict[str, Any] = {}
    verify_options: dict[str, Any] = {}
    for case in cases:
        if case.before:
            case.before(manifest)
        sign_options.update(case.sign)
        verify_options.update(case.verify)
    document = signed(manifest, **sign_options)
    for case in cases:
        if case.after:
            case.after(document)
    return document, verify_options


def test_every_issue_code_has_a_case():
    assert set(CASES) == set(sv.ISSUE_CODES)
    assert len(sv.ISSUE_CODES) == 16


def test_a_good_manifest_verifies():
    document, _ = build()
    report = verify(document)
    assert report.issues == ()
    assert report.verified
    assert report.signature_verified
    assert report.publisher_trusted
    assert report.compatibility_verified
    assert report.reason is None
    assert report.manifest_digest == manifest_digest(document)
    assert report.manifest_digest.startswith("sha256:")
    assert len(report.manifest_digest) == len("sha256:") + 64
    assert (report.publisher, report.provenance, report.key_id, report.algorithm) == (
        "acme",
        unsigned_manifest()["publisher"]["provenance"],
        "acme-2026",
        "ed25519",
    )


def test_rsa_pss_manifest_verifies():
    document = signed(algorithm="rsa-pss-sha256")
    assert document["signature"]["algorithm"] == "rsa-pss-sha256"
    report = verify(document)
    assert report.issues == ()


@pytest.mark.parametrize("code", sv.ISSUE_CODES)
def test_each_rule_alone_reports_its_code(code):
    document, options = build(CASES[code])
    report = verify(document, **options)
    assert codes(report) == {code}, report.issues
    assert not report.verified
    assert report.reason is not None
    assert code in report.reason


PAIRS = [pair for pair in itertools.combinations(sv.ISSUE_CODES, 2) if not _exclusive(*pair)]


@pytest.mark.parametrize(("first", "second"), PAIRS, ids=["+".join(pair) for pair in PAIRS])
def test_every_compatible_pair_reports_both_codes(first, second):
    document, options = build(CASES[first], CASES[second])
    assert codes(verify(document, **options)) == {first, second}


def test_all_issues_at_once():
    chosen = [
        sv.MANIFEST_INVALID,
        sv.SCHEMA_VERSION_INVALID,
        sv.SIGNATURE_INVALID,
        sv.SIGNATURE_EXPIRED,
        sv.KEY_UNTRUSTED,
        sv.PROVENANCE_UNTRUSTED,
        sv.ARTIFACT_DIGEST_MISMATCH,
        sv.CONTRACTS_SPEC_TOO_OLD,
        sv.CONTROL_PLANE_VERSION_MISSING,
        sv.CAPABILITY_MISSING,
    ]
    document, options = build(*(CASES[code] for code in chosen))
    report = verify(document, **options)
    assert codes(report) == set(chosen)
    assert not report.signature_verified
    assert not report.publisher_trusted
    assert not report.compatibility_verified
    assert report.reason is not None
    assert report.reason.startswith(f"Verification failed with {len(report.issues)} issue(s)")


def test_exclusive_pairs_report_the_dominant_code():
    document, _ = build(CASES[sv.PUBLISHER_UNTRUSTED], CASES[sv.KEY_UNTRUSTED])
    assert codes(verify(document)) == {sv.PUBLISHER_UNTRUSTED}
    document, _ = build(CASES[sv.SIGNATURE_MISSING], CASES[sv.KEY_UNTRUSTED])
    assert codes(verify(document)) == {sv.SIGNATURE_MISSING}


@pytest.mark.parametrize(
    ("code", "signature_verified", "publisher_trusted", "compatibility_verified"),
    [
        (sv.SIGNATURE_MISSING, False, False, True),
        (sv.SIGNATURE_INVALID, False, True, True),
        (sv.SIGNATURE_EXPIRED, True, True, True),
        (sv.PUBLISHER_UNTRUSTED, True, False, True),
        (sv.KEY_UNTRUSTED, True, False, True),
        (sv.PROVENANCE_UNTRUSTED, True, False, True),
        (sv.CAPABILITY_MISSING, True, True, False),
        (sv.CONTROL_PLANE_TOO_OLD, True, True, False),
        (sv.ARTIFACT_DIGEST_MISMATCH, True, True, True),
    ],
)
def test_partial_flags(code, signature_verified, publisher_trusted, compatibility_verified):
    document, options = build(CASES[code])
    report = verify(document, **options)
    assert (report.signature_verified, report.publisher_trusted, report.compatibility_verified) == (
        signature_verified,
        publisher_trusted,
        compatibility_verified,
    )


# --- MANIFEST_INVALID and SIGNATURE_INVALID in detail ------------------------------------------------


@pytest.mark.parametrize(
    ("mutation", "fragment"),
    [
        (_set("skill.key", "acme.other"), "skill.key"),
        (_set("skill.version", "9.9.9"), "skill.version"),
        (_drop("skill.entryPoint"), "skill.entryPoint is required"),
        (_set("skill.description", 42), "skill.description must be a string"),
        (_drop("publisher"), "publisher is required"),
        (_set("publisher.provenance", ""), "publisher.provenance must not be blank"),
        (_set("artifact.files", {"path": "x"}), "artifact.files must be a list"),
        (_set("artifact.files.0", None), "artifact.files"),
        (_drop("artifact"), "artifact is required"),
        (_set("compatibility.contractsSpec", {"minVersion": "one"}), "not a semantic version"),
        (_set("compatibility.contractsSpec", {"minVersion": "1.5.0", "maxVersion": "1.0.0"}), "is above maxVersion"),
        (_set("compatibility.requiredCapabilities", [{"key": "control-plane.core", "version": 1}]), "must be a string"),
        (_drop("compatibility"), "compatibility is required"),
        (_set("compatibility", []), "compatibility must be an object"),
        (_set("metadata", ["not", "an", "object"]), "metadata must be an object"),
        (_set("metadata", {"n": float("nan")}), "NaN"),
    ],
)
def test_manifest_invalid_variants(mutation, fragment):
    manifest = unsigned_manifest()
    if fragment.startswith("artifact.files") and "must be a list" not in fragment:
        manifest["artifact"]["files"] = [None]
    else:
        mutation(manifest)
    try:
        document = signed(manifest)
    except (ValueError, TypeError):  # no canonical form: it cannot be signed either
        document = {**manifest, "signature": signed()["signature"]}
    report = verify(document)
    invalid = [issue.message for issue in report.issues if issue.code == sv.MANIFEST_INVALID]
    assert invalid, report.issues
    assert any(fragment in message for message in invalid), invalid


def test_file_size_and_duplicate_paths():
    manifest = unsigned_manifest()
    manifest["artifact"]["files"] = [
        {"path": "a", "digest": "d", "size": -1},
        {"path": "a", "digest": "d", "size": True},
        {"path": "b", "digest": "d", "size": 1.5},
    ]
    messages = [issue.message for issue in verify(signed(manifest)).issues]
    assert messages == [
        "artifact.files[0].size must be a whole number of bytes, 0 or more.",
        "artifact.files[1].size must be a whole number of bytes, 0 or more.",
        "artifact.files[1].path 'a' appears more than once.",
        "artifact.files[2].size must be a whole number of bytes, 0 or more.",
    ]


def test_not_an_object():
    assert codes(verify(["not", "a", "manifest"])) == {sv.MANIFEST_INVALID}


def _rewrite_signature(**changes: Any) -> dict[str, Any]:
    document = signed()
    document["signature"].update(changes)
    return document


def _small_rsa_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"algorithm": "rsa-sha1"}, "not supported"),
        ({"algorithm": "rsa-pss-sha256"}, "not a key for rsa-pss-sha256"),
        ({"signature": "not base64!"}, "not base64"),
        ({"signature": base64.b64encode(b"short").decode()}, "does not match"),
        ({"publicKey": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"}, "not a PEM SPKI public key"),
        ({"publicKey": "ssh-ed25519 AAAA"}, "not a PEM SPKI public key"),
    ],
)
def test_signature_invalid_variants(changes, fragment):
    report = verify(_rewrite_signature(**changes))
    (issue,) = [issue for issue in report.issues if issue.code == sv.SIGNATURE_INVALID]
    assert fragment in issue.message
    assert not report.signature_verified


def test_small_rsa_keys_are_refused():
    report = verify(_rewrite_signature(algorithm="rsa-pss-sha256", publicKey=_small_rsa_key()))
    (issue,) = [issue for issue in report.issues if issue.code == sv.SIGNATURE_INVALID]
    assert "1024 bits" in issue.message


def test_another_publishers_valid_signature_is_not_trusted():
    document = signed(key="mallory")
    report = verify(document)
    assert report.signature_verified
    assert codes(report) == {sv.KEY_UNTRUSTED}


def test_pinned_key_ids():
    assert codes(verify(signed(), trust=policy(key_ids=["acme-2026"]))) == set()
    assert codes(verify(signed(key_id="acme-old"), trust=policy(key_ids=["acme-2026"]))) == {sv.KEY_UNTRUSTED}
    assert codes(verify(signed(key_id=None), trust=policy(key_ids=["acme-2026"]))) == {sv.KEY_UNTRUSTED}


def test_expired_signatures_allowed_by_policy():
    document, _ = build(CASES[sv.SIGNATURE_EXPIRED])
    assert codes(verify(document, trust=policy(allow_expired=True))) == set()


def test_expiry_instant_and_unreadable_timestamps():
    assert codes(verify(signed(expires_at=NOW.isoformat()))) == {sv.SIGNATURE_EXPIRED}
    assert codes(verify(signed(expires_at="2026-06-01T12:00:01+00:00"))) == set()
    assert codes(verify(signed(expires_at="next year"))) == {sv.MANIFEST_INVALID}
    assert codes(verify(signed(expires_at="2099-01-01T00:00:00"))) == {sv.MANIFEST_INVALID}
    assert codes(verify(signed(issued_at="2099-02-01T00:00:00Z"))) == {sv.MANIFEST_INVALID}
    assert codes(verify(signed(issued_at=None, expires_at=None, key_id=None))) == set()


def test_no_provenance_prefixes_means_any_provenance():
    manifest = unsigned_manifest()
    manifest["publisher"]["provenance"] = "https://elsewhere.example/build/1"
    assert codes(verify(signed(manifest), trust=policy(prefixes=[]))) == set()


@pytest.mark.parametrize(
    ("key", "version", "missing"),
    [
        ("control-plane.core", "1.0.0", False),
        ("control-plane.skill-registry", "1.0.0", False),
        ("control-plane.core", "1.1.0", True),
        ("control-plane.core", "2.0.0", True),
        ("control-plane.core", "0.9.0", True),
        ("control-plane.core", "1.0.0-rc.1", False),
        ("platform.control-plane", "1.0.0", True),
        ("control-plane.teleport", "1.0.0", True),
    ],
)
def test_capabilities_against_what_this_server_provides(key, version, missing):
    manifest = unsigned_manifest()
    manifest["compatibility"]["requiredCapabilities"] = [{"key": key, "version": version}]
    assert codes(verify(signed(manifest))) == ({sv.CAPABILITY_MISSING} if missing else set())


@pytest.mark.parametrize(
    ("bounds", "expected"),
    [
        ({"minVersion": "1.0.0", "maxVersion": "1.0.0"}, set()),
        ({"minVersion": "1.0.0-alpha"}, set()),
        ({"minVersion": "1.0.1-alpha"}, {sv.CONTROL_PLANE_TOO_OLD}),
        ({"maxVersion": "1.0.0-rc.1"}, {sv.CONTROL_PLANE_TOO_NEW}),
        ({"maxVersion": "1.0.0+build.7"}, set()),
        ({"minVersion": None, "maxVersion": None}, {sv.CONTROL_PLANE_VERSION_MISSING}),
    ],
)
def test_version_ranges(bounds, expected):
    manifest = unsigned_manifest()
    manifest["compatibility"]["controlPlaneFeature"] = bounds
    assert codes(verify(signed(manifest))) == expected


def test_without_compatibility_it_is_invalid_and_both_ranges_are_missing():
    manifest = unsigned_manifest()
    del manifest["compatibility"]
    report = verify(signed(manifest))
    assert codes(report) == {sv.MANIFEST_INVALID, sv.CONTRACTS_SPEC_VERSION_MISSING, sv.CONTROL_PLANE_VERSION_MISSING}
    assert "compatibility is required." in [issue.message for issue in report.issues]
    assert not report.compatibility_verified


@pytest.mark.parametrize(
    ("key", "missing"),
    [("control-plane.core", False), ("control-plane.skill-registry", False), ("control-plane.teleport", True)],
)
def test_a_capability_without_version_needs_only_the_capability(key, missing):
    manifest = unsigned_manifest()
    manifest["compatibility"]["requiredCapabilities"] = [{"key": key}]
    report = verify(signed(manifest))
    assert codes(report) == ({sv.CAPABILITY_MISSING} if missing else set())
    if missing:
        assert report.issues[0].message == f"Capability {key} is required; this server does not provide it."


def test_keys_of_any_script_are_signed_and_verified():
    manifest = unsigned_manifest()
    manifest["metadata"] = {"clé": 1, "Größe": {"ß": True, "ss": False}, "名前": "x", "😀": [{"Я": None, "я": 0}]}
    assert codes(verify(signed(manifest))) == set()


def test_semver_precedence():
    ordered = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11"]
    ordered += ["1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "2.0.0"]
    parsed = [sv.SemVer.parse(text) for text in ordered]
    assert parsed == sorted(parsed)
    assert len(set(parsed)) == len(parsed)
    for bad in ("1", "1.0", "01.0.0", "1.0.0-", "v1.0.0", "1.0.0-01"):
        with pytest.raises(ValueError, match="semantic version"):
            sv.SemVer.parse(bad)


# --- tampering ------------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["ed25519", "rsa-pss-sha256"])
def test_a_flipped_bit_in_any_byte_of_the_payload_or_signature_fails(algorithm):
    document = signed(algorithm=algorithm)
    payload = signing_payload(document)
    key = load_public_key(document["signature"]["publicKey"])
    raw = base64.b64decode(document["signature"]["signature"])
    assert verify_signature(algorithm, key, raw, payload)
    for index in range(len(payload)):
        tampered = bytearray(payload)
        tampered[index] ^= 0x01
        assert not verify_signature(algorithm, key, raw, bytes(tampered)), index
    for index in range(len(raw)):
        forged = bytearray(raw)
        forged[index] ^= 0x80
        assert not verify_signature(algorithm, key, bytes(forged), payload), index


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    if isinstance(value, dict):
        return [leaf for key, item in value.items() for leaf in _leaves(item, (*path, key))]
    if isinstance(value, list):
        return [leaf for index, item in enumerate(value) for leaf in _leaves(item, (*path, index))]
    return [(path, value)]


def _changed(value: Any) -> list[Any]:
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int | float):
        return [value + 1]
    if value is None:
        return [0]
    assert isinstance(value, str)
    return [value[:index] + chr(ord(char) ^ 0x01) + value[index + 1 :] for index, char in enumerate(value)]


def test_changing_any_character_of_any_signed_member_fails_verification():
    document = signed()
    assert verify(document).verified
    checked = 0
    for path, value in _leaves({k: v for k, v in document.items() if k != "signature"}):
        for replacement in _changed(value):
            tampered = copy.deepcopy(document)
            target = tampered
            for part in path[:-1]:
                target = target[part]
            target[path[-1]] = replacement
            report = verify(tampered)
            assert sv.SIGNATURE_INVALID in codes(report), (path, replacement)
            checked += 1
    assert checked > 300


def test_renaming_or_adding_or_removing_a_member_fails_verification():
    changes: tuple[Callable[[dict[str, Any]], object], ...] = (
        lambda d: d["skill"].update(entry_point=d["skill"].pop("entryPoint")),
        lambda d: d["metadata"].update(extra=None),
        lambda d: d["metadata"].pop("Zeta"),
        lambda d: d["artifact"]["files"].append({"path": "evil.js", "digest": "sha256:00", "size": 1}),
        lambda d: d["compatibility"]["requiredCapabilities"].reverse() or d["compatibility"].pop("contractsSpec"),
    )
    for change in changes:
        document = signed()
        change(document)
        assert sv.SIGNATURE_INVALID in codes(verify(document))


def test_the_signature_member_is_not_signed_but_its_key_is_checked():
    document = signed()
    document["signature"]["metadata"] = {"note": "added later"}
    assert verify(document).verified
    assert manifest_digest(document) == manifest_digest(signed())


def _same_key(first: str, second: Any) -> bool:
    try:
        return key_fingerprint(load_public_key(first)) == key_fingerprint(load_public_key(second))
    except (ValueError, AttributeError):
        return False


def _only_unsigned_labels_differ(parsed: Any, original: dict[str, Any]) -> bool:
    """By the upstream format the `signature` member is not signed: its keyId, issuedAt, expiresAt and
    metadata are labels (checked against the policy, not the signature), and a PEM may change its
    framing without changing the key."""
    if not isinstance(parsed, dict) or not isinstance(parsed.get("signature"), dict):
        return False
    rest = {key: value for key, value in parsed.items() if key != "signature"}
    if rest != {key: value for key, value in original.items() if key != "signature"}:
        return False
    mine, theirs = parsed["signature"], original["signature"]
    return (
        mine.get("algorithm") == theirs["algorithm"]
        and mine.get("signature") == theirs["signature"]
        and _same_key(theirs["publicKey"], mine.get("publicKey"))
    )


@pytest.mark.parametrize("algorithm", ["ed25519", "rsa-pss-sha256"])
def test_a_tampered_byte_anywhere_in_the_signed_json_file_fails(algorithm):
    """Change every character of the manifest file as a publisher ships it: whatever still parses as
    a different document must not verify (unless only the unsigned labels of `signature` changed)."""
    document = signed(unsigned_manifest(), algorithm=algorithm)
    text = json.dumps(document, indent=2, ensure_ascii=False)
    original = json.loads(text)
    refused = labels = 0
    for index, char in enumerate(text):
        candidate = text[:index] + chr(ord(char) ^ 0x01) + text[index + 1 :]
        try:
            parsed = json.loads(candidate)
        except ValueError:
            continue
        if parsed == original:
            continue  # whitespace
        if _only_unsigned_labels_differ(parsed, original):
            labels += 1
            continue
        assert not verify(parsed).verified, (index, candidate[max(0, index - 20) : index + 20])
        refused += 1
    assert refused > 700
    assert labels < 200  # keyId, issuedAt, expiresAt and the PEM's framing only


def test_labels_of_the_signature_member_are_checked_by_the_policy():
    pinned = policy(key_ids=["acme-2026"])
    document = signed()
    document["signature"]["keyId"] = "acme-2027"
    assert codes(verify(document, trust=pinned)) == {sv.KEY_UNTRUSTED}
    document = signed()
    document["signature"]["expiresAt"] = "2020-01-01T00:00:00Z"
    assert codes(verify(document)) == {sv.SIGNATURE_EXPIRED, sv.MANIFEST_INVALID}  # and before issuedAt


# --- trust policy ---------------------------------------------------------------------------------


def test_policy_reads_camel_case_json():
    trust = TrustPolicy.parse(
        json.dumps(
            {
                "trustedPublishers": [
                    {"id": "acme", "keyIds": ["k1"], "publicKeys": [key_pair("acme")[1]], "provenancePrefixes": ["x"]}
                ],
                "allowExpiredSignatures": True,
            }
        )
    )
    (publisher,) = trust.trusted_publishers
    assert (publisher.id, publisher.key_ids, publisher.provenance_prefixes) == ("acme", ("k1",), ("x",))
    assert trust.allow_expired_signatures
    assert TrustPolicy.parse("{}") == TrustPolicy()


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        ("not json", "invalid skill trust policy"),
        ('{"trustedPublishers": [{"id": "acme", "keyIds": ["k1"]}]}', "must pin at least one public key"),
        ('{"trustedPublishers": [{"id": "acme", "publicKeys": ["nope"]}]}', "publicKeys[0]: not a PEM SPKI"),
        ('{"trustedPublishers": [], "allowExpired": true}', "allowExpired"),
        ('{"trustedPublishers": [{"id": ""}]}', "trustedPublishers.0.id"),
    ],
)
def test_bad_policies_are_refused(document, fragment):
    with pytest.raises(TrustPolicyError) as excinfo:
        TrustPolicy.parse(document)
    assert fragment in str(excinfo.value)


def test_duplicate_publishers_are_refused():
    publisher = {"id": "acme", "publicKeys": [key_pair("acme")[1]]}
    with pytest.raises(TrustPolicyError, match="more than once"):
        TrustPolicy.parse(json.dumps({"trustedPublishers": [publisher, publisher]}))


def test_an_empty_policy_trusts_nobody():
    assert codes(verify(signed(), trust=TrustPolicy())) == {sv.PUBLISHER_UNTRUSTED}


def test_pinned_keys_compare_by_key_not_by_pem_text():
    _, public = key_pair("acme")
    reflowed = public.replace("\n", "\r\n")
    trust = TrustPolicy.parse(json.dumps({"trustedPublishers": [{"id": "acme", "publicKeys": [reflowed]}]}))
    assert verify(signed(), trust=trust).verified


def test_generated_keys_sign_and_verify():
    for algorithm in ("ed25519", "rsa-pss-sha256"):
        private, public = generate_key(algorithm)
        document = sign_manifest(unsigned_manifest(), private.encode(), key_id="k")
        assert document["signature"]["algorithm"] == algorithm
        assert document["signature"]["publicKey"] == public
        trust = TrustPolicy.parse(json.dumps({"trustedPublishers": [{"id": "acme", "publicKeys": [public]}]}))
        assert verify(document, trust=trust).verified
