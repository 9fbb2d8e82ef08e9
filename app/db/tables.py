"""SQLModel tables of the domain model (DESIGN.md, "Domain model")."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, ForeignKey, Index, String, Table, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db.types import JSONType, UTCDateTime

metadata = SQLModel.metadata


class Execution(SQLModel, table=True):
    __tablename__ = "execution"
    __table_args__ = (
        Index("ix_execution_workspace_updated", "workspace_id", "updated_at"),
        Index("ix_execution_status_updated", "status", "updated_at"),
        Index("ix_execution_updated", "updated_at"),
        Index("ix_execution_risk_updated", "risk_tier", "updated_at"),
        Index("ix_execution_created", "created_at"),
    )

    id: str = Field(primary_key=True, max_length=128)
    workspace_id: str = Field(max_length=128)
    intent_id: str | None = Field(default=None, max_length=128)
    plan_id: str | None = Field(default=None, max_length=128)
    run_id: str | None = Field(default=None, max_length=128)
    status: str = Field(max_length=32)
    risk_tier: str | None = Field(default=None, max_length=16)
    requires_approval: bool = False
    shutdown_requested_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    """Set by shutdownExecution while a step still runs: the run stops when that step ends."""
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class Intent(SQLModel, table=True):
    __tablename__ = "intent"

    id: str = Field(primary_key=True, max_length=128)
    execution_id: str = Field(sa_column=Column(String(128), ForeignKey("execution.id"), nullable=False, unique=True))
    workspace_id: str = Field(max_length=128)
    actor_id: str | None = Field(default=None, max_length=128)
    submitted_by: str = Field(max_length=128)
    channel_key: str | None = Field(default=None, max_length=200)
    text: str
    intent_metadata: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    trace_id: str | None = Field(default=None, max_length=200)
    received_at: datetime = Field(sa_type=UTCDateTime)


class Plan(SQLModel, table=True):
    """A compiled plan; `document` is exactly what `deterministic_hash` is the SHA-256 of."""

    __tablename__ = "plan"

    id: str = Field(primary_key=True, max_length=128)
    execution_id: str = Field(sa_column=Column(String(128), ForeignKey("execution.id"), nullable=False, index=True))
    intent_id: str = Field(max_length=128)
    planner_model: str | None = Field(default=None, max_length=200)
    document: dict[str, Any] = Field(sa_type=JSONType)
    deterministic_hash: str = Field(max_length=80)
    step_count: int
    risk_tier: str = Field(max_length=16)
    requires_approval: bool
    compiled_by: str = Field(max_length=128)
    compiled_at: datetime = Field(sa_type=UTCDateTime)
    verdict: str | None = Field(default=None, max_length=32)
    blocked_reasons: list[str] | None = Field(default=None, sa_type=JSONType)
    policy_version: str | None = Field(default=None, max_length=64)
    verified_by: str | None = Field(default=None, max_length=128)
    verified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ExecutionRun(SQLModel, table=True):
    """One attempt at running a plan; retry adds a run. The current run's status is its execution's;
    `ended_status` is written when a run stops being current."""

    __tablename__ = "execution_run"
    __table_args__ = (UniqueConstraint("execution_id", "attempt", name="uq_execution_run_attempt"),)

    id: str = Field(primary_key=True, max_length=128)
    execution_id: str = Field(sa_column=Column(String(128), ForeignKey("execution.id"), nullable=False))
    plan_id: str = Field(max_length=128)
    attempt: int
    mode: str = Field(max_length=32)
    from_position: int
    retry_of: str | None = Field(default=None, max_length=128)
    started_by: str = Field(max_length=128)
    started_at: datetime = Field(sa_type=UTCDateTime)
    ended_status: str | None = Field(default=None, max_length=32)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class EvidenceBundle(SQLModel, table=True):
    """An exported evidence bundle; `digest` is the SHA-256 of the canonical JSON of `bundle`."""

    __tablename__ = "evidence_bundle"
    __table_args__ = (UniqueConstraint("run_id", "ordinal", name="uq_evidence_bundle_run_ordinal"),)

    id: str = Field(primary_key=True, max_length=64)
    run_id: str = Field(sa_column=Column(String(128), ForeignKey("execution_run.id"), nullable=False))
    execution_id: str = Field(max_length=128, index=True)
    ordinal: int
    digest: str = Field(max_length=80)
    bundle: dict[str, Any] = Field(sa_type=JSONType)
    exported_by: str = Field(max_length=128)
    exported_at: datetime = Field(sa_type=UTCDateTime)


class ExecutionStep(SQLModel, table=True):
    __tablename__ = "execution_step"
    __table_args__ = (
        UniqueConstraint("execution_id", "position", name="uq_execution_step_position"),
        Index("ix_execution_step_status_updated", "status", "updated_at"),
        Index("ix_execution_step_execution_status", "execution_id", "status"),
        Index("ix_execution_step_status_deadline", "status", "deadline"),
        Index("ix_execution_step_status_awaiting", "status", "awaiting_since"),
    )

    id: str = Field(primary_key=True, max_length=128)
    execution_id: str = Field(sa_column=Column(String(128), ForeignKey("execution.id"), nullable=False))
    position: int
    key: str = Field(max_length=200)
    risk_tier: str | None = Field(default=None, max_length=16)
    requires_approval: bool = False
    status: str = Field(max_length=32)
    decided_by: str | None = Field(default=None, max_length=128)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    decision_note: str | None = Field(default=None)
    input: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    risk_reason: str | None = None
    """Why the policy gave this tier, kept for policyExplanation."""
    run_id: str | None = Field(default=None, max_length=128)
    """The run that last started this step."""
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    output: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    error_code: str | None = Field(default=None, max_length=100)
    error_message: str | None = None
    # The terms of the step's approval request, stored when it starts to await a decision (a later
    # policy change never rewrites them); app/services/approval/terms.py writes them.
    approval_rule: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    """The rule that governs the request, with its policyVersion."""
    approver_roles: str | None = Field(default=None, max_length=1000)
    """The roles that may decide now, as `,role,role,` (the escalation roles after an escalation)."""
    required_approvals: int | None = None
    allow_self_approval: bool = False
    approvals_given: int = 0
    """Approvals counted for the current input (reset by an edit and by a new request)."""
    review_revision: int = 0
    """Which request and input the votes are for: a new request and every edit increment it."""
    review_digest: str | None = Field(default=None, max_length=80)
    awaiting_since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    deadline: datetime | None = Field(default=None, sa_type=UTCDateTime)
    escalated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    original_input: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    """The input as planned, once an approver edited it."""
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class ApprovalVote(SQLModel, table=True):
    """One person's vote on one request of a step: unique per (step, revision, actor), so nobody's
    approval counts twice even when two of their requests race."""

    __tablename__ = "approval_vote"
    __table_args__ = (
        UniqueConstraint("step_id", "review_revision", "actor", name="uq_approval_vote_actor"),
        Index("ix_approval_vote_actor", "actor", "step_id"),
    )

    id: str = Field(primary_key=True, max_length=64)
    step_id: str = Field(sa_column=Column(String(128), ForeignKey("execution_step.id"), nullable=False))
    execution_id: str = Field(sa_column=Column(String(128), ForeignKey("execution.id"), nullable=False, index=True))
    review_revision: int
    actor: str = Field(max_length=128)
    decision: str = Field(max_length=16)
    note: str | None = None
    edited_input: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    """The input this approver replaced the step's input with."""
    review_digest: str = Field(max_length=80)
    """The digest of what the vote approved (after its edit, for an approval with edits)."""
    approvals_after: int
    """Approvals counted once this vote was (what its replay answers)."""
    step_status_after: str = Field(max_length=32)
    decided_at: datetime = Field(sa_type=UTCDateTime)


