"""The skill trust policy: which publishers, keys and provenance this server trusts (server configuration)."""

from __future__ import annotations

import functools

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from app.services.skills.keys import key_fingerprint, load_public_key


class TrustPolicyError(ValueError):
    """The trust policy cannot be read."""


class _PolicyModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True)


class TrustedPublisher(_PolicyModel):
    id: str = Field(min_length=1)
    key_ids: tuple[str, ...] = ()
    public_keys: tuple[str, ...] = ()
    provenance_prefixes: tuple[str, ...] = ()

    @field_validator("public_keys")
    @classmethod
    def _readable_keys(cls, keys: tuple[str, ...]) -> tuple[str, ...]:
        for index, pem in enumerate(keys):
            try:
                load_public_key(pem)
            except ValueError as error:
                raise ValueError(f"publicKeys[{index}]: {error}") from None
        return keys

    @model_validator(mode="after")
    def _pins_a_key(self) -> TrustedPublisher:
        # A key id is a label the manifest itself claims: on its own it proves nothing about who signed.
        if not self.public_keys:
            raise ValueError(f"trusted publisher {self.id!r} must pin at least one public key (publicKeys)")
        return self

    def fingerprints(self) -> frozenset[bytes]:
        return _fingerprints(self.public_keys)


@functools.lru_cache(maxsize=256)
def _fingerprints(pems: tuple[str, ...]) -> frozenset[bytes]:
    return frozenset(key_fingerprint(load_public_key(pem)) for pem in pems)


class TrustPolicy(_PolicyModel):
    """Server configuration: `{"trustedPublishers": [{id, keyIds, publicKeys, provenancePrefixes}],
    "allowExpiredSignatures": false}`. No trusted publisher = nothing can be installed."""

    trusted_publishers: tuple[TrustedPublisher, ...] = ()
    allow_expired_signatures: bool = False

    @model_validator(mode="after")
    def _unique_ids(self) -> TrustPolicy:
        ids = [publisher.id for publisher in self.trusted_publishers]
        duplicates = sorted({item for item in ids if ids.count(item) > 1})
        if duplicates:
            raise ValueError(f"trusted publisher ids appear more than once: {', '.join(duplicates)}")
        return self

    @classmethod
    def parse(cls, text: str) -> TrustPolicy:
        try:
            return cls.model_validate_json(text)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(map(str, item['loc'])) or 'policy'}: {item['msg']}"
                for item in error.errors(include_url=False)
            )
            raise TrustPolicyError(f"invalid skill trust policy: {problems}") from None

    def publisher(self, publisher_id: str) -> TrustedPublisher | None:
        return next((item for item in self.trusted_publishers if item.id == publisher_id), None)
