"""GraphQL documents of the public API, written once for tests, benchmarks and scripts.

Each is one operation with its variables as the schema names them; the selections are what a client
(an operator console, a runner) reads back.
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