class ApprovalDecision(SQLModel, table=True):
    __tablename__ = "approval_decision"

    id: str = Field(primary_key=True, max_length=64)
    step_id: str = Field(sa_column=Column(String(128), ForeignKey("execution_step.id"), nullable=False, unique=True))
    execution_id: str = Field(sa_column=Column(String(128), ForeignKey("execution.id"), nullable=False, index=True))
    decision: str = Field(max_length=16)
    actor: str = Field(max_length=128)
    note: str | None = None
    decided_at: datetime = Field(sa_type=UTCDateTime)


class ExecutionEvent(SQLModel, table=True):
    """Append-only audit log and outbox; `sequence` is gap-free (taken from EventCounter)."""

    __tablename__ = "execution_event"
    __table_args__ = (
        Index("ix_execution_event_execution_sequence", "execution_id", "sequence"),
        Index("ix_execution_event_step_key", "step_id", "event_key"),
        Index("ix_execution_event_run", "run_id"),
    )

    sequence: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    event_key: str = Field(max_length=200)
    event_version: str = Field(max_length=32)
    execution_id: str | None = Field(default=None, max_length=128)
    run_id: str | None = Field(default=None, max_length=128)
    step_id: str | None = Field(default=None, max_length=128)
    actor: str | None = Field(default=None, max_length=128)
    payload: dict[str, Any] = Field(sa_type=JSONType)
    occurred_at: datetime = Field(sa_type=UTCDateTime)


