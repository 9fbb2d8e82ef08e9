"""controlPlane.skill.list — installed skills, paged."""

from __future__ import annotations

from app.auth import AuthLevel
from app.contracts.control_plane.constants import DEFAULT_PAGE_SIZE, SKILL_REGISTRY, meta
from app.contracts.control_plane.shared import Limit, Offset
from app.contracts.model import define_query
from app.contracts.types import ID, ContractModel, JSONObject, Timestamp


class ControlPlaneSkillListInput(ContractModel):
    include_disabled: bool | None = False
    limit: Limit | None = DEFAULT_PAGE_SIZE
    offset: Offset | None = 0


class ControlPlaneSkillSummary(ContractModel):
    """One installed skill version: upstream's fields first (skillKey, version, status, verified,
    publisher, provenance, installedAt), then this project's."""

    skill_key: str
    version: str
    status: str
    """`installed` or `disabled`."""
    verified: bool
    """Whether its manifest passed verification: true for every stored version (a manifest that fails is
    not installed), disabled ones too."""
    publisher: str | None = None
    provenance: str | None = None
    installed_at: Timestamp | None = None
    installation_id: ID
    entry_point: str
    description: str | None = None
    manifest_digest: str
    artifact_digest: str
    signature_algorithm: str
    key_id: str | None = None
    metadata: JSONObject | None = None
    installed_by: str
    disabled_by: ID | None = None
    disabled_at: Timestamp | None = None
    disabled_reason: str | None = None


class ControlPlaneSkillListOutput(ContractModel):
    items: list[ControlPlaneSkillSummary]
    total: int


SPEC = define_query(
    meta(
        "controlPlane.skill.list",
        title="List Skills",
        description="List installed skill versions by key, newest installation first within a key.",
        goal="Show which skills agents may run, where they came from and who installed them.",
        context="Used by Studio's skill registry; disabled skills appear with includeDisabled.",
        tags=("skill-registry",),
    ),
    capability=SKILL_REGISTRY,
    input=ControlPlaneSkillListInput,
    output=ControlPlaneSkillListOutput,
    auth=AuthLevel.ADMIN,
    graphql_name="skills",
)
