"""GraphQL documents of the public API, written once for tests, benchmarks and scripts.

Each is one operation with its variables as the schema names them; the selections are what a client
(an operator console, a runner) reads back. A test that means to send something else (another selection,
literal arguments, a malformed document) writes its own next to the test and says why.
"""

SUBMIT = """
mutation Submit($input: ControlPlaneIntentSubmitInput!) {
  submitIntent(input: $input) { executionId intentId status receivedAt }
}"""
COMPILE = """
mutation Compile($input: ControlPlanePlanCompileInput!) {
  compilePlan(input: $input) { planId compiledAt stepCount deterministicHash }
}"""
VERIFY = """
mutation Verify($input: ControlPlanePlanVerifyInput!) {
  verifyPlan(input: $input) { verdict requiresApproval blockedReasons verifiedAt }
}"""
START = """
mutation Start($input: ControlPlaneExecutionStartInput!) {
  startExecution(input: $input) { runId status startedAt }
}"""
PAUSE = """
mutation Pause($input: ControlPlaneExecutionPauseInput!) {
  pauseExecution(input: $input) { runId status pausedAt }
}"""
RESUME = """
mutation Resume($input: ControlPlaneExecutionResumeInput!) {
  resumeExecution(input: $input) { runId status resumedAt }
}"""
CANCEL = """
mutation Cancel($input: ControlPlaneExecutionCancelInput!) {
  cancelExecution(input: $input) { executionId status cancelledAt }
}"""
ABORT = """
mutation Abort($input: ControlPlaneExecutionAbortInput!) {
  abortExecution(input: $input) { runId status abortedAt }
}"""
SHUTDOWN = """
mutation Shutdown($input: ControlPlaneExecutionShutdownInput!) {
  shutdownExecution(input: $input) { runId status shutdownAt }
}"""
RETRY = """
mutation Retry($input: ControlPlaneExecutionRetryInput!) {
  retryExecution(input: $input) { runId status phase retriedAt }
}"""
REPORT_FIELDS = "runId stepId stepStatus executionStatus awaitingApprovalStepId reportedAt"
STEP_STARTED = f"""
mutation Started($input: ControlPlaneRunnerStepStartedInput!) {{
  reportStepStarted(input: $input) {{ {REPORT_FIELDS} }}
}}"""
STEP_COMPLETED = f"""
mutation Completed($input: ControlPlaneRunnerStepCompletedInput!) {{
  reportStepCompleted(input: $input) {{ {REPORT_FIELDS} }}
}}"""
STEP_FAILED = f"""
mutation Failed($input: ControlPlaneRunnerStepFailedInput!) {{
  reportStepFailed(input: $input) {{ {REPORT_FIELDS} }}
}}"""
APPROVE = """
mutation Approve($input: ControlPlaneExecutionApproveInput!) {
  approveExecutionStep(input: $input) { executionId stepId status approvedAt }
}"""
REJECT = """
mutation Reject($input: ControlPlaneExecutionRejectInput!) {
  rejectExecutionStep(input: $input) { executionId stepId status rejectedAt }
}"""
EXPORT = """
mutation Export($input: ControlPlaneExecutionEvidenceExportInput!) {
  exportExecutionEvidence(input: $input) { runId evidenceBundleCount exportedAt bundleId digest }
}"""
BUNDLE = """
query Bundle($input: ControlPlaneExecutionEvidenceGetInput!) {
  evidenceBundle(input: $input) { bundleId runId executionId ordinal digest bundle exportedBy exportedAt }
}"""
EXECUTION = """
query Execution($input: ControlPlaneExecutionGetInput!) {
  execution(input: $input) { execution {
    executionId intentId planId runId status riskTier requiresApproval createdAt updatedAt
    lane { laneKey laneStatus lanePhase ownerRole evidenceBundleCount pendingApprovalCount recommendedNextLane }
    steps { stepId position key status riskTier requiresApproval decidedBy decidedAt decisionNote }
  } }
}"""
TRACE = """
query Trace($input: ControlPlaneTraceGetInput!) {
  trace(input: $input) { executionId entries { timestamp stage status actorId metadata } }
}"""
EXPLAIN = """
query Explain($input: ControlPlanePolicyExplainInput!) {
  policyExplanation(input: $input) { verdict riskTier reasons policyVersion }
}"""
LANE = """
query Lane($input: ControlPlaneExecutionLaneGetInput!) {
  executionLane(input: $input) { run {
    runId executionId laneKey laneStatus lanePhase ownerRole objective teamStatus completionPhase
    terminalReadiness missingEvidence missingApprovals blockingRisks recommendedNextLane evidenceBundleCount
    approvalCount transitionCount queueSkew cleanupStatus retryCount snapshotRef updatedAt
  } }
}"""
LANES = """
query Lanes($input: ControlPlaneExecutionLaneListInput!) {
  executionLanes(input: $input) { total items {
    runId executionId laneKey laneStatus lanePhase ownerRole objective evidenceCompleteness terminalReadiness
    pendingApprovalCount missingEvidenceCount missingApprovalCount recommendedNextLane updatedAt
  } }
}"""
EXECUTIONS = """
query Executions($input: ControlPlaneExecutionListInput!) {
  executions(input: $input) { total items {
    executionId status riskTier updatedAt
    lane { laneKey laneStatus lanePhase ownerRole evidenceBundleCount pendingApprovalCount recommendedNextLane }
  } }
}"""
PENDING_APPROVALS = """
query Pending($input: ControlPlaneApprovalListInput!) {
  pendingApprovals(input: $input) { total items {
    executionId executionStatus executionRiskTier workspaceId stepId position key riskTier awaitingSince
  } }
}"""
CONTRACTS = """
query Contracts($input: ControlPlaneContractListInput!) {
  contracts(input: $input) { total items {
    key version kind title description goal context domain capability capabilityVersion auth tags owners
    stability graphqlField inputType outputType
  } }
}"""
SKILL_VERIFICATION = """
query Verify($input: ControlPlaneSkillVerifyInput!) {
  skillVerification(input: $input) {
    verified signatureVerified publisherTrusted compatibilityVerified manifestDigest issues { code message }
    reason verifiedAt
  }
}"""
INSTALL_SKILL = """
mutation Install($input: ControlPlaneSkillInstallInput!) {
  installSkill(input: $input) {
    installationId skillKey version verified signatureVerified publisherTrusted compatibilityVerified
    manifestDigest provenance issues { code message } status installedAt
  }
}"""
DISABLE_SKILL = """
mutation Disable($input: ControlPlaneSkillDisableInput!) {
  disableSkill(input: $input) { skillKey version status disabledAt }
}"""
SKILLS = """
query Skills($input: ControlPlaneSkillListInput!) {
  skills(input: $input) { total items {
    skillKey version status verified publisher provenance installedAt installationId entryPoint description
    manifestDigest artifactDigest signatureAlgorithm keyId metadata installedBy disabledBy disabledAt disabledReason
  } }
}"""
PENDING_TOTAL = "{ pendingApprovals(input: {}) { total } }"
"""The smallest query that needs a token: no variables, one number back (for tests of the HTTP layer)."""
VIEWER = "query Viewer { viewer { principalId roles authLevel workspaces allWorkspaces } }"