class EventCounter(SQLModel, table=True):
    """One row per sequence; incremented inside the writing transaction, so rolled back with it."""

    __tablename__ = "event_counter"

    name: str = Field(primary_key=True, max_length=32)
    value: int = Field(sa_column=Column(BigInteger, nullable=False))


class SkillInstallation(SQLModel, table=True):
    """One installed skill version (unique on key + version); disabled versions keep their row."""

    __tablename__ = "skill_installation"
    __table_args__ = (
        UniqueConstraint("skill_key", "version", name="uq_skill_installation_key_version"),
        Index("ix_skill_installation_status_key", "status", "skill_key"),
    )

    id: str = Field(primary_key=True, max_length=64)
    skill_key: str = Field(max_length=200)
    version: str = Field(max_length=64)
    status: str = Field(max_length=16)
    manifest_digest: str = Field(max_length=80)
    artifact_digest: str = Field(max_length=200)
    publisher: str = Field(max_length=200)
    provenance: str = Field(max_length=2000)
    signature_algorithm: str = Field(max_length=32)
    key_id: str | None = Field(default=None, max_length=200)
    manifest: dict[str, Any] = Field(sa_type=JSONType)
    install_metadata: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    installed_by: str = Field(max_length=128)
    installed_at: datetime = Field(sa_type=UTCDateTime)
    disabled_by: str | None = Field(default=None, max_length=128)
    disabled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    disabled_reason: str | None = None


class WebhookEndpoint(SQLModel, table=True):
    """Where events are delivered (app/services/webhooks/): one receiver URL, the events it wants, its
    signing secrets and its own cursor into the event log (what has been queued for it so far)."""

    __tablename__ = "webhook_endpoint"
    __table_args__ = (
        Index("ix_webhook_endpoint_workspace_created", "workspace_id", "created_at"),
        Index("ix_webhook_endpoint_status", "status"),
    )

    id: str = Field(primary_key=True, max_length=64)
    workspace_id: str | None = Field(default=None, max_length=128)
    """None: every workspace (and the events of no execution, such as the skill registry's)."""
    url: str = Field(max_length=2000)
    event_keys: list[str] = Field(sa_type=JSONType)
    """Event keys delivered; `["*"]` for every event."""
    description: str | None = Field(default=None, max_length=1000)
    status: str = Field(max_length=16)
    secret: str = Field(max_length=200)
    """`whsec_` + base64: kept to sign (HMAC needs the key itself)."""
    previous_secret: str | None = Field(default=None, max_length=200)
    previous_secret_valid_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cursor: str | None = Field(default=None, max_length=64)
    """The cursor of the last event of the log looked at for this endpoint (None: none yet)."""
    created_by: str = Field(max_length=128)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    disabled_by: str | None = Field(default=None, max_length=128)
    disabled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    disabled_reason: str | None = Field(default=None, max_length=500)
    last_success_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_failure_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    consecutive_failures: int = 0


class WebhookDelivery(SQLModel, table=True):
    """One event for one endpoint: its body (signed as it is on every attempt), attempts and schedule.
    Its id is the `webhook-id` header, the same on every attempt."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_position", name="uq_webhook_delivery_event"),
        Index("ix_webhook_delivery_endpoint_status_position", "endpoint_id", "status", "event_position"),
        Index("ix_webhook_delivery_status_due", "status", "next_attempt_at"),
    )

    id: str = Field(primary_key=True, max_length=64)
    endpoint_id: str = Field(sa_column=Column(String(64), ForeignKey("webhook_endpoint.id"), nullable=False))
    event_position: int = Field(sa_column=Column(BigInteger, nullable=False))
    event_cursor: str = Field(max_length=64)
    event_key: str = Field(max_length=200)
    occurred_at: datetime = Field(sa_type=UTCDateTime)
    body: str
    status: str = Field(max_length=16)
    attempts: int = 0
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=1000)
    last_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    claimed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    """While an attempt is under way: the lease of the process that took it (a crashed one's lapses)."""
    claim_token: str | None = Field(default=None, max_length=64)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


def _table(model: type[SQLModel]) -> Table:
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table


# Core handles for set-based statements (conditional updates, bulk inserts) in the service layer.
execution_table = _table(Execution)
step_table = _table(ExecutionStep)
decision_table = _table(ApprovalDecision)
vote_table = _table(ApprovalVote)
event_table = _table(ExecutionEvent)
counter_table = _table(EventCounter)
skill_table = _table(SkillInstallation)
intent_table = _table(Intent)
plan_table = _table(Plan)
run_table = _table(ExecutionRun)
bundle_table = _table(EvidenceBundle)
webhook_endpoint_table = _table(WebhookEndpoint)
webhook_delivery_table = _table(WebhookDelivery)
