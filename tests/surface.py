"""The whole public contract surface (CONTRACTS.md plus this project's additions), written out once
so tests compare what the code declares with what front ends were promised."""

from __future__ import annotations

COMMAND_FIELDS = {
    "controlPlane.intent.submit": "submitIntent",
    "controlPlane.plan.compile": "compilePlan",
    "controlPlane.plan.verify": "verifyPlan",
    "controlPlane.execution.start": "startExecution",
    "controlPlane.execution.reject": "rejectExecutionStep",
    "controlPlane.execution.approve": "approveExecutionStep",
    "controlPlane.execution.pause": "pauseExecution",
    "controlPlane.execution.resume": "resumeExecution",
    "controlPlane.execution.cancel": "cancelExecution",
    "controlPlane.execution.abort": "abortExecution",
    "controlPlane.execution.shutdown": "shutdownExecution",
    "controlPlane.execution.retry": "retryExecution",
    "controlPlane.execution.evidence.export": "exportExecutionEvidence",
    "controlPlane.runner.stepStarted": "reportStepStarted",  # project addition
    "controlPlane.runner.stepCompleted": "reportStepCompleted",  # project addition
    "controlPlane.runner.stepFailed": "reportStepFailed",  # project addition
    "controlPlane.skill.install": "installSkill",
    "controlPlane.skill.disable": "disableSkill",
    "controlPlane.approval.decideMany": "decideExecutionSteps",  # project addition
    "controlPlane.webhook.create": "createWebhookEndpoint",  # project addition
    "controlPlane.webhook.disable": "disableWebhookEndpoint",  # project addition
    "controlPlane.webhook.rotateSecret": "rotateWebhookSecret",  # project addition
    "controlPlane.webhook.redeliver": "redeliverWebhook",  # project addition
}
QUERY_FIELDS = {
    "controlPlane.execution.get": "execution",
    "controlPlane.execution.list": "executions",
    "controlPlane.execution.lane.get": "executionLane",
    "controlPlane.execution.lane.list": "executionLanes",
    "controlPlane.trace.get": "trace",
    "controlPlane.policy.explain": "policyExplanation",
    "controlPlane.execution.evidence.get": "evidenceBundle",  # project addition
    "controlPlane.approval.list": "pendingApprovals",  # project addition
    "controlPlane.approval.get": "approvalRequest",  # project addition
    "controlPlane.approval.policy": "approvalPolicy",  # project addition
    "controlPlane.event.list": "events",  # project addition
    "controlPlane.contract.list": "contracts",  # project addition
    "controlPlane.identity.viewer": "viewer",  # project addition
    "controlPlane.skill.verify": "skillVerification",
    "controlPlane.skill.list": "skills",
    "controlPlane.webhook.list": "webhookEndpoints",  # project addition
    "controlPlane.webhook.deliveries": "webhookDeliveries",  # project addition
}
OPERATION_FIELDS = COMMAND_FIELDS | QUERY_FIELDS
SUBSCRIPTION_FIELDS = {
    "controlPlane.event.stream": "events",  # project addition
    "controlPlane.approval.stream": "approvalQueue",  # project addition
}

CONTRACTS_MD_EVENTS = {
    "controlPlane.intent.received",
    "controlPlane.plan.compiled",
    "controlPlane.plan.rejected",
    "controlPlane.execution.step.started",
    "controlPlane.execution.step.blocked",
    "controlPlane.execution.step.completed",
    "controlPlane.execution.completed",
    "controlPlane.execution.failed",
    "controlPlane.skill.installed",
    "controlPlane.skill.rejected",
}
ADDED_EVENTS = {
    "controlPlane.plan.verified",
    "controlPlane.execution.started",
    "controlPlane.execution.step.approvalRequested",
    "controlPlane.execution.step.approved",
    "controlPlane.execution.step.failed",
    "controlPlane.execution.paused",
    "controlPlane.execution.resumed",
    "controlPlane.execution.shutdownRequested",
    "controlPlane.execution.retried",
    "controlPlane.execution.cancelled",
    "controlPlane.execution.aborted",
    "controlPlane.execution.evidence.exported",
    "controlPlane.execution.step.approvalRecorded",
    "controlPlane.execution.step.expired",
    "controlPlane.execution.step.escalated",
}
EVENT_KEYS = CONTRACTS_MD_EVENTS | ADDED_EVENTS
