"""Skill manifest verification: signature, trust policy, compatibility (pure: no I/O, no clock).

The signed payload is the manifest without its `signature` member in the canonical form of
`canonical_form` (what the original TypeScript implementation signs). Algorithms: `ed25519`, and
`rsa-pss-sha256` (PSS, MGF1-SHA-256, salt length 32); the signature is base64, the public key a PEM
SPKI key. `manifestDigest` is `sha256:<hex>` of the same canonical bytes, so re-signing a manifest does
not change its digest.

`verify_manifest` runs every rule and reports every issue at once; each rule has its code of
CONTRACTS.md ("Skill manifest"):

- MANIFEST_INVALID: a required member (`compatibility` among them) is missing or of the wrong type; a
  blank or malformed value; a skill key or version that is not the one being installed; an unreadable
  timestamp or version range; a value with no canonical form (a number JSON cannot hold). Object keys
  may use any of Unicode: they are ordered by ICU as JavaScript's `localeCompare` orders them (canonical_form.py).
- SCHEMA_VERSION_INVALID: `schemaVersion` is not `1.0.0`.
- SIGNATURE_MISSING: no `signature`.
- SIGNATURE_INVALID: unsupported algorithm, unreadable or wrong-type public key, RSA under 2048 bits,
  bad base64, or the signature does not match the canonical payload. When it does not match and the
  manifest has keys whose order another ICU version may place differently (code points newer than this
  ICU's Unicode), the message names them: a signer with a newer ICU may have ordered them otherwise.
- SIGNATURE_EXPIRED: `expiresAt` has passed (unless the policy allows expired signatures).
- PUBLISHER_UNTRUSTED: `publisher.id` is not a trusted publisher of the policy.
- KEY_UNTRUSTED: the signing public key is not pinned for that publisher (or, when the publisher pins
  key ids, the `keyId` is not one of them).
- PROVENANCE_UNTRUSTED: the publisher pins provenance prefixes and `publisher.provenance` starts with
  none of them.
- ARTIFACT_DIGEST_MISMATCH: the artifact digest given with the request differs from `artifact.digest`.
- CONTRACTS_SPEC_VERSION_MISSING / CONTROL_PLANE_VERSION_MISSING: the range is absent or has no bound.
- CONTRACTS_SPEC_TOO_OLD / CONTROL_PLANE_TOO_OLD: this server's version is below `minVersion`.
- CONTRACTS_SPEC_TOO_NEW / CONTROL_PLANE_TOO_NEW: this server's version is above `maxVersion`.
- CAPABILITY_MISSING: a required capability is not provided in a compatible version (same major
  version, at least the version asked for; without a version, any version).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from app.services.kernel.json_writer import CanonicalizationError
from app.services.skills.canonical_form import ICU_VERSION, UNICODE_VERSION, version_sensitive_keys
from app.services.skills.keys import ALGORITHMS, ED25519, MIN_RSA_BITS, PublicKey, key_fingerprint, load_public_key
from app.services.skills.signing import signing_payload, verify_signature
from app.services.skills.trust import TrustedPublisher, TrustPolicy

SCHEMA_VERSION = "1.0.0"

MANIFEST_INVALID = "MANIFEST_INVALID"
SCHEMA_VERSION_INVALID = "SCHEMA_VERSION_INVALID"
SIGNATURE_MISSING = "SIGNATURE_MISSING"
SIGNATURE_INVALID = "SIGNATURE_INVALID"
SIGNATURE_EXPIRED = "SIGNATURE_EXPIRED"
PUBLISHER_UNTRUSTED = "PUBLISHER_UNTRUSTED"
KEY_UNTRUSTED = "KEY_UNTRUSTED"
PROVENANCE_UNTRUSTED = "PROVENANCE_UNTRUSTED"
ARTIFACT_DIGEST_MISMATCH = "ARTIFACT_DIGEST_MISMATCH"
CONTRACTS_SPEC_VERSION_MISSING = "CONTRACTS_SPEC_VERSION_MISSING"
CONTRACTS_SPEC_TOO_OLD = "CONTRACTS_SPEC_TOO_OLD"
CONTRACTS_SPEC_TOO_NEW = "CONTRACTS_SPEC_TOO_NEW"
CONTROL_PLANE_VERSION_MISSING = "CONTROL_PLANE_VERSION_MISSING"
CONTROL_PLANE_TOO_OLD = "CONTROL_PLANE_TOO_OLD"
CONTROL_PLANE_TOO_NEW = "CONTROL_PLANE_TOO_NEW"
CAPABILITY_MISSING = "CAPABILITY_MISSING"

ISSUE_CODES = (
    MANIFEST_INVALID,
    SCHEMA_VERSION_INVALID,
    SIGNATURE_MISSING,
    SIGNATURE_INVALID,
    SIGNATURE_EXPIRED,
    PUBLISHER_UNTRUSTED,
    KEY_UNTRUSTED,
    PROVENANCE_UNTRUSTED,
    ARTIFACT_DIGEST_MISMATCH,
    CONTRACTS_SPEC_VERSION_MISSING,
    CONTRACTS_SPEC_TOO_OLD,
    CONTRACTS_SPEC_TOO_NEW,
    CONTROL_PLANE_VERSION_MISSING,
    CONTROL_PLANE_TOO_OLD,
    CONTROL_PLANE_TOO_NEW,
    CAPABILITY_MISSING,
)
_TRUST_CODES = frozenset({PUBLISHER_UNTRUSTED, KEY_UNTRUSTED, PROVENANCE_UNTRUSTED})
_COMPATIBILITY_CODES = frozenset(
    {
        CONTRACTS_SPEC_VERSION_MISSING,
        CONTRACTS_SPEC_TOO_OLD,
        CONTRACTS_SPEC_TOO_NEW,
        CONTROL_PLANE_VERSION_MISSING,
        CONTROL_PLANE_TOO_OLD,
        CONTROL_PLANE_TOO_NEW,
        CAPABILITY_MISSING,
    }
)


@dataclass(frozen=True, slots=True)
class ServerFacts:
    contracts_spec_version: str
    control_plane_version: str
    """Version of the feature `platform.control-plane`."""
    capabilities: Mapping[str, str]
    """Capability key -> version this server provides."""


_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?"
    r"(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$"
)


@dataclass(frozen=True, slots=True, order=True)
class SemVer:
    major: int
    minor: int
    patch: int
    release: tuple[tuple[int, int | str], ...]
    """Precedence of the pre-release part: a release sorts after every pre-release of it."""

    @classmethod
    def parse(cls, text: str) -> SemVer:
        match = _SEMVER.match(text)
        if match is None:
            raise ValueError(f"{text!r} is not a semantic version (MAJOR.MINOR.PATCH)")
        pre = match.group(4)
        release: tuple[tuple[int, int | str], ...] = (
            tuple((0, int(part)) if part.isdigit() else (1, part) for part in pre.split(".")) if pre else ((2, 0),)
        )
        return cls(int(match.group(1)), int(match.group(2)), int(match.group(3)), release)


@dataclass(frozen=True, slots=True)
class Issue:
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class VerificationReport:
    issues: tuple[Issue, ...]
    signature_verified: bool
    manifest_digest: str | None
    publisher: str | None = None
    provenance: str | None = None
    key_id: str | None = None
    algorithm: str | None = None
    codes: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "codes", frozenset(issue.code for issue in self.issues))

    @property
    def verified(self) -> bool:
        return not self.issues

    @property
    def publisher_trusted(self) -> bool:
        """The publisher is trusted, and so is the key it signed with (valid or not: see signature_verified)."""
        return self.publisher is not None and not (self.codes & _TRUST_CODES) and SIGNATURE_MISSING not in self.codes

    @property
    def compatibility_verified(self) -> bool:
        return not (self.codes & _COMPATIBILITY_CODES) and not any(
            issue.code == MANIFEST_INVALID and issue.message.startswith("compatibility") for issue in self.issues
        )

    @property
    def reason(self) -> str | None:
        if not self.issues:
            return None
        codes = ", ".join(dict.fromkeys(issue.code for issue in self.issues))
        return f"Verification failed with {len(self.issues)} issue(s): {codes}. {self.issues[0].message}"


def parse_instant(text: str) -> datetime:
    """ISO 8601 with a UTC offset (`2026-05-01T12:00:00.000Z`); ValueError otherwise."""
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError("no UTC offset")
    return value


class _Checks:
    """Collects issues; small readers that report MANIFEST_INVALID instead of raising."""

    def __init__(self) -> None:
        self.issues: list[Issue] = []

    def add(self, code: str, message: str) -> None:
        self.issues.append(Issue(code, message))

    def invalid(self, message: str) -> None:
        self.add(MANIFEST_INVALID, message)

    def _member(
        self, parent: Mapping[str, Any], name: str, path: str, kind: type, label: str, *, required: bool
    ) -> Any:
        """The member when present and of `kind`; otherwise None, with the issue when it matters."""
        value = parent.get(name)
        if value is None:
            if required:
                self.invalid(f"{path} is required.")
            return None
        if not isinstance(value, kind):
            self.invalid(f"{path} must be {label}.")
            return None
        return value

    def obj(self, parent: Mapping[str, Any], name: str, path: str, *, required: bool) -> Mapping[str, Any] | None:
        value: Mapping[str, Any] | None = self._member(parent, name, path, Mapping, "an object", required=required)
        return value

    def text(self, parent: Mapping[str, Any], name: str, path: str, *, required: bool) -> str | None:
        value: str | None = self._member(parent, name, path, str, "a string", required=required)
        if value is None:
            return None
        if required and not value.strip():
            self.invalid(f"{path} must not be blank.")
            return None
        return value


def verify_manifest(  # noqa: PLR0913 - the manifest and, keyword-only, everything it is checked against
    manifest: Any,
    *,
    skill_key: str,
    version: str,
    artifact_digest: str,
    policy: TrustPolicy,
    server: ServerFacts,
    now: datetime,
) -> VerificationReport:
    """Every rule of the module docstring, every issue at once."""
    checks = _Checks()
    if not isinstance(manifest, Mapping):
        checks.invalid("The manifest must be a JSON object.")
        return VerificationReport(tuple(checks.issues), signature_verified=False, manifest_digest=None)

    schema_version = manifest.get("schemaVersion")
    if schema_version != SCHEMA_VERSION:
        checks.add(
            SCHEMA_VERSION_INVALID, f"schemaVersion is {schema_version!r}; this server reads {SCHEMA_VERSION!r}."
        )

    skill = checks.obj(manifest, "skill", "skill", required=True) or {}
    key = checks.text(skill, "key", "skill.key", required=bool(skill))
    skill_version = checks.text(skill, "version", "skill.version", required=bool(skill))
    checks.text(skill, "entryPoint", "skill.entryPoint", required=bool(skill))
    checks.text(skill, "description", "skill.description", required=False)
    if key is not None and key != skill_key:
        checks.invalid(f"skill.key {key!r} is not the skill being installed ({skill_key!r}).")
    if skill_version is not None and skill_version != version:
        checks.invalid(f"skill.version {skill_version!r} is not the version being installed ({version!r}).")

    publisher_part = checks.obj(manifest, "publisher", "publisher", required=True) or {}
    publisher_id = checks.text(publisher_part, "id", "publisher.id", required=bool(publisher_part))
    provenance = checks.text(publisher_part, "provenance", "publisher.provenance", required=bool(publisher_part))
    checks.text(publisher_part, "repositoryUrl", "publisher.repositoryUrl", required=False)

    _check_artifact(checks, manifest, artifact_digest)
    _check_compatibility(checks, manifest, server)
    if manifest.get("metadata") is not None and not isinstance(manifest.get("metadata"), Mapping):
        checks.invalid("metadata must be an object.")

    digest: str | None = None
    payload: bytes | None = None
    try:
        payload = signing_payload(manifest)
        digest = "sha256:" + hashlib.sha256(payload).hexdigest()
    except CanonicalizationError as error:
        checks.invalid(f"The manifest has no canonical form: {error}.")

    signature_part = checks.obj(manifest, "signature", "signature", required=False)
    signature: _Signature | None = None
    if signature_part is None:
        if "signature" not in manifest or manifest.get("signature") is None:
            checks.add(SIGNATURE_MISSING, "The manifest is not signed.")
    else:
        unsigned = {name: value for name, value in manifest.items() if name != "signature"}
        signature = _check_signature(checks, signature_part, payload, policy, now, manifest_without_signature=unsigned)

    _check_trust(checks, policy, publisher_id, provenance, signature)
    return VerificationReport(
        tuple(checks.issues),
        signature_verified=signature is not None and signature.verified,
        manifest_digest=digest,
        publisher=publisher_id,
        provenance=provenance,
        key_id=signature.key_id if signature else None,
        algorithm=signature.algorithm if signature else None,
    )


def _check_artifact(checks: _Checks, manifest: Mapping[str, Any], artifact_digest: str) -> None:
    artifact = checks.obj(manifest, "artifact", "artifact", required=True)
    if artifact is None:
        return
    digest = checks.text(artifact, "digest", "artifact.digest", required=True)
    if digest is not None and digest != artifact_digest:
        checks.add(
            ARTIFACT_DIGEST_MISMATCH,
            f"The artifact digest {artifact_digest!r} is not the manifest's artifact.digest {digest!r}.",
        )
    files = artifact.get("files")
    if files is None:
        return
    if not isinstance(files, list):
        checks.invalid("artifact.files must be a list.")
        return
    seen: set[str] = set()
    for index, item in enumerate(files):
        path = f"artifact.files[{index}]"
        if not isinstance(item, Mapping):
            checks.invalid(f"{path} must be an object.")
            continue
        file_path = checks.text(item, "path", f"{path}.path", required=True)
        checks.text(item, "digest", f"{path}.digest", required=True)
        size = item.get("size")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            checks.invalid(f"{path}.size must be a whole number of bytes, 0 or more.")
        if file_path is not None:
            if file_path in seen:
                checks.invalid(f"{path}.path {file_path!r} appears more than once.")
            seen.add(file_path)


def _check_compatibility(checks: _Checks, manifest: Mapping[str, Any], server: ServerFacts) -> None:
    compatibility = checks.obj(manifest, "compatibility", "compatibility", required=True) or {}
    ranges = (
        ("contractsSpec", "contracts spec", server.contracts_spec_version, "CONTRACTS_SPEC"),
        ("controlPlaneFeature", "control plane", server.control_plane_version, "CONTROL_PLANE"),
    )
    for name, label, current, prefix in ranges:
        path = f"compatibility.{name}"
        bounds = checks.obj(compatibility, name, path, required=False) or {}
        low_text = checks.text(bounds, "minVersion", f"{path}.minVersion", required=False)
        high_text = checks.text(bounds, "maxVersion", f"{path}.maxVersion", required=False)
        missing_code = CONTRACTS_SPEC_VERSION_MISSING if prefix == "CONTRACTS_SPEC" else CONTROL_PLANE_VERSION_MISSING
        if low_text is None and high_text is None:
            checks.add(missing_code, f"{path} declares no minVersion or maxVersion.")
            continue
        low = _version(checks, low_text, f"{path}.minVersion")
        high = _version(checks, high_text, f"{path}.maxVersion")
        if low is not None and high is not None and low > high:
            checks.invalid(f"{path}.minVersion {low_text} is above maxVersion {high_text}.")
            continue
        server_version = SemVer.parse(current)
        if low is not None and server_version < low:
            checks.add(f"{prefix}_TOO_OLD", f"This server's {label} version {current} is below minimum {low_text}.")
        if high is not None and server_version > high:
            checks.add(
                f"{prefix}_TOO_NEW", f"This server's {label} version {current} is above the maximum {high_text}."
            )

    _check_capabilities(checks, compatibility.get("requiredCapabilities"), server)


def _check_capabilities(checks: _Checks, required: Any, server: ServerFacts) -> None:
    if required is None:
        return
    if not isinstance(required, list):
        checks.invalid("compatibility.requiredCapabilities must be a list.")
        return
    for index, item in enumerate(required):
        path = f"compatibility.requiredCapabilities[{index}]"
        if not isinstance(item, Mapping):
            checks.invalid(f"{path} must be an object.")
            continue
        capability = checks.text(item, "key", f"{path}.key", required=True)
        wanted_text = checks.text(item, "version", f"{path}.version", required=False)
        wanted = _version(checks, wanted_text, f"{path}.version")
        if capability is None or (wanted_text is not None and wanted is None):
            continue
        provided_text = server.capabilities.get(capability)
        provided = SemVer.parse(provided_text) if provided_text is not None else None
        if wanted is None:  # no version asked: any version this server provides will do
            if provided is None:
                checks.add(CAPABILITY_MISSING, f"Capability {capability} is required; this server does not provide it.")
            continue
        if provided is None or provided.major != wanted.major or provided < wanted:
            have = f"provides {provided_text}" if provided_text else "does not provide it"
            checks.add(CAPABILITY_MISSING, f"Capability {capability} {wanted_text} is required; this server {have}.")


def _version(checks: _Checks, text: str | None, path: str) -> SemVer | None:
    if text is None:
        return None
    try:
        return SemVer.parse(text)
    except ValueError as error:
        checks.invalid(f"{path}: {error}.")
        return None


@dataclass(frozen=True, slots=True)
class _Signature:
    """What the manifest's `signature` member says, as far as it could be read."""

    part: Mapping[str, Any]
    key: PublicKey | None
    """The signing key, only when the signature verified with it."""
    verified: bool
    key_id: str | None
    algorithm: str | None


