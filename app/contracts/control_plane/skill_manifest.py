"""The skill manifest (CONTRACTS.md, "Skill manifest"): what a publisher signs and `installSkill` verifies.

Every part keeps its own typed GraphQL input type, field for field upstream's. Strings stay strings
exactly as signed; the signature's `issuedAt`/`expiresAt` are `DateTime`s that keep the text they were
sent as (`SignedTimestamp`): the stored manifest is the publisher's document, parsed for the checks,
never re-serialized. The verification in the service layer reports what is wrong with the values, all
issues at once.
"""

from __future__ import annotations

from pydantic import Field

from app.contracts.types import ContractModel, JSONObject, SignedTimestamp

MAX_FILES = 10_000
MAX_REQUIRED_CAPABILITIES = 100
MAX_KEY_LENGTH = 200
MAX_VERSION_LENGTH = 64
MAX_DIGEST_LENGTH = 200


class ControlPlaneSkillManifestSkill(ContractModel):
    """The skill itself: its key and version must be the ones being installed."""

    key: str = Field(max_length=MAX_KEY_LENGTH)
    version: str = Field(max_length=MAX_VERSION_LENGTH)
    entry_point: str = Field(max_length=1000)
    description: str | None = Field(default=None, max_length=10_000)


class ControlPlaneSkillManifestPublisher(ContractModel):
    """Who publishes the skill and where it was built (checked against the trust policy)."""

    id: str = Field(max_length=200)
    provenance: str = Field(max_length=2000)
    repository_url: str | None = Field(default=None, max_length=2000)


class ControlPlaneSkillArtifactFile(ContractModel):
    path: str = Field(max_length=1000)
    digest: str = Field(max_length=MAX_DIGEST_LENGTH)
    size: int


class ControlPlaneSkillManifestArtifact(ContractModel):
    """The packaged skill: `digest` must equal the artifactDigest the installer gives."""

    digest: str = Field(max_length=MAX_DIGEST_LENGTH)
    files: list[ControlPlaneSkillArtifactFile] | None = Field(default=None, max_length=MAX_FILES)


class ControlPlaneSkillVersionRange(ContractModel):
    """Inclusive semantic-version bounds."""

    min_version: str | None = Field(default=None, max_length=MAX_VERSION_LENGTH)
    max_version: str | None = Field(default=None, max_length=MAX_VERSION_LENGTH)


class ControlPlaneSkillCapabilityRequirement(ContractModel):
    """A capability the skill needs; without `version`, any version this server provides will do."""

    key: str = Field(max_length=MAX_KEY_LENGTH)
    version: str | None = Field(default=None, max_length=MAX_VERSION_LENGTH)


class ControlPlaneSkillManifestCompatibility(ContractModel):
    """What the skill needs from the control plane it runs on."""

    contracts_spec: ControlPlaneSkillVersionRange | None = None
    control_plane_feature: ControlPlaneSkillVersionRange | None = None
    required_capabilities: list[ControlPlaneSkillCapabilityRequirement] | None = Field(
        default=None, max_length=MAX_REQUIRED_CAPABILITIES
    )


class ControlPlaneSkillSignature(ContractModel):
    """Signature over the canonical manifest without this member: `ed25519` or `rsa-pss-sha256`
    (salt 32), base64; `publicKey` is a PEM SPKI key; timestamps ISO 8601 with a UTC offset."""

    algorithm: str = Field(max_length=64)
    signature: str = Field(max_length=4096)
    public_key: str = Field(max_length=8192)
    key_id: str | None = Field(default=None, max_length=200)
    issued_at: SignedTimestamp | None = None
    expires_at: SignedTimestamp | None = None
    metadata: JSONObject | None = None


class ControlPlaneSkillManifest(ContractModel):
    """A signed skill manifest (schemaVersion `1.0.0`)."""

    schema_version: str = Field(max_length=32)
    skill: ControlPlaneSkillManifestSkill
    publisher: ControlPlaneSkillManifestPublisher
    artifact: ControlPlaneSkillManifestArtifact
    compatibility: ControlPlaneSkillManifestCompatibility
    metadata: JSONObject | None = None
    signature: ControlPlaneSkillSignature | None = None
