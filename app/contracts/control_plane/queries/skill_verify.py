"""controlPlane.skill.verify — the verification report of a manifest, without installing it."""

from __future__ import annotations

from app.auth import AuthLevel
from app.contracts.control_plane.constants import SKILL_REGISTRY, meta
from app.contracts.control_plane.shared import ControlPlaneSkillVerificationIssue
from app.contracts.control_plane.skill_manifest import MAX_DIGEST_LENGTH, ControlPlaneSkillManifest
from app.contracts.model import define_query
from app.contracts.types import ContractModel, Text, Timestamp


class ControlPlaneSkillVerifyInput(ContractModel):
    skill_key: Text(200)  # type: ignore[valid-type]
    version: Text(64)  # type: ignore[valid-type]
    artifact_digest: Text(MAX_DIGEST_LENGTH)  # type: ignore[valid-type]
    manifest: ControlPlaneSkillManifest


class ControlPlaneSkillVerifyOutput(ContractModel):
    verified: bool
    signature_verified: bool | None = None
    publisher_trusted: bool | None = None
    compatibility_verified: bool | None = None
    manifest_digest: str | None = None
    issues: list[ControlPlaneSkillVerificationIssue] | None = None
    reason: str | None = None
    verified_at: Timestamp


SPEC = define_query(
    meta(
        "controlPlane.skill.verify",
        title="Verify Skill",
        description="Verify a skill manifest: signature, trusted publisher and key, provenance, compatibility.",
        goal="Show an operator every reason a skill would be refused before installing it.",
        context="Used by Studio's skill registry and by publishers checking a signed manifest; changes nothing.",
        tags=("skill-registry",),
    ),
    capability=SKILL_REGISTRY,
    input=ControlPlaneSkillVerifyInput,
    output=ControlPlaneSkillVerifyOutput,
    auth=AuthLevel.ADMIN,
    graphql_name="skillVerification",
)