def _icu_hint(unsigned: Mapping[str, Any]) -> str:
    sensitive = version_sensitive_keys(unsigned)
    if not sensitive:
        return ""
    shown = ", ".join(repr(key) for key in sensitive[:5]) + (", …" if len(sensitive) > 5 else "")
    return (
        f" (keys {shown} have code points whose collation order ICU {ICU_VERSION} (Unicode {UNICODE_VERSION})"
        " may not share with the signer's ICU: a newer ICU may have ordered them differently)"
    )


def _check_signature(
    checks: _Checks,
    part: Mapping[str, Any],
    payload: bytes | None,
    policy: TrustPolicy,
    now: datetime,
    *,
    manifest_without_signature: Mapping[str, Any],
) -> _Signature:
    algorithm = checks.text(part, "algorithm", "signature.algorithm", required=True)
    signature_text = checks.text(part, "signature", "signature.signature", required=True)
    key_text = checks.text(part, "publicKey", "signature.publicKey", required=True)
    key_id = checks.text(part, "keyId", "signature.keyId", required=False)
    issued_text = checks.text(part, "issuedAt", "signature.issuedAt", required=False)
    expires_text = checks.text(part, "expiresAt", "signature.expiresAt", required=False)
    if part.get("metadata") is not None and not isinstance(part.get("metadata"), Mapping):
        checks.invalid("signature.metadata must be an object.")

    key, problems = _signing_key(algorithm, key_text)
    raw: bytes | None = None
    if signature_text is not None:
        try:
            raw = base64.b64decode(signature_text, validate=True)
        except (binascii.Error, ValueError):
            problems.append("signature is not base64")
    verified = False
    if not problems and None not in (algorithm, key, raw, payload):
        assert algorithm is not None
        assert key is not None
        assert raw is not None
        assert payload is not None
        verified = verify_signature(algorithm, key, raw, payload)
        if not verified:
            problems.append("the signature does not match the manifest" + _icu_hint(manifest_without_signature))
    if problems:
        checks.add(SIGNATURE_INVALID, "The signature is invalid: " + "; ".join(problems) + ".")

    _check_validity(checks, issued_text, expires_text, policy, now)
    return _Signature(part, key if verified else None, verified, key_id, algorithm)


