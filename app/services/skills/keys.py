"""Signing keys: the algorithms a skill may be signed with, reading and making PEM keys."""

from __future__ import annotations

from typing import Literal

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

ED25519 = "ed25519"
RSA_PSS_SHA256 = "rsa-pss-sha256"
ALGORITHMS = (ED25519, RSA_PSS_SHA256)
PSS_SALT_LENGTH = 32
MIN_RSA_BITS = 2048

PublicKey = ed25519.Ed25519PublicKey | rsa.RSAPublicKey


def load_public_key(pem: str) -> PublicKey:
    """A PEM SPKI public key of a supported type; ValueError otherwise."""
    try:
        key = serialization.load_pem_public_key(pem.encode("utf-8"))
    except (ValueError, TypeError, UnicodeError, UnsupportedAlgorithm) as error:
        raise ValueError("not a PEM SPKI public key") from error
    if not isinstance(key, ed25519.Ed25519PublicKey | rsa.RSAPublicKey):
        # ValueError, not TypeError: callers report every unusable key text the same way
        raise ValueError(f"unsupported key type {type(key).__name__}; use an Ed25519 or RSA key")  # noqa: TRY004
    return key


def key_fingerprint(key: PublicKey) -> bytes:
    """DER SPKI bytes: two PEM texts of one key (line breaks, headers) compare equal."""
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_private_key(private_key_pem: bytes) -> ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey:
    try:
        key = serialization.load_pem_private_key(private_key_pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as error:
        raise ValueError(f"not an unencrypted PEM private key: {error}") from None
    if not isinstance(key, ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey):
        raise ValueError(f"unsupported key type {type(key).__name__}; use an Ed25519 or RSA key")  # noqa: TRY004 - as above
    return key


def public_key_pem(key: PublicKey) -> str:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def generate_key(algorithm: Literal["ed25519", "rsa-pss-sha256"] = "ed25519") -> tuple[str, str]:
    """A new key pair as (PKCS#8 private PEM, SPKI public PEM)."""
    private: ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey = (
        ed25519.Ed25519PrivateKey.generate()
        if algorithm == ED25519
        else rsa.generate_private_key(public_exponent=65537, key_size=3072)
    )
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return private_pem, public_key_pem(private.public_key())


def pss() -> padding.PSS:
    return padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=PSS_SALT_LENGTH)
