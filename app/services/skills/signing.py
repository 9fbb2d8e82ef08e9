"""What is signed, its digest, and signing and checking a manifest's signature.

The signed payload is the manifest without its `signature` member in the canonical form of
canonical_form.py (what the original TypeScript implementation signs). `manifestDigest` is
`sha256:<hex>` of the same canonical bytes, so re-signing a manifest does not change its digest.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from app.services.skills.canonical_form import canonical_bytes
from app.services.skills.keys import (
    ED25519,
    MIN_RSA_BITS,
    RSA_PSS_SHA256,
    PublicKey,
    load_private_key,
    pss,
    public_key_pem,
)


def signing_payload(manifest: Mapping[str, Any]) -> bytes:
    """The bytes that are signed: the canonical form of the manifest without `signature`."""
    return canonical_bytes({key: value for key, value in manifest.items() if key != "signature"})


def manifest_digest(manifest: Mapping[str, Any]) -> str:
    return "sha256:" + hashlib.sha256(signing_payload(manifest)).hexdigest()


def sign_manifest(
    manifest: Mapping[str, Any],
    private_key_pem: bytes,
    *,
    key_id: str | None = None,
    issued_at: str | None = None,
    expires_at: str | None = None,
) -> dict[str, Any]:
    """The manifest with a fresh `signature` member (any previous one is replaced)."""
    private = load_private_key(private_key_pem)
    payload = signing_payload(manifest)
    if isinstance(private, ed25519.Ed25519PrivateKey):
        algorithm, raw = ED25519, private.sign(payload)
    else:
        if private.key_size < MIN_RSA_BITS:
            raise ValueError(f"RSA keys need at least {MIN_RSA_BITS} bits")
        algorithm, raw = RSA_PSS_SHA256, private.sign(payload, pss(), hashes.SHA256())
    signature: dict[str, Any] = {
        "algorithm": algorithm,
        "signature": base64.b64encode(raw).decode("ascii"),
        "publicKey": public_key_pem(private.public_key()),
    }
    optional = {"keyId": key_id, "issuedAt": issued_at, "expiresAt": expires_at}
    signature.update({name: value for name, value in optional.items() if value is not None})
    signed = {key: value for key, value in manifest.items() if key != "signature"}
    signed["signature"] = signature
    return signed


def verify_signature(algorithm: str, public_key: PublicKey, signature: bytes, payload: bytes) -> bool:
    try:
        if algorithm == ED25519 and isinstance(public_key, ed25519.Ed25519PublicKey):
            public_key.verify(signature, payload)
            return True
        if algorithm == RSA_PSS_SHA256 and isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, payload, pss(), hashes.SHA256())
            return True
    except InvalidSignature:
        return False
    return False
