"""controlPlane.skill.disable — stop one version, or every version, of a skill."""

from __future__ import annotations

from pydantic import Field

from app.auth import AuthLevel
from app.contracts.control_plane.constants import SKILL_REGISTRY, meta
from app.contracts.model import define_command
from app.contracts.types import ID, ContractModel, Text, Timestamp

MAX_REASON_LENGTH = 2000


class ControlPlaneSkillDisableInput(ContractModel):
    skill_key: Text(200)  # type: ignore[valid-type]
    version: Text(64) | None = None  # type: ignore[valid-type]
    disabled_by: ID
    reason: str | None = Field(default=None, max_length=MAX_REASON_LENGTH)


class ControlPlaneSkillDisableOutput(ContractModel):
    skill_key: str
    version: str | None = None
    status: str
    disabled_at: Timestamp


SPEC = define_command(
    meta(
        "controlPlane.skill.disable",
        title="Disable Skill",
        description="Disable one version of a skill, or all its versions when no version is given.",
        goal="Let operators stop agents from running a skill at once.",
        context=(
            "Disabled versions stay listed (skills with includeDisabled). Disabling what is already disabled "
            "answers the original time and changes nothing; re-installing the same manifest enables it again."
        ),
        tags=("skill-registry",),
    ),
    capability=SKILL_REGISTRY,
    input=ControlPlaneSkillDisableInput,
    output=ControlPlaneSkillDisableOutput,
    auth=AuthLevel.ADMIN,
    graphql_name="disableSkill",
    actor_fields=("disabled_by",),
)
