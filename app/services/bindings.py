"""The service layer binds a handler to every operation contract."""

from __future__ import annotations

from app.contracts.control_plane.commands import (
    approve,
    evidence_export,
    execution_abort,
    execution_cancel,
    execution_pause,
    execution_resume,
    execution_retry,
    execution_shutdown,
    execution_start,
    intent_submit,
    plan_compile,
    plan_verify,
    reject,
    skill_disable,
    skill_install,
    step_completed,
    step_failed,
    step_started,
)
from app.contracts.control_plane.queries import (
    approval_list,
    contract_list,
    evidence_get,
    execution_get,
    execution_list,
    lane_get,
    lane_list,
    policy_explain,
    skill_list,
    skill_verify,
    trace_get,
)
from app.contracts.model import Handler, VersionedRef
from app.contracts.registry import Registry
from app.services import audit, decisions, evidence, executions, lane_views, runner, runs, skills
from app.services.catalogue import Catalogue
from app.services.plans import Plans
from app.services.policy import Policy
from app.services.skill_verification import TrustPolicy
from app.settings import Settings


def policy_from_settings(settings: Settings | None) -> Policy:
    if settings is None:
        return Policy(approver_roles={"high": "admin", "critical": "admin"})
    return Policy(
        approver_roles={
            "high": settings.policy_high_approver_role or None,
            "critical": settings.policy_critical_approver_role or None,
        }
    )


def bind_handlers(registry: Registry, settings: Settings | None = None) -> dict[VersionedRef, Handler]:
    """Raises ConfigurationError when the skill trust policy of `settings` cannot be read."""
    registry_of_skills = skills.SkillRegistry(skills.load_trust_policy(settings) if settings else TrustPolicy())
    policy = policy_from_settings(settings)
    plans = Plans(policy)
    return {
        intent_submit.SPEC.ref: plans.submit_intent,
        plan_compile.SPEC.ref: plans.compile_plan,
        plan_verify.SPEC.ref: plans.verify_plan,
        execution_start.SPEC.ref: runs.start_execution,
        execution_pause.SPEC.ref: runs.pause_execution,
        execution_resume.SPEC.ref: runs.resume_execution,
        execution_cancel.SPEC.ref: runs.cancel_execution,
        execution_abort.SPEC.ref: runs.abort_execution,
        execution_shutdown.SPEC.ref: runs.shutdown_execution,
        execution_retry.SPEC.ref: runs.retry_execution,
        step_started.SPEC.ref: runner.report_step_started,
        step_completed.SPEC.ref: runner.report_step_completed,
        step_failed.SPEC.ref: runner.report_step_failed,
        reject.SPEC.ref: decisions.reject_step,
        approve.SPEC.ref: decisions.approve_step,
        evidence_export.SPEC.ref: evidence.export_evidence,
        evidence_get.SPEC.ref: evidence.get_bundle,
        execution_get.SPEC.ref: executions.get_execution,
        execution_list.SPEC.ref: executions.list_executions,
        approval_list.SPEC.ref: executions.list_pending_approvals,
        trace_get.SPEC.ref: audit.get_trace,
        policy_explain.SPEC.ref: audit.Explainer(policy).explain,
        lane_get.SPEC.ref: lane_views.get_lane,
        lane_list.SPEC.ref: lane_views.list_lanes,
        contract_list.SPEC.ref: Catalogue(registry).list_contracts,
        skill_verify.SPEC.ref: registry_of_skills.verify_skill,
        skill_install.SPEC.ref: registry_of_skills.install_skill,
        skill_disable.SPEC.ref: registry_of_skills.disable_skill,
        skill_list.SPEC.ref: skills.list_skills,
    }