def _signing_key(algorithm: str | None, key_text: str | None) -> tuple[PublicKey | None, list[str]]:
    """The public key the signature names, and what is wrong with it or with the algorithm."""
    problems: list[str] = []
    if algorithm is not None and algorithm not in ALGORITHMS:
        problems.append(f"algorithm {algorithm!r} is not supported (use {' or '.join(ALGORITHMS)})")
    key: PublicKey | None = None
    if key_text is not None:
        try:
            key = load_public_key(key_text)
        except ValueError as error:
            problems.append(f"publicKey: {error}")
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
        problems.append(f"the RSA key has {key.key_size} bits; at least {MIN_RSA_BITS} are required")
    if key is not None and algorithm in ALGORITHMS:
        expected = ed25519.Ed25519PublicKey if algorithm == ED25519 else rsa.RSAPublicKey
        if not isinstance(key, expected):
            problems.append(f"publicKey is not a key for {algorithm}")
    return key, problems


def _check_validity(
    checks: _Checks, issued_text: str | None, expires_text: str | None, policy: TrustPolicy, now: datetime
) -> None:
    issued = _instant(checks, issued_text, "signature.issuedAt")
    expires = _instant(checks, expires_text, "signature.expiresAt")
    if issued is not None and expires is not None and issued > expires:
        checks.invalid("signature.issuedAt is after signature.expiresAt.")
    if expires is not None and expires <= now and not policy.allow_expired_signatures:
        checks.add(SIGNATURE_EXPIRED, f"The signature expired at {expires_text}.")


