"""The one table contract -> handler: every operation contract, bound to its service handler.

A contract's capability names the folder of its handler (`CAPABILITY_FOLDERS`); tests/unit/test_layers.py
checks both that every handler lives there and that nothing else is bound.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

from sqlalchemy.ext.asyncio import AsyncConnection

from app.contracts.control_plane.constants import APPROVAL, AUDIT, CORE, SKILL_REGISTRY, WEBHOOKS
from app.contracts.control_plane.statuses import RiskTier
from app.contracts.model import BatchHandler, Handler, OperationSpec, Precheck, StreamHandler, VersionedRef
from app.contracts.registry import Registry, UnknownContractError
from app.errors import ConfigurationError
from app.services.approval import decide_many, decisions, queue, request
from app.services.approval.interface import ApprovalTerms
from app.services.approval.live import ApprovalLive, stream_approval_queue
from app.services.approval.policy import PolicyReader
from app.services.approval.rules import ApprovalPolicy, PolicyError, load_policy
from app.services.audit import events, evidence, lane_queries, trace
from app.services.audit.event_stream import stream_events
from app.services.audit.explanation import Explainer
from app.services.audit.plan_verification import PlanVerifier
from app.services.kernel.live import LogFeed
from app.services.lifecycle import prechecks, reads, runner_reports, runs, viewer
from app.services.lifecycle.catalogue import Catalogue
from app.services.lifecycle.plans import Plans
from app.services.lifecycle.policy import Policy
from app.services.lifecycle.state_machine import Action
from app.services.skills import registry as skill_registry
from app.services.skills.trust import TrustPolicy
from app.services.webhooks.endpoints import WebhookEndpoints
from app.services.webhooks.targets import TargetPolicy
from app.settings import Settings

CAPABILITY_FOLDERS: Mapping[str, str] = {
    CORE.key: "lifecycle",
    APPROVAL.key: "approval",
    AUDIT.key: "audit",
    SKILL_REGISTRY.key: "skills",
    WEBHOOKS.key: "webhooks",
}
"""Capability key -> the folder of app/services/ that holds its handlers."""

SessionHandler = Handler[AsyncConnection]
SessionPrecheck = Precheck[AsyncConnection]
SessionBatchHandler = BatchHandler[AsyncConnection]
SessionStreamHandler = StreamHandler[AsyncConnection]


def approval_policy_from_settings(settings: Settings | None) -> ApprovalPolicy:
    """APPROVAL_POLICY_FILE, or the built-in policy; raises ConfigurationError naming every problem."""
    try:
        return load_policy(settings.approval_policy_file if settings else None)
    except PolicyError as error:
        raise ConfigurationError(str(error)) from None


def policy_from_settings(settings: Settings | None) -> Policy:
    if settings is None:
        return Policy(approver_roles={RiskTier.HIGH: "admin", RiskTier.CRITICAL: "admin"})
    return Policy(
        approver_roles={
            RiskTier.HIGH: settings.policy_high_approver_role or None,
            RiskTier.CRITICAL: settings.policy_critical_approver_role or None,
        }
    )


def target_policy_from_settings(settings: Settings | None) -> TargetPolicy:
    """Where webhooks may go (WEBHOOK_ALLOW_HTTP, WEBHOOK_ALLOW_PRIVATE_NETWORKS)."""
    if settings is None:
        return TargetPolicy()
    return TargetPolicy(
        allow_http=settings.webhook_allow_http, allow_private_networks=settings.webhook_allow_private_networks
    )


def webhook_endpoints(registry: Registry | None, settings: Settings | None) -> WebhookEndpoints:
    event_keys = {event.key for event in registry.events} if registry is not None else set()
    return WebhookEndpoints(target_policy_from_settings(settings), event_keys)


def handlers_by_key(registry: Registry, settings: Settings | None = None) -> dict[str, SessionHandler]:
    """Contract key -> handler. Raises ConfigurationError when the skill trust policy of `settings`
    cannot be read."""
    skills = skill_registry.SkillRegistry(skill_registry.load_trust_policy(settings) if settings else TrustPolicy())
    policy = policy_from_settings(settings)
    plans = Plans(policy)
    approval_policy = approval_policy_from_settings(settings)
    terms = ApprovalTerms(approval_policy)
    webhooks = webhook_endpoints(registry, settings)
    return {
        # capability control-plane.core, in lifecycle/
        "controlPlane.intent.submit": plans.submit_intent,
        "controlPlane.plan.compile": plans.compile_plan,
        "controlPlane.execution.start": partial(runs.start_execution, terms=terms),
        "controlPlane.execution.pause": runs.pause_execution,
        "controlPlane.execution.resume": runs.resume_execution,
        "controlPlane.execution.cancel": runs.cancel_execution,
        "controlPlane.execution.abort": runs.abort_execution,
        "controlPlane.execution.shutdown": runs.shutdown_execution,
        "controlPlane.execution.retry": partial(runs.retry_execution, terms=terms),
        "controlPlane.runner.stepStarted": runner_reports.report_step_started,
        "controlPlane.runner.stepCompleted": partial(runner_reports.report_step_completed, terms=terms),
        "controlPlane.runner.stepFailed": runner_reports.report_step_failed,
        "controlPlane.execution.get": reads.get_execution,
        "controlPlane.execution.list": reads.list_executions,
        "controlPlane.contract.list": Catalogue(registry).list_contracts,
        "controlPlane.identity.viewer": viewer.get_viewer,
        # capability control-plane.approval, in approval/
        "controlPlane.execution.reject": decisions.reject_step,
        "controlPlane.execution.approve": decisions.approve_step,
        "controlPlane.approval.list": queue.list_pending_approvals,
        "controlPlane.approval.get": request.get_approval_request,
        "controlPlane.approval.policy": PolicyReader(approval_policy).get_policy,
        # capability control-plane.audit, in audit/
        "controlPlane.plan.verify": PlanVerifier(policy).verify_plan,
        "controlPlane.execution.evidence.export": evidence.export_evidence,
        "controlPlane.execution.evidence.get": evidence.get_bundle,
        "controlPlane.trace.get": trace.get_trace,
        "controlPlane.event.list": events.list_events,
        "controlPlane.policy.explain": Explainer(policy).explain,
        "controlPlane.execution.lane.get": lane_queries.get_lane,
        "controlPlane.execution.lane.list": lane_queries.list_lanes,
        # capability control-plane.skill-registry, in skills/
        "controlPlane.skill.verify": skills.verify_skill,
        "controlPlane.skill.install": skills.install_skill,
        "controlPlane.skill.disable": skills.disable_skill,
        "controlPlane.skill.list": skill_registry.list_skills,
        # capability control-plane.webhooks, in webhooks/
        "controlPlane.webhook.create": webhooks.create,
        "controlPlane.webhook.disable": webhooks.disable,
        "controlPlane.webhook.rotateSecret": webhooks.rotate_secret,
        "controlPlane.webhook.redeliver": webhooks.redeliver,
        "controlPlane.webhook.list": webhooks.list_endpoints,
        "controlPlane.webhook.deliveries": webhooks.list_deliveries,
    }


def prechecks_by_key(registry: Registry | None = None, settings: Settings | None = None) -> dict[str, SessionPrecheck]:
    """Contract key -> its precheck: commands that may have nothing to write (app/contracts/executor.py)."""
    webhooks = webhook_endpoints(registry, settings)
    return {
        # capability control-plane.core, in lifecycle/
        "controlPlane.execution.pause": prechecks.on_run(Action.PAUSE),
        "controlPlane.execution.resume": prechecks.on_run(Action.RESUME),
        "controlPlane.execution.abort": prechecks.on_run(Action.ABORT),
        "controlPlane.execution.shutdown": prechecks.on_run(Action.SHUTDOWN),
        "controlPlane.execution.retry": prechecks.on_run(Action.RETRY),
        "controlPlane.execution.cancel": prechecks.precheck_cancel,
        "controlPlane.runner.stepStarted": runner_reports.precheck_step_started,
        "controlPlane.runner.stepCompleted": runner_reports.precheck_step_completed,
        "controlPlane.runner.stepFailed": runner_reports.precheck_step_failed,
        # capability control-plane.approval, in approval/
        "controlPlane.execution.reject": decisions.precheck_reject,
        "controlPlane.execution.approve": decisions.precheck_approve,
        # capability control-plane.webhooks, in webhooks/ (refusals, and DNS, before the writer is taken)
        "controlPlane.webhook.create": webhooks.precheck_create,
    }


def batch_handlers_by_key() -> dict[str, SessionBatchHandler]:
    """Contract key -> handler of a batch that opens a unit of work per item (`Transactions.PER_ITEM`)."""
    return {
        # capability control-plane.approval, in approval/
        "controlPlane.approval.decideMany": decide_many.decide_steps,
    }


def stream_handlers_by_key(feed: LogFeed) -> dict[str, SessionStreamHandler]:
    """Contract key -> handler of a subscription (an async generator fed by this process's log feed)."""
    approval_live = ApprovalLive(feed)
    return {
        # capability control-plane.approval, in approval/
        "controlPlane.approval.stream": partial(stream_approval_queue, live=approval_live),
        # capability control-plane.audit, in audit/
        "controlPlane.event.stream": partial(stream_events, feed=feed),
    }


def bind_stream_handlers(registry: Registry, feed: LogFeed) -> dict[VersionedRef, SessionStreamHandler]:
    return {_operation(registry, key).ref: handler for key, handler in stream_handlers_by_key(feed).items()}


def bind_batch_handlers(registry: Registry) -> dict[VersionedRef, SessionBatchHandler]:
    return {_operation(registry, key).ref: handler for key, handler in batch_handlers_by_key().items()}


def bind_prechecks(registry: Registry, settings: Settings | None = None) -> dict[VersionedRef, SessionPrecheck]:
    return {_operation(registry, key).ref: precheck for key, precheck in prechecks_by_key(registry, settings).items()}


def _operation(registry: Registry, key: str) -> OperationSpec:
    spec = registry.get(key)
    if not isinstance(spec, OperationSpec):
        raise UnknownContractError(f"{key} is an event; only operations have handlers")
    return spec


def bind_handlers(registry: Registry, settings: Settings | None = None) -> dict[VersionedRef, SessionHandler]:
    """Handlers by contract reference, for the executor. Raises UnknownContractError when a key names no
    operation of `registry` (the executor refuses an operation without a handler)."""
    return {_operation(registry, key).ref: handler for key, handler in handlers_by_key(registry, settings).items()}
