"""The five control-plane capabilities and the feature that groups them."""

from __future__ import annotations

from app.contracts.control_plane.constants import APPROVAL, AUDIT, CHANNEL_RUNTIME, CORE, SKILL_REGISTRY
from app.contracts.model import CapabilitySpec, FeatureSpec

CAPABILITIES = (
    CapabilitySpec(
        key=CORE.key,
        version=CORE.version,
        title="Control plane core",
        description="Intents, plans and executions: the life of an agent or workflow run.",
        provides=(
            "controlPlane.intent.submit",
            "controlPlane.plan.compile",
            "controlPlane.execution.start",
            "controlPlane.execution.pause",
            "controlPlane.execution.resume",
            "controlPlane.execution.cancel",
            "controlPlane.execution.abort",
            "controlPlane.execution.shutdown",
            "controlPlane.execution.retry",
            "controlPlane.runner.stepStarted",
            "controlPlane.runner.stepCompleted",
            "controlPlane.runner.stepFailed",
            "controlPlane.execution.get",
            "controlPlane.execution.list",
            "controlPlane.contract.list",
            "controlPlane.identity.viewer",
            "controlPlane.intent.received",
            "controlPlane.plan.compiled",
            "controlPlane.plan.rejected",
            "controlPlane.execution.started",
            "controlPlane.execution.step.started",
            "controlPlane.execution.step.completed",
            "controlPlane.execution.step.failed",
            "controlPlane.execution.paused",
            "controlPlane.execution.resumed",
            "controlPlane.execution.shutdownRequested",
            "controlPlane.execution.retried",
            "controlPlane.execution.completed",
            "controlPlane.execution.failed",
            "controlPlane.execution.cancelled",
            "controlPlane.execution.aborted",
        ),
    ),
    CapabilitySpec(
        key=APPROVAL.key,
        version=APPROVAL.version,
        title="Approvals",
        description="Operators approve or reject execution steps that wait for a human decision.",
        requires=(CORE,),
        provides=(
            "controlPlane.execution.approve",
            "controlPlane.execution.reject",
            "controlPlane.approval.list",
            "controlPlane.approval.get",
            "controlPlane.approval.policy",
            "controlPlane.approval.decideMany",
            "controlPlane.approval.stream",
            "controlPlane.execution.step.approvalRecorded",
            "controlPlane.execution.step.expired",
            "controlPlane.execution.step.escalated",
            "controlPlane.execution.step.blocked",
            "controlPlane.execution.step.approved",
            "controlPlane.execution.step.approvalRequested",
        ),
    ),
    CapabilitySpec(
        key=AUDIT.key,
        version=AUDIT.version,
        title="Audit",
        description="Traces, lanes, policy explanations and evidence of what executions did.",
        requires=(CORE,),
        provides=(
            "controlPlane.event.list",
            "controlPlane.event.stream",
            "controlPlane.plan.verify",
            "controlPlane.execution.evidence.export",
            "controlPlane.execution.evidence.get",
            "controlPlane.execution.lane.get",
            "controlPlane.execution.lane.list",
            "controlPlane.trace.get",
            "controlPlane.policy.explain",
            "controlPlane.plan.verified",
            "controlPlane.execution.evidence.exported",
        ),
    ),
    CapabilitySpec(
        key=SKILL_REGISTRY.key,
        version=SKILL_REGISTRY.version,
        title="Skill registry",
        description="Install only signed, trusted and compatible skills.",
        requires=(CORE,),
        provides=(
            "controlPlane.skill.install",
            "controlPlane.skill.disable",
            "controlPlane.skill.list",
            "controlPlane.skill.verify",
            "controlPlane.skill.installed",
            "controlPlane.skill.rejected",
        ),
    ),
    CapabilitySpec(
        key=CHANNEL_RUNTIME.key,
        version=CHANNEL_RUNTIME.version,
        title="Channel runtime",
        description="Channels through which intents arrive and results are delivered.",
        requires=(CORE,),
    ),
)

CONTRACTS_SPEC_VERSION = "1.0.0"
"""Version of the ContractSpec contract format these contracts follow (a skill's `compatibility.contractsSpec`)."""

FEATURE = FeatureSpec(
    key="platform.control-plane",
    version="1.0.0",
    title="Control plane",
    description="Govern agent and workflow executions: approvals, audit and the skill registry.",
    capabilities=(CORE, APPROVAL, AUDIT, SKILL_REGISTRY, CHANNEL_RUNTIME),
)