def _instant(checks: _Checks, text: str | None, path: str) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_instant(text)
    except ValueError:
        checks.invalid(f"{path} {text!r} is not an ISO 8601 instant with a UTC offset.")
        return None


def _check_trust(
    checks: _Checks,
    policy: TrustPolicy,
    publisher_id: str | None,
    provenance: str | None,
    signature: _Signature | None,
) -> None:
    if publisher_id is None:
        return
    trusted = policy.publisher(publisher_id)
    if trusted is None:
        checks.add(PUBLISHER_UNTRUSTED, f"Publisher {publisher_id!r} is not a trusted publisher.")
        return
    if signature is not None:
        reasons = _key_reasons(trusted, signature.part, signature.key, signature.key_id)
        if reasons:
            checks.add(KEY_UNTRUSTED, f"The signing key is not trusted for {publisher_id!r}: {'; '.join(reasons)}.")
    prefixes = trusted.provenance_prefixes
    if provenance is not None and prefixes and not any(provenance.startswith(prefix) for prefix in prefixes):
        checks.add(
            PROVENANCE_UNTRUSTED,
            f"Provenance {provenance!r} is not under a trusted prefix of {publisher_id!r}.",
        )


def _key_reasons(
    trusted: TrustedPublisher, part: Mapping[str, Any], signing_key: PublicKey | None, key_id: str | None
) -> list[str]:
    reasons: list[str] = []
    key = signing_key
    if key is None and isinstance(part.get("publicKey"), str):
        try:
            key = load_public_key(part["publicKey"])
        except ValueError:
            key = None
    if key is None:
        reasons.append("no readable public key")
    elif key_fingerprint(key) not in trusted.fingerprints():
        reasons.append("its public key is not pinned")
    if trusted.key_ids and key_id not in trusted.key_ids:
        reasons.append(f"key id {key_id!r} is not pinned" if key_id is not None else "the signature names no keyId")
    return reasons
