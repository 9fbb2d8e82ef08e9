"""The skill registry: verify, install, disable and list skills (the gate agents' skills pass through).

Verification is pure (verification.py, signing.py, trust.py); this module adds the trust policy from the
settings, what this server provides, and the store. An install is one insert that does nothing on
a duplicate key + version (`ON CONFLICT DO NOTHING`), so two concurrent installs of one version
cannot both win: the loser reads the winner's row and is idempotent (same manifest digest) or a
CONFLICT (another digest).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Insert, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth import Principal
from app.contracts.control_plane.capabilities import CAPABILITIES, CONTRACTS_SPEC_VERSION, FEATURE
from app.contracts.control_plane.commands.skill_disable import (
    ControlPlaneSkillDisableInput,
    ControlPlaneSkillDisableOutput,
)
from app.contracts.control_plane.commands.skill_install import (
    ControlPlaneSkillInstallInput,
    ControlPlaneSkillInstallOutput,
)
from app.contracts.control_plane.events import skill_installed, skill_rejected
from app.contracts.control_plane.queries.skill_list import (
    ControlPlaneSkillListInput,
    ControlPlaneSkillListOutput,
    ControlPlaneSkillSummary,
)
from app.contracts.control_plane.queries.skill_verify import (
    ControlPlaneSkillVerifyInput,
    ControlPlaneSkillVerifyOutput,
)
from app.contracts.control_plane.shared import ControlPlaneSkillVerificationIssue
from app.contracts.control_plane.statuses import SkillStatus
from app.contracts.naming import camel
from app.contracts.types import InstantText
from app.db.tables import skill_table as skill_t
from app.errors import ConfigurationError, Conflict, Forbidden, NotFound
from app.services.kernel.clock import new_id, utcnow
from app.services.kernel.event_log import NewEvent, append_events
from app.services.kernel.paging import page
from app.services.skills.trust import TrustPolicy, TrustPolicyError
from app.services.skills.verification import ServerFacts, VerificationReport, verify_manifest
from app.settings import Settings

INSTALLED, DISABLED, REJECTED = SkillStatus.INSTALLED, SkillStatus.DISABLED, SkillStatus.REJECTED


def _registry_wide(principal: Principal | None) -> None:
    """The registry serves every workspace: changing it needs a grant of every workspace (`*`)."""
    if principal is None or not principal.all_workspaces:
        raise Forbidden("Installing or disabling skills changes every workspace: it needs an admin token with '*'.")


def load_trust_policy(settings: Settings) -> TrustPolicy:
    """SKILL_TRUST_POLICY (JSON) or SKILL_TRUST_POLICY_FILE; neither = an empty policy (nothing trusted)."""
    if settings.skill_trust_policy and settings.skill_trust_policy_file:
        raise ConfigurationError("set SKILL_TRUST_POLICY or SKILL_TRUST_POLICY_FILE, not both")
    text = settings.skill_trust_policy
    if settings.skill_trust_policy_file is not None:
        try:
            text = settings.skill_trust_policy_file.read_text(encoding="utf-8")
        except OSError as error:
            raise ConfigurationError(
                f"cannot read SKILL_TRUST_POLICY_FILE {settings.skill_trust_policy_file}: {error.strerror}"
            ) from None
    if not text:
        return TrustPolicy()
    try:
        return TrustPolicy.parse(text)
    except TrustPolicyError as error:
        raise ConfigurationError(str(error)) from None


def server_facts() -> ServerFacts:
    """What this server provides, from its declared capabilities and feature."""
    return ServerFacts(
        contracts_spec_version=CONTRACTS_SPEC_VERSION,
        control_plane_version=FEATURE.version,
        capabilities={capability.key: capability.version for capability in CAPABILITIES},
    )


def manifest_document(model: BaseModel) -> dict[str, Any]:
    """The manifest as the JSON document its publisher signed: contract names (`entryPoint`), members
    that were not sent left out, explicit nulls kept, free-form objects as they are."""
    return {
        camel(name): _plain(getattr(model, name)) for name in type(model).model_fields if name in model.model_fields_set
    }


def _plain(value: Any) -> Any:
    if isinstance(value, InstantText):
        return value.text
    if isinstance(value, BaseModel):
        return manifest_document(value)
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _issues(report: VerificationReport) -> list[ControlPlaneSkillVerificationIssue]:
    return [ControlPlaneSkillVerificationIssue(code=issue.code, message=issue.message) for issue in report.issues]


def _insert_ignoring_duplicates(session: AsyncConnection, row: dict[str, Any]) -> Insert:
    dialect = session.dialect.name
    index = [skill_t.c.skill_key, skill_t.c.version]
    if dialect == "postgresql":
        return postgresql.insert(skill_t).values(row).on_conflict_do_nothing(index_elements=index)
    return sqlite.insert(skill_t).values(row).on_conflict_do_nothing(index_elements=index)


class SkillRegistry:
    def __init__(
        self, policy: TrustPolicy, server: ServerFacts | None = None, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.policy = policy
        self.server = server or server_facts()
        self._clock = clock

    def verify(
        self, skill_key: str, version: str, artifact_digest: str, document: dict[str, Any], now: datetime
    ) -> VerificationReport:
        return verify_manifest(
            document,
            skill_key=skill_key,
            version=version,
            artifact_digest=artifact_digest,
            policy=self.policy,
            server=self.server,
            now=now,
        )

    async def verify_skill(
        self, _session: AsyncConnection, _principal: Principal | None, data: ControlPlaneSkillVerifyInput
    ) -> ControlPlaneSkillVerifyOutput:
        now = self._clock()
        report = self.verify(data.skill_key, data.version, data.artifact_digest, manifest_document(data.manifest), now)
        return ControlPlaneSkillVerifyOutput(
            verified=report.verified,
            signature_verified=report.signature_verified,
            publisher_trusted=report.publisher_trusted,
            compatibility_verified=report.compatibility_verified,
            manifest_digest=report.manifest_digest,
            issues=_issues(report),
            reason=report.reason,
            verified_at=now,
        )

    async def install_skill(
        self, session: AsyncConnection, principal: Principal | None, data: ControlPlaneSkillInstallInput
    ) -> ControlPlaneSkillInstallOutput:
        _registry_wide(principal)
        actor = principal.id if principal else None
        now = self._clock()
        document = manifest_document(data.manifest)
        report = self.verify(data.skill_key, data.version, data.artifact_digest, document, now)
        if not report.verified:
            return await self._reject(session, data, report, actor, now)
        assert report.manifest_digest is not None
        assert data.manifest.signature is not None
        installation_id = new_id("skl")
        row = {
            "id": installation_id,
            "skill_key": data.skill_key,
            "version": data.version,
            "status": INSTALLED,
            "manifest_digest": report.manifest_digest,
            "artifact_digest": data.artifact_digest,
            "publisher": data.manifest.publisher.id,
            "provenance": data.manifest.publisher.provenance,
            "signature_algorithm": data.manifest.signature.algorithm,
            "key_id": data.manifest.signature.key_id,
            "manifest": document,
            "install_metadata": data.metadata,
            "installed_by": actor,
            "installed_at": now,
        }
        statement = _insert_ignoring_duplicates(session, row).returning(skill_t.c.id)
        if (await session.execute(statement)).scalar_one_or_none() is None:
            existing = (
                await session.execute(
                    select(skill_t).where(skill_t.c.skill_key == data.skill_key, skill_t.c.version == data.version)
                )
            ).one()
            if existing.manifest_digest != report.manifest_digest:
                raise Conflict(
                    f"Skill {data.skill_key} {data.version} is already installed with manifest digest "
                    f"{existing.manifest_digest}; a version's manifest cannot change (publish a new version).",
                    existing.status,
                )
            installation_id = existing.id
            if existing.status == INSTALLED or not await self._enable(session, existing.id, actor, now):
                return self._installed(data, report, installation_id, existing.installed_at)
        await append_events(
            session,
            [
                NewEvent(
                    spec=skill_installed.SPEC,
                    payload=skill_installed.ControlPlaneSkillInstalledPayload(
                        installation_id=installation_id,
                        skill_key=data.skill_key,
                        version=data.version,
                        installed_at=now,
                        publisher=report.publisher,
                        provenance=report.provenance,
                        manifest_digest=report.manifest_digest,
                    ),
                    occurred_at=now,
                    actor=actor,
                )
            ],
        )
        return self._installed(data, report, installation_id, now)

    @staticmethod
    async def _enable(session: AsyncConnection, installation_id: str, actor: str | None, now: datetime) -> bool:
        """A disabled version installed again with the same manifest is enabled again (conditional update)."""
        result = await session.execute(
            update(skill_t)
            .where(skill_t.c.id == installation_id, skill_t.c.status == DISABLED)
            .values(
                status=INSTALLED,
                installed_by=actor,
                installed_at=now,
                disabled_by=None,
                disabled_at=None,
                disabled_reason=None,
            )
            .returning(skill_t.c.id)
        )
        return result.scalar_one_or_none() is not None

    @staticmethod
    def _installed(
        data: ControlPlaneSkillInstallInput, report: VerificationReport, installation_id: str, at: datetime
    ) -> ControlPlaneSkillInstallOutput:
        return _install_output(data, report=report, installation_id=installation_id, status=INSTALLED, issues=[], at=at)

    @staticmethod
    async def _reject(
        session: AsyncConnection,
        data: ControlPlaneSkillInstallInput,
        report: VerificationReport,
        actor: str | None,
        now: datetime,
    ) -> ControlPlaneSkillInstallOutput:
        """Nothing is installed; the refusal and its issues are recorded in the event log."""
        issues = _issues(report)
        await append_events(
            session,
            [
                NewEvent(
                    spec=skill_rejected.SPEC,
                    payload=skill_rejected.ControlPlaneSkillRejectedPayload(
                        skill_key=data.skill_key,
                        version=data.version,
                        rejected_at=now,
                        reason=report.reason or "Verification failed.",
                        provenance=report.provenance,
                        manifest_digest=report.manifest_digest,
                        issues=issues,
                    ),
                    occurred_at=now,
                    actor=actor,
                )
            ],
        )
        return _install_output(
            data, report=report, installation_id=new_id("skr"), status=REJECTED, issues=issues, at=now
        )

    async def disable_skill(
        self, session: AsyncConnection, principal: Principal | None, data: ControlPlaneSkillDisableInput
    ) -> ControlPlaneSkillDisableOutput:
        """Disables the installed version (or every installed version); already disabled ones keep their
        original record, and a repeated request answers the time they were disabled."""
        _registry_wide(principal)
        now = self._clock()
        target: list[ColumnElement[bool]] = [skill_t.c.skill_key == data.skill_key]
        if data.version is not None:
            target.append(skill_t.c.version == data.version)
        changed = (
            await session.execute(
                update(skill_t)
                .where(*target, skill_t.c.status == INSTALLED)
                .values(status=DISABLED, disabled_by=data.disabled_by, disabled_at=now, disabled_reason=data.reason)
                .returning(skill_t.c.id)
            )
        ).all()
        if changed:
            return ControlPlaneSkillDisableOutput(
                skill_key=data.skill_key, version=data.version, status=DISABLED, disabled_at=now
            )
        last = (await session.execute(select(func.max(skill_t.c.disabled_at)).where(*target))).scalar_one_or_none()
        if last is None:
            which = f"{data.skill_key} {data.version}" if data.version else data.skill_key
            raise NotFound(f"Skill {which} is not installed.")
        return ControlPlaneSkillDisableOutput(
            skill_key=data.skill_key, version=data.version, status=DISABLED, disabled_at=last
        )


async def list_skills(
    session: AsyncConnection, _principal: Principal | None, data: ControlPlaneSkillListInput
) -> ControlPlaneSkillListOutput:
    filters: list[ColumnElement[bool]] = [] if data.include_disabled else [skill_t.c.status == INSTALLED]
    found = await page(
        session,
        select(skill_t).where(*filters).order_by(skill_t.c.skill_key, skill_t.c.installed_at.desc(), skill_t.c.id),
        data.limit,
        data.offset,
    )
    rows, total = found.rows, found.total
    items = [
        ControlPlaneSkillSummary(
            installation_id=row.id,
            skill_key=row.skill_key,
            version=row.version,
            status=row.status,
            verified=True,
            entry_point=row.manifest["skill"]["entryPoint"],
            description=row.manifest["skill"].get("description"),
            publisher=row.publisher,
            provenance=row.provenance,
            manifest_digest=row.manifest_digest,
            artifact_digest=row.artifact_digest,
            signature_algorithm=row.signature_algorithm,
            key_id=row.key_id,
            metadata=row.install_metadata,
            installed_by=row.installed_by,
            installed_at=row.installed_at,
            disabled_by=row.disabled_by,
            disabled_at=row.disabled_at,
            disabled_reason=row.disabled_reason,
        )
        for row in rows
    ]
    return ControlPlaneSkillListOutput(items=items, total=total)


def _install_output(
    data: ControlPlaneSkillInstallInput,
    *,
    report: VerificationReport,
    installation_id: str,
    status: str,
    issues: list[ControlPlaneSkillVerificationIssue],
    at: datetime,
) -> ControlPlaneSkillInstallOutput:
    """What installSkill answers, installed or rejected: the report's verdicts and the outcome."""
    return ControlPlaneSkillInstallOutput(
        installation_id=installation_id,
        skill_key=data.skill_key,
        version=data.version,
        verified=status == INSTALLED,
        signature_verified=report.signature_verified,
        publisher_trusted=report.publisher_trusted,
        compatibility_verified=report.compatibility_verified,
        manifest_digest=report.manifest_digest,
        provenance=report.provenance,
        issues=issues,
        status=status,
        installed_at=at,
    )
