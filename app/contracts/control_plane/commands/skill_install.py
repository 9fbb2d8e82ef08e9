"""controlPlane.skill.install — verify, then install a skill version (or record why not)."""

from __future__ import annotations

from app.auth import AuthLevel
from app.contracts.control_plane.constants import SKILL_REGISTRY, meta
from app.contracts.control_plane.shared import ControlPlaneSkillVerificationIssue
from app.contracts.control_plane.skill_manifest import MAX_DIGEST_LENGTH, ControlPlaneSkillManifest
from app.contracts.model import define_command
from app.contracts.types import ID, ContractModel, JSONObject, Text, Timestamp


class ControlPlaneSkillInstallInput(ContractModel):
    skill_key: Text(200)  # type: ignore[valid-type]
    version: Text(64)  # type: ignore[valid-type]
    artifact_digest: Text(MAX_DIGEST_LENGTH)  # type: ignore[valid-type]
    manifest: ControlPlaneSkillManifest
    metadata: JSONObject | None = None


class ControlPlaneSkillInstallOutput(ContractModel):
    """`status` is `installed`, or `rejected` with the issues (then nothing was installed, and
    `installationId`/`installedAt` identify the refused attempt)."""

    installation_id: ID
    skill_key: str
    version: str
    verified: bool
    signature_verified: bool | None = None
    publisher_trusted: bool | None = None
    compatibility_verified: bool | None = None
    manifest_digest: str | None = None
    provenance: str | None = None
    issues: list[ControlPlaneSkillVerificationIssue] | None = None
    status: str
    installed_at: Timestamp


SPEC = define_command(
    meta(
        "controlPlane.skill.install",
        title="Install Skill",
        description="Install a signed skill version after verifying its manifest.",
        goal="Let agents run only signed, trusted and compatible skills.",
        context=(
            "A manifest that fails verification is not installed: the answer has status `rejected` with every "
            "issue, and a controlPlane.skill.rejected event records it. Installing the same key, version and "
            "manifest digest again is idempotent; another digest for the same key and version is a CONFLICT."
        ),
        tags=("skill-registry",),
    ),
    capability=SKILL_REGISTRY,
    input=ControlPlaneSkillInstallInput,
    output=ControlPlaneSkillInstallOutput,
    auth=AuthLevel.ADMIN,
    graphql_name="installSkill",
)
