"""The service layer binds a handler to every operation contract."""

from __future__ import annotations

from app.contracts.control_plane.commands import approve, reject, skill_disable, skill_install
from app.contracts.control_plane.queries import (
    approval_list,
    contract_list,
    execution_get,
    execution_list,
    skill_list,
    skill_verify,
)
from app.contracts.model import Handler, VersionedRef
from app.contracts.registry import Registry
from app.services import decisions, executions, skills
from app.services.catalogue import Catalogue
from app.services.skill_verification import TrustPolicy
from app.settings import Settings


def bind_handlers(registry: Registry, settings: Settings | None = None) -> dict[VersionedRef, Handler]:
    """Raises ConfigurationError when the skill trust policy of `settings` cannot be read."""
    registry_of_skills = skills.SkillRegistry(skills.load_trust_policy(settings) if settings else TrustPolicy())
    return {
        reject.SPEC.ref: decisions.reject_step,
        approve.SPEC.ref: decisions.approve_step,
        execution_get.SPEC.ref: executions.get_execution,
        execution_list.SPEC.ref: executions.list_executions,
        approval_list.SPEC.ref: executions.list_pending_approvals,
        contract_list.SPEC.ref: Catalogue(registry).list_contracts,
        skill_verify.SPEC.ref: registry_of_skills.verify_skill,
        skill_install.SPEC.ref: registry_of_skills.install_skill,
        skill_disable.SPEC.ref: registry_of_skills.disable_skill,
        skill_list.SPEC.ref: skills.list_skills,
    }
