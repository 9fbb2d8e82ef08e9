"""Skill manifests, keys and trust policies the skill-registry tests share (unit and integration)."""

from __future__ import annotations

import copy
import functools
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from app.services.skills.keys import generate_key
from app.services.skills.signing import sign_manifest
from app.services.skills.trust import TrustPolicy

VECTORS_FILE = Path(__file__).resolve().parent / "vectors" / "skill_vectors.json"
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SKILL_KEY = "acme.summarize"
VERSION = "1.2.0"
ARTIFACT_DIGEST = "sha256:" + "ab" * 32
PROVENANCE = "https://github.com/acme/skills/actions/runs/42"


KeyAlgorithm = Literal["ed25519", "rsa-pss-sha256"]


@functools.cache
def vectors() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(VECTORS_FILE.read_text())
    return loaded


def key_pair(name: str, algorithm: KeyAlgorithm = "ed25519") -> tuple[str, str]:
    """(private PEM, public PEM), one per name, algorithm and test session."""
    return _key_pair(name, algorithm)


@functools.cache
def _key_pair(name: str, algorithm: KeyAlgorithm) -> tuple[str, str]:
    return generate_key(algorithm)


def unsigned_manifest(key: str = SKILL_KEY, version: str = VERSION) -> dict[str, Any]:
    return {
        "schemaVersion": "1.0.0",
        "skill": {"key": key, "version": version, "entryPoint": "dist/index.js", "description": "Summarize text."},
        "publisher": {"id": "acme", "provenance": PROVENANCE, "repositoryUrl": "https://github.com/acme/skills"},
        "artifact": {
            "digest": ARTIFACT_DIGEST,
            "files": [{"path": "dist/index.js", "digest": "sha256:" + "cd" * 32, "size": 1234}],
        },
        "compatibility": {
            "contractsSpec": {"minVersion": "1.0.0", "maxVersion": "1.9.0"},
            "controlPlaneFeature": {"minVersion": "1.0.0"},
            "requiredCapabilities": [{"key": "control-plane.core", "version": "1.0.0"}],
        },
        "metadata": {"Zeta": 1, "alpha": [1.5, None, "x"], "_private": {"b": True, "B": False}},
    }


def signed(
    manifest: dict[str, Any] | None = None,
    key: str = "acme",
    *,
    algorithm: KeyAlgorithm = "ed25519",
    key_id: str | None = "acme-2026",
    issued_at: str | None = "2026-01-01T00:00:00.000Z",
    expires_at: str | None = "2099-01-01T00:00:00.000Z",
) -> dict[str, Any]:
    private, _ = key_pair(key, algorithm)
    return sign_manifest(
        copy.deepcopy(manifest if manifest is not None else unsigned_manifest()),
        private.encode(),
        key_id=key_id,
        issued_at=issued_at,
        expires_at=expires_at,
    )


def policy_document(
    *keys: str,
    key_ids: list[str] | None = None,
    prefixes: list[str] | None = None,
    allow_expired: bool = False,
    public_keys: list[str] | None = None,
) -> dict[str, Any]:
    """Trusts publisher `acme` with the public keys of the named ed25519 key pairs (default: "acme"),
    the RSA key pair "acme", and `public_keys`."""
    publisher: dict[str, Any] = {
        "id": "acme",
        "publicKeys": [key_pair(name)[1] for name in keys or ("acme",)]
        + [key_pair("acme", "rsa-pss-sha256")[1]]
        + (public_keys or []),
        "provenancePrefixes": prefixes if prefixes is not None else ["https://github.com/acme/"],
    }
    if key_ids is not None:
        publisher["keyIds"] = key_ids
    return {"trustedPublishers": [publisher], "allowExpiredSignatures": allow_expired}


def policy(*keys: str, **options: Any) -> TrustPolicy:
    return TrustPolicy.parse(json.dumps(policy_document(*keys, **options)))
