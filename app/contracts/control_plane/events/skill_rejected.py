"""controlPlane.skill.rejected"""

from __future__ import annotations

from app.contracts.control_plane.constants import SKILL_REGISTRY, meta
from app.contracts.control_plane.shared import ControlPlaneSkillVerificationIssue
from app.contracts.model import define_event
from app.contracts.types import ContractModel, Timestamp


class ControlPlaneSkillRejectedPayload(ContractModel):
    skill_key: str
    version: str | None = None
    rejected_at: Timestamp
    reason: str
    provenance: str | None = None
    manifest_digest: str | None = None
    issues: list[ControlPlaneSkillVerificationIssue] | None = None


SPEC = define_event(
    meta(
        "controlPlane.skill.rejected",
        title="Skill Rejected",
        description="A skill failed verification and was not installed.",
        goal="Record every refused installation with its issues.",
        context="Emitted by installSkill when verification fails.",
    ),
    capability=SKILL_REGISTRY,
    payload=ControlPlaneSkillRejectedPayload,
)
