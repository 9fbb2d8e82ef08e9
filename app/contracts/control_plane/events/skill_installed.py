"""controlPlane.skill.installed"""

from __future__ import annotations

from app.contracts.control_plane.constants import SKILL_REGISTRY, meta
from app.contracts.model import define_event
from app.contracts.types import ID, ContractModel, Timestamp


class ControlPlaneSkillInstalledPayload(ContractModel):
    installation_id: ID
    skill_key: str
    version: str
    installed_at: Timestamp
    publisher: str | None = None
    provenance: str | None = None
    manifest_digest: str | None = None


SPEC = define_event(
    meta(
        "controlPlane.skill.installed",
        title="Skill Installed",
        description="A verified skill was installed.",
        goal="Record which skills agents may run, and where they came from.",
        context="Emitted by installSkill.",
    ),
    capability=SKILL_REGISTRY,
    payload=ControlPlaneSkillInstalledPayload,
)
