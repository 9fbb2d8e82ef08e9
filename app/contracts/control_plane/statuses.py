"""Every status, verdict and tier of the control plane, defined once.

Services, seeds and invariant checks use these members instead of string literals; the database stores
their values, and GraphQL shows them as `String` (the upstream models say so). Input fields typed with
one of these enums accept exactly its values (see app/graphql/types.py).
"""

from __future__ import annotations

from enum import StrEnum


class Value(StrEnum):
    """A StrEnum that also reads as its value in `repr` (`'running'`), so messages that quote a status
    with `!r` read the same whether it came from the database or from a member."""

    def __repr__(self) -> str:
        return repr(self.value)


class ExecutionStatus(Value):
    PENDING = "pending"
    RUNNING = "running"
    AWAITING_APPROVAL = "awaiting_approval"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    ABORTED = "aborted"


TERMINAL_EXECUTION_STATUSES = frozenset(
    {
        ExecutionStatus.COMPLETED,
        ExecutionStatus.FAILED,
        ExecutionStatus.REJECTED,
        ExecutionStatus.CANCELLED,
        ExecutionStatus.ABORTED,
    }
)
LIVE_EXECUTION_STATUSES = frozenset(
    {ExecutionStatus.RUNNING, ExecutionStatus.AWAITING_APPROVAL, ExecutionStatus.PAUSED}
)
"""An execution with a current run that has not ended."""


class RunState(Value):
    """A run's state beyond its execution's status (app/services/lifecycle/state_machine.py)."""

    STOPPING = "stopping"
    """Shutdown requested while a step runs: the run stops when that step ends."""
    SUPERSEDED = "superseded"
    """A run that a retry replaced."""


class StepStatus(Value):
    PENDING = "pending"
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    REJECTED = "rejected"
    SKIPPED = "skipped"
    EXPIRED = "expired"


DONE_STEP_STATUSES = frozenset({StepStatus.COMPLETED, StepStatus.SKIPPED})
OPEN_STEP_STATUSES = frozenset({StepStatus.PENDING, StepStatus.AWAITING_APPROVAL, StepStatus.APPROVED})
"""Steps that have not run yet; skipped when an execution stops."""


class Decision(Value):
    """What an operator decided about a step (an `approval_decision` row)."""

    APPROVED = "approved"
    REJECTED = "rejected"


class Verdict(Value):
    """What verifyPlan concluded about a plan."""

    APPROVED = "approved"
    NEEDS_APPROVAL = "needs_approval"
    REJECTED = "rejected"


RUNNABLE_VERDICTS = frozenset({Verdict.APPROVED, Verdict.NEEDS_APPROVAL})
UNVERIFIED = "unverified"
"""What a plan verifyPlan has not judged yet is shown as (never stored: such a plan has no verdict)."""


class RiskTier(Value):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


APPROVAL_TIERS = frozenset({RiskTier.HIGH, RiskTier.CRITICAL})
"""Tiers whose steps need a human decision."""


class RunMode(Value):
    LIVE = "live"
    DRY_RUN = "dry_run"


class LaneKey(Value):
    PLAN = "plan"
    EXECUTE = "execute"
    REVIEW = "review"
    COMPLETE = "complete"


class LaneStatus(Value):
    ACTIVE = "active"
    BLOCKED = "blocked"
    DONE = "done"
    STOPPED = "stopped"


class SkillStatus(Value):
    INSTALLED = "installed"
    DISABLED = "disabled"
    REJECTED = "rejected"


class WebhookEndpointStatus(Value):
    ACTIVE = "active"
    FAILING = "failing"
    """Its last attempt failed (consecutiveFailures says how many in a row); deliveries go on."""
    DISABLED = "disabled"
    """Disabled by an operator or by a receiver answering 410 Gone: nothing more is delivered."""


class WebhookDeliveryStatus(Value):
    PENDING = "pending"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


OPEN_DELIVERY_STATUSES = frozenset({WebhookDeliveryStatus.PENDING, WebhookDeliveryStatus.RETRYING})
"""Deliveries still to attempt."""