# --- the approval workflow (CONTRACTS.md, "Approval workflow") ---
VOTE = """
mutation Vote($input: ControlPlaneExecutionApproveInput!) {
  approveExecutionStep(input: $input) { executionId stepId status approvedAt approvalsGiven requiredApprovals }
}"""
RULE_FIELDS = (
    "ruleId description matchTiers matchKeys matchWorkspaces approverRoles requiredApprovals allowSelfApproval "
    "allowEdit timeoutSeconds onTimeout escalateToRoles policyVersion"
)
APPROVAL_REQUEST = f"""
query Review($input: ControlPlaneApprovalGetInput!) {{
  approvalRequest(input: $input) {{ request {{
    executionId stepId workspaceId runId position key status riskTier riskReasons input originalInput
    intentText requestedBy planId planHash reviewDigest awaitingSince deadline requiredApprovals
    rule {{ {RULE_FIELDS} }}
    approvals {{ actorId decision decidedAt note editedInput }}
    viewerEligibility {{ canDecide reasons {{ code message }} }}
    precedingSteps {{ stepId key status output }}
  }} }}
}}"""
APPROVAL_POLICY = f"""
query Policy {{
  approvalPolicy {{ policyVersion digest rules {{ {RULE_FIELDS} }} }}
}}"""
INBOX = """
query Inbox($input: ControlPlaneApprovalListInput!) {
  pendingApprovals(input: $input) { total items {
    executionId workspaceId stepId key riskTier awaitingSince requiredApprovals approvalsGiven deadline
    reviewDigest viewerCanDecide
  } }
}"""
DECIDE_MANY = """
mutation DecideMany($input: ControlPlaneApprovalDecideManyInput!) {
  decideExecutionSteps(input: $input) {
    succeeded failed results { executionId stepId ok status code message currentStatus }
  }
}"""

# --- the event log (CONTRACTS.md, "Event log and live delivery") ---
EVENT_FIELDS = (
    "cursor position key version workspaceId executionId runId stepId actorId streamVersion occurredAt payload"
)
EVENTS = f"""
query Events($input: ControlPlaneEventListInput!) {{
  events(input: $input) {{ endCursor hasMore items {{ {EVENT_FIELDS} }} }}
}}"""

WEBHOOK_FIELDS = (
    "endpointId url eventKeys workspaceId description status createdBy createdAt lastSuccessAt lastFailureAt "
    "consecutiveFailures"
)
DELIVERY_FIELDS = (
    "deliveryId endpointId eventCursor eventKey status attempts lastStatusCode lastError lastAttemptAt "
    "nextAttemptAt createdAt"
)
CREATE_WEBHOOK = """
mutation CreateWebhook($input: ControlPlaneWebhookCreateInput!) {
  createWebhookEndpoint(input: $input) { endpointId secret createdAt }
}"""
DISABLE_WEBHOOK = """
mutation DisableWebhook($input: ControlPlaneWebhookDisableInput!) {
  disableWebhookEndpoint(input: $input) { endpointId status disabledAt }
}"""
ROTATE_WEBHOOK_SECRET = """
mutation RotateWebhookSecret($input: ControlPlaneWebhookRotateSecretInput!) {
  rotateWebhookSecret(input: $input) { endpointId secret previousSecretValidUntil }
}"""  # noqa: S105 - a GraphQL document, not a password
REDELIVER_WEBHOOK = """
mutation RedeliverWebhook($input: ControlPlaneWebhookRedeliverInput!) {
  redeliverWebhook(input: $input) { deliveryId status nextAttemptAt }
}"""
WEBHOOK_ENDPOINTS = f"""
query WebhookEndpoints($input: ControlPlaneWebhookListInput!) {{
  webhookEndpoints(input: $input) {{ total items {{ {WEBHOOK_FIELDS} }} }}
}}"""
WEBHOOK_DELIVERIES = f"""
query WebhookDeliveries($input: ControlPlaneWebhookDeliveriesInput!) {{
  webhookDeliveries(input: $input) {{ total items {{ {DELIVERY_FIELDS} }} }}
}}"""
