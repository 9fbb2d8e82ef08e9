"""Approve or reject a step awaiting a decision: one vote, counted toward the request's quorum.

The request is read with its execution row locked (FOR UPDATE on PostgreSQL; SQLite serializes
writers), the vote is judged (replay, conflict, stale review, eligibility), and then a conditional
update decides: `... WHERE status = 'awaiting_approval' AND review_revision = :rev AND approvals_given
< required_approvals` counts the approval and flips the step to `approved` when it completes the
quorum, so racing voters leave exactly one transition and never count more votes than the quorum.
One eligible reject vetoes at once. Everything a vote writes happens in the caller's transaction.

The same read and judgement answer a vote that has nothing to write (an identical replay, a
CONFLICT, a NOT_FOUND, a refusal) without the writer: see the prechecks at the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, case, exists, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth import Principal
from app.contracts.control_plane.approval import REVIEW_STALE_STATUS, ControlPlaneApprovalRule
from app.contracts.control_plane.commands.approve import (
    ControlPlaneExecutionApproveInput,
    ControlPlaneExecutionApproveOutput,
)
from app.contracts.control_plane.commands.reject import (
    ControlPlaneExecutionRejectInput,
    ControlPlaneExecutionRejectOutput,
)
from app.contracts.control_plane.events import (
    execution_failed,
    step_approval_recorded,
    step_approved,
    step_blocked,
)
from app.contracts.control_plane.statuses import TERMINAL_EXECUTION_STATUSES, Decision, ExecutionStatus, StepStatus
from app.db.database import read_alone
from app.db.sqlite_driver import ALONE, DEFERRED
from app.db.tables import decision_table as decision_t
from app.db.tables import execution_table as execution_t
from app.db.tables import intent_table as intent_t
from app.db.tables import plan_table as plan_t
from app.db.tables import run_table as run_t
from app.db.tables import step_table as step_t
from app.db.tables import vote_table as vote_t
from app.errors import Conflict, Forbidden, NotFound
from app.services.approval.eligibility import Standing, reasons
from app.services.approval.review import digest_of, review_digest
from app.services.approval.rules import BUILTIN_POLICY, parse_policy, rule_from_stored
from app.services.approval.standing import standing_of
from app.services.kernel.clock import new_id, utcnow
from app.services.kernel.event_log import Move, NewEvent, append_events
from app.services.kernel.grants import by_grants, grants_shape, shaped_grant_params
from app.services.kernel.literals import none_of

STEP_REJECTED = "STEP_REJECTED"
_LEGACY_RULE = parse_policy(BUILTIN_POLICY).rules[0]
"""The terms of a request opened before rules were stored with steps (the migration writes them too)."""

_STEP_STATUS = {Decision.APPROVED: StepStatus.APPROVED, Decision.REJECTED: StepStatus.REJECTED}
"""The status a step takes when a decision settles it."""

# Built once with bind parameters: the decision path reuses their compiled form on every request.
# One row per revision this actor voted on (or one row without a vote): the request, its terms, who
# asked for it, the plan it belongs to and this actor's votes.
_REQUEST = by_grants(
    lambda granted: (
        select(
            execution_t.c.id.label("execution_id"),
            execution_t.c.status.label("execution_status"),
            execution_t.c.workspace_id,
            execution_t.c.run_id,
            step_t.c.id,
            step_t.c.status,
            step_t.c.key,
            step_t.c.position,
            step_t.c.input,
            step_t.c.risk_tier,
            step_t.c.decided_by,
            step_t.c.decided_at,
            step_t.c.decision_note,
            step_t.c.approval_rule,
            step_t.c.approver_roles,
            step_t.c.required_approvals,
            step_t.c.allow_self_approval,
            step_t.c.approvals_given,
            step_t.c.review_revision,
            step_t.c.review_digest,
            step_t.c.original_input,
            intent_t.c.submitted_by,
            intent_t.c.actor_id.label("intent_actor_id"),
            plan_t.c.deterministic_hash.label("plan_hash"),
            vote_t.c.review_revision.label("vote_revision"),
            vote_t.c.decision.label("vote_decision"),
            vote_t.c.note.label("vote_note"),
            vote_t.c.edited_input.label("vote_edited_input"),
            vote_t.c.review_digest.label("vote_digest"),
            vote_t.c.approvals_after.label("vote_approvals_after"),
            vote_t.c.step_status_after.label("vote_status_after"),
            vote_t.c.decided_at.label("vote_decided_at"),
        )
        .select_from(execution_t)
        .outerjoin(step_t, and_(step_t.c.id == bindparam("b_step_id"), step_t.c.execution_id == execution_t.c.id))
        .outerjoin(intent_t, intent_t.c.execution_id == execution_t.c.id)
        .outerjoin(run_t, run_t.c.id == execution_t.c.run_id)
        .outerjoin(plan_t, plan_t.c.id == run_t.c.plan_id)
        .outerjoin(vote_t, and_(vote_t.c.step_id == step_t.c.id, vote_t.c.actor == bindparam("b_actor")))
        .where(execution_t.c.id == bindparam("b_execution_id"), granted(execution_t.c.workspace_id))
    )
)
_REQUEST_ALONE = {shape: statement.execution_options(**{ALONE: True}) for shape, statement in _REQUEST.items()}
"""The request as a precheck reads it: the one statement of its unit of work (app/db/database.py, read_alone)."""
# The execution row is locked before anything of its steps: the same order as every lifecycle
# command (app/services/lifecycle/locking.py), so a decision and a cancel queue up instead of deadlocking.
# The lock is its own statement, and the request is read by the next one: on PostgreSQL (READ COMMITTED)
# a statement that waited for the lock still reads the other tables (the step, the votes) as they were
# when it began, so one `... FOR UPDATE OF execution` would see the execution a racing decision just
# ended with the step still awaiting and without that decision's vote (an identical replay answered
# CONFLICT).
_LOCK_EXECUTION = by_grants(
    lambda granted: (
        select(execution_t.c.id)
        .where(execution_t.c.id == bindparam("b_execution_id"), granted(execution_t.c.workspace_id))
        .with_for_update()
    )
)

_STILL_OPEN = and_(
    step_t.c.id == bindparam("b_step_id"),
    step_t.c.status == StepStatus.AWAITING_APPROVAL,
    step_t.c.review_revision == bindparam("b_revision"),
)
_EDIT = (
    update(step_t)
    .where(_STILL_OPEN)
    .values(
        input=bindparam("b_input"),
        original_input=case((step_t.c.original_input.is_(None), step_t.c.input), else_=step_t.c.original_input),
        review_revision=step_t.c.review_revision + 1,
        review_digest=bindparam("b_digest"),
        approvals_given=0,
        updated_at=bindparam("b_at"),
    )
    .returning(step_t.c.review_revision)
)
_COMPLETES = step_t.c.approvals_given + 1 >= step_t.c.required_approvals
_COUNT_APPROVAL = (
    update(step_t)
    .where(_STILL_OPEN, step_t.c.approvals_given < step_t.c.required_approvals)
    .values(
        approvals_given=step_t.c.approvals_given + 1,
        status=case((_COMPLETES, StepStatus.APPROVED.value), else_=step_t.c.status),
        decided_by=case((_COMPLETES, bindparam("b_actor")), else_=step_t.c.decided_by),
        decided_at=case((_COMPLETES, bindparam("b_at")), else_=step_t.c.decided_at),
        decision_note=case((_COMPLETES, bindparam("b_note")), else_=step_t.c.decision_note),
        updated_at=bindparam("b_at"),
    )
    .returning(step_t.c.approvals_given, step_t.c.status)
)
_VETO = (
    update(step_t)
    .where(_STILL_OPEN)
    .values(
        status=StepStatus.REJECTED,
        decided_by=bindparam("b_actor"),
        decided_at=bindparam("b_at"),
        decision_note=bindparam("b_note"),
        updated_at=bindparam("b_at"),
    )
    .returning(step_t.c.position)
)
# What a decision writes after its conditional update is never read back: on SQLite these statements go to the
# database with the COMMIT, in one trip (app/db/sqlite_driver.py, DEFERRED).
_WRITE_ONLY = {DEFERRED: True}
_RECORD_VOTE = insert(vote_t).inline().execution_options(**_WRITE_ONLY)  # inline: no RETURNING of the id it sent
_RECORD_DECISION = insert(decision_t).inline().execution_options(**_WRITE_ONLY)
_APPROVERS = (
    select(vote_t.c.actor)
    .where(
        vote_t.c.step_id == bindparam("b_step_id"),
        vote_t.c.review_revision == bindparam("b_revision"),
        vote_t.c.decision == Decision.APPROVED,
    )
    .order_by(vote_t.c.decided_at, vote_t.c.id)
)
_END_EXECUTION = (
    update(execution_t)
    .where(execution_t.c.id == bindparam("b_execution_id"), none_of(execution_t.c.status, TERMINAL_EXECUTION_STATUSES))
    .values(status=ExecutionStatus.REJECTED, updated_at=bindparam("b_at"))
    .execution_options(**_WRITE_ONLY)
)
# The execution is over: later steps will never run, and no other step still awaits a decision.
_SKIP_REST = (
    update(step_t)
    .where(
        step_t.c.execution_id == bindparam("b_execution_id"),
        or_(
            and_(step_t.c.position > bindparam("b_position"), step_t.c.status == StepStatus.PENDING),
            step_t.c.status == StepStatus.AWAITING_APPROVAL,
        ),
    )
    .values(status=StepStatus.SKIPPED, updated_at=bindparam("b_at"))
    .execution_options(**_WRITE_ONLY)
)
_RESUME_EXECUTION = (
    update(execution_t)
    .where(
        execution_t.c.id == bindparam("b_execution_id"),
        execution_t.c.status == ExecutionStatus.AWAITING_APPROVAL,
        ~exists().where(step_t.c.execution_id == execution_t.c.id, step_t.c.status == StepStatus.AWAITING_APPROVAL),
    )
    .values(status=ExecutionStatus.RUNNING, updated_at=bindparam("b_at"))
    .execution_options(**_WRITE_ONLY)
)


def legacy_rule() -> ControlPlaneApprovalRule:
    return _LEGACY_RULE


@dataclass(frozen=True, slots=True)
class Ask:
    """One person's vote on one step, as the request states it."""

    execution_id: str
    step_id: str
    decision: Decision
    actor: str
    note: str | None
    principal: Principal | None
    """Whose workspace grants the vote is made under (the actor, by the contract's actor check)."""
    digest: str | None = None
    edited_input: dict[str, Any] | None = None

    @property
    def step_status(self) -> StepStatus:
        return _STEP_STATUS[self.decision]


@dataclass(frozen=True, slots=True)
class PastVote:
    revision: int
    decision: str
    note: str | None
    edited_input: dict[str, Any] | None
    digest: str
    approvals_after: int
    status_after: str
    decided_at: datetime


@dataclass(frozen=True, slots=True)
class Request:
    """A step's approval request as one actor finds it."""

    row: Any
    votes: tuple[PastVote, ...]
    """This actor's votes on the step, newest request first."""

    @property
    def rule(self) -> ControlPlaneApprovalRule:
        stored = self.row.approval_rule
        return rule_from_stored(stored) if stored else _LEGACY_RULE

    @property
    def digest(self) -> str:
        return digest_of(self.row)

    @property
    def required(self) -> int:
        return int(self.row.required_approvals or 1)

    @property
    def open(self) -> bool:
        return (
            self.row.status == StepStatus.AWAITING_APPROVAL
            and self.row.execution_status not in TERMINAL_EXECUTION_STATUSES
        )

    def standing(self, principal: Principal | None) -> Standing:
        row = self.row
        return standing_of(
            row,
            principal,
            awaiting=self.open,
            allow_edit=self.rule.allow_edit,
            voted=any(vote.revision == row.review_revision for vote in self.votes),
            rule_roles=self.rule.approver_roles,
        )


@dataclass(frozen=True, slots=True)
class Settled:
    """What an earlier, identical vote answered."""

    status: str
    at: datetime
    approvals_given: int
    required_approvals: int


async def read_request(session: AsyncConnection, ask: Ask, *, lock: bool, alone: bool = False) -> Request:
    """The request, or NOT_FOUND (one round trip tells which); with `lock`, its execution row is locked. `alone`:
    this read is the whole of a read-only unit of work (a precheck), sent without BEGIN and COMMIT."""
    params = {
        "b_step_id": ask.step_id,
        "b_execution_id": ask.execution_id,
        "b_actor": ask.actor,
        **shaped_grant_params(ask.principal),
    }
    shape = grants_shape(ask.principal)
    if lock and session.dialect.name != "sqlite":
        # SQLite has no row locks (it drops FOR UPDATE, leaving a read whose rows nobody uses): the write
        # transaction already holds the database's one write lock, so the lock statement is a wasted trip.
        await session.execute(_LOCK_EXECUTION[shape], params)
    if alone:
        await read_alone(session)
    rows = (await session.execute((_REQUEST_ALONE if alone else _REQUEST)[shape], params)).all()
    if not rows:
        raise NotFound(f"Execution {ask.execution_id!r} does not exist.")
    first = rows[0]
    if first.id is None:
        raise NotFound(f"Step {ask.step_id!r} is not a step of execution {ask.execution_id!r}.")
    votes = tuple(
        sorted(
            (
                PastVote(
                    revision=row.vote_revision,
                    decision=row.vote_decision,
                    note=row.vote_note,
                    edited_input=row.vote_edited_input,
                    digest=row.vote_digest,
                    approvals_after=row.vote_approvals_after,
                    status_after=row.vote_status_after,
                    decided_at=row.vote_decided_at,
                )
                for row in rows
                if row.vote_revision is not None
            ),
            key=lambda vote: -vote.revision,
        )
    )
    return Request(first, votes)


def judge(request: Request, ask: Ask) -> Settled | None:
    """What a vote that has nothing to write answers (raises NOT_FOUND, CONFLICT or FORBIDDEN, or
    returns the original answer of an identical replay); None when the vote must be written."""
    replayed = _replay(request, ask)
    if replayed is not None:
        return replayed
    if not request.open:
        raise _conflict(request)
    current = request.digest
    if ask.digest is not None and ask.digest != current:
        raise Conflict(
            f"Step {ask.step_id!r} changed since it was reviewed (its review digest is now {current}); "
            "review it again before deciding.",
            REVIEW_STALE_STATUS,
            reviewDigest=current,
        )
    refused = reasons(
        request.standing(ask.principal),
        ask.principal,
        ask.actor,
        approving=ask.decision is Decision.APPROVED,
        editing=ask.edited_input is not None,
    )
    if refused:
        raise Forbidden(
            " ".join(reason.message for reason in refused),
            reasons=[{"code": reason.code, "message": reason.message} for reason in refused],
        )
    return None


def _replay(request: Request, ask: Ask) -> Settled | None:
    for vote in request.votes:
        if (
            vote.decision == ask.decision
            and vote.note == ask.note
            and vote.edited_input == ask.edited_input
            and (ask.digest is None or ask.digest == vote.digest)
        ):
            return Settled(vote.status_after, vote.decided_at, vote.approvals_after, request.required)
    row = request.row
    # A decision taken before votes were recorded: the same status, actor and note is a replay.
    if (
        not request.votes
        and row.status == ask.step_status
        and row.decided_by == ask.actor
        and row.decided_at
        and row.decision_note == ask.note
        and ask.edited_input is None
    ):
        return Settled(row.status, row.decided_at, request.required, request.required)
    return None


def _conflict(request: Request) -> Conflict:
    row = request.row
    if row.status == StepStatus.AWAITING_APPROVAL:
        return Conflict(
            f"Execution {row.execution_id!r} is {row.execution_status!r}; its steps can no longer be decided.",
            row.execution_status,
        )
    if row.status in (StepStatus.APPROVED, StepStatus.REJECTED) and row.decided_by:
        return Conflict(
            f"Step {row.id!r} was already {row.status} by {row.decided_by!r}; it no longer awaits a decision.",
            row.status,
            decidedBy=row.decided_by,
            decidedAt=row.decided_at.isoformat() if row.decided_at else None,
            decision=row.status,
        )
    return Conflict(f"Step {row.id!r} is {row.status!r}, not awaiting approval.", row.status)


@dataclass(frozen=True, slots=True)
class _Counted:
    revision: int
    approvals: int
    status: str


async def _vote(session: AsyncConnection, ask: Ask, request: Request, counted: _Counted, at: datetime) -> None:
    await session.execute(
        _RECORD_VOTE,
        {
            "id": new_id("vote"),
            "step_id": ask.step_id,
            "execution_id": ask.execution_id,
            "review_revision": counted.revision,
            "actor": ask.actor,
            "decision": ask.decision,
            "note": ask.note,
            "edited_input": ask.edited_input,
            "review_digest": ask.digest or request.digest,
            "approvals_after": counted.approvals,
            "step_status_after": counted.status,
            "decided_at": at,
        },
    )


async def record_decision(
    session: AsyncConnection, ask: Ask, at: datetime, edit: tuple[Any, Any] | None = None
) -> None:
    """The request's outcome (one row per step: the schema refuses a second); `edit` is (the input as
    planned, the input approved) when an approver edited it."""
    row = {
        "original_input": edit[0] if edit else None,
        "edited_input": edit[1] if edit else None,
        "id": new_id("dec"),
        "step_id": ask.step_id,
        "execution_id": ask.execution_id,
        "decision": ask.decision,
        "actor": ask.actor,
        "note": ask.note,
        "decided_at": at,
    }
    await session.execute(_RECORD_DECISION, row)


async def resume_after_approval(session: AsyncConnection, execution_id: str, at: datetime) -> None:
    """The execution runs again once no step awaits a decision (it may also be paused)."""
    await session.execute(_RESUME_EXECUTION, {"b_execution_id": execution_id, "b_at": at})


async def _lost_race(session: AsyncConnection, ask: Ask) -> Conflict:
    """The conditional update found the request changed under the lock: say what it is now."""
    request = await read_request(session, ask, lock=False)
    return (
        _conflict(request)
        if not request.open
        else Conflict(f"Step {ask.step_id!r} changed; review it again.", REVIEW_STALE_STATUS)
    )


async def cast_approval(session: AsyncConnection, ask: Ask) -> Settled:
    request = await read_request(session, ask, lock=True)
    settled = judge(request, ask)
    if settled is not None:
        return settled
    row, at = request.row, utcnow()
    revision, digest = row.review_revision, request.digest
    original_input = row.input
    if ask.edited_input is not None:
        digest = review_digest(
            execution_id=ask.execution_id,
            step_id=ask.step_id,
            key=row.key,
            step_input=ask.edited_input,
            risk_tier=row.risk_tier,
            plan_hash=row.plan_hash,
        )
        edited = await session.execute(
            _EDIT,
            {
                "b_step_id": ask.step_id,
                "b_revision": revision,
                "b_input": ask.edited_input,
                "b_digest": digest,
                "b_at": at,
            },
        )
        if edited.one_or_none() is None:
            raise await _lost_race(session, ask)
        revision += 1
    counted = (
        await session.execute(
            _COUNT_APPROVAL,
            {"b_step_id": ask.step_id, "b_revision": revision, "b_actor": ask.actor, "b_note": ask.note, "b_at": at},
        )
    ).one_or_none()
    if counted is None:
        raise await _lost_race(session, ask)
    approvals, status = int(counted[0]), str(counted[1])
    await _vote(session, ask, request, _Counted(revision, approvals, status), at)
    move = Move(ask.execution_id, row.run_id, ask.actor, at)
    recorded = step_approval_recorded.ControlPlaneExecutionStepApprovalRecordedPayload(
        execution_id=ask.execution_id,
        run_id=row.run_id,
        step_id=ask.step_id,
        actor_id=ask.actor,
        decision=Decision.APPROVED,
        note=ask.note,
        recorded_at=at,
        approvals_given=approvals,
        required_approvals=request.required,
        rule_id=request.rule.rule_id,
        review_digest=digest,
        edited_input=ask.edited_input,
        original_input=original_input if ask.edited_input is not None else None,
    )
    events: list[NewEvent] = [move.event(step_approval_recorded.SPEC, recorded, step_id=ask.step_id)]
    if status == StepStatus.APPROVED:
        edited = ask.edited_input is not None or row.original_input is not None
        planned = row.original_input if row.original_input is not None else original_input
        await record_decision(session, ask, at, (planned, ask.edited_input or row.input) if edited else None)
        await resume_after_approval(session, ask.execution_id, at)
        approvers = (
            [ask.actor]
            if request.required == 1
            else list((await session.execute(_APPROVERS, {"b_step_id": ask.step_id, "b_revision": revision})).scalars())
        )
        approved = step_approved.ControlPlaneExecutionStepApprovedPayload(
            execution_id=ask.execution_id,
            run_id=row.run_id,
            step_id=ask.step_id,
            approved_at=at,
            approved_by=ask.actor,
            note=ask.note,
            input_edited=ask.edited_input is not None or row.original_input is not None,
            review_digest=digest,
            approvers=approvers,
        )
        events.append(move.event(step_approved.SPEC, approved, step_id=ask.step_id))
    await append_events(session, events)
    return Settled(status, at, approvals, request.required)


async def cast_rejection(session: AsyncConnection, ask: Ask, reason: str) -> Settled:
    request = await read_request(session, ask, lock=True)
    settled = judge(request, ask)
    if settled is not None:
        return settled
    row, at = request.row, utcnow()
    vetoed = (
        await session.execute(
            _VETO,
            {
                "b_step_id": ask.step_id,
                "b_revision": row.review_revision,
                "b_actor": ask.actor,
                "b_note": ask.note,
                "b_at": at,
            },
        )
    ).one_or_none()
    if vetoed is None:
        raise await _lost_race(session, ask)
    position = int(vetoed[0])
    await _vote(session, ask, request, _Counted(row.review_revision, int(row.approvals_given), StepStatus.REJECTED), at)
    await record_decision(session, ask, at)
    await end_rejected(session, execution_id=ask.execution_id, position=position, at=at)
    move = Move(ask.execution_id, row.run_id, ask.actor, at)
    blocked = step_blocked.ControlPlaneExecutionStepBlockedPayload(
        execution_id=ask.execution_id, run_id=row.run_id, step_id=ask.step_id, blocked_at=at, reason=reason
    )
    failed = execution_failed.ControlPlaneExecutionFailedPayload(
        execution_id=ask.execution_id,
        run_id=row.run_id,
        failed_at=at,
        error_code=STEP_REJECTED,
        error_message=f"Step {ask.step_id} was rejected by {ask.actor}: {reason}",
    )
    await append_events(
        session,
        [
            move.event(step_blocked.SPEC, blocked, step_id=ask.step_id),
            move.event(execution_failed.SPEC, failed, step_id=ask.step_id),
        ],
    )
    return Settled(StepStatus.REJECTED, at, int(row.approvals_given), request.required)


async def end_rejected(session: AsyncConnection, *, execution_id: str, position: int, at: datetime) -> None:
    """The execution of a rejected (or expired) step is over: later steps are skipped."""
    await session.execute(_END_EXECUTION, {"b_execution_id": execution_id, "b_at": at})
    await session.execute(_SKIP_REST, {"b_execution_id": execution_id, "b_position": position, "b_at": at})


def approval_ask(data: ControlPlaneExecutionApproveInput, principal: Principal | None) -> Ask:
    return Ask(
        data.execution_id,
        data.step_id,
        Decision.APPROVED,
        data.approved_by,
        data.note,
        principal,
        data.review_digest,
        data.edited_input,
    )


def rejection_ask(data: ControlPlaneExecutionRejectInput, principal: Principal | None) -> Ask:
    return Ask(
        data.execution_id, data.step_id, Decision.REJECTED, data.rejected_by, data.reason, principal, data.review_digest
    )


def _approved(data: ControlPlaneExecutionApproveInput, settled: Settled) -> ControlPlaneExecutionApproveOutput:
    return ControlPlaneExecutionApproveOutput(
        execution_id=data.execution_id,
        step_id=data.step_id,
        status=settled.status,
        approved_at=settled.at,
        approvals_given=settled.approvals_given,
        required_approvals=settled.required_approvals,
    )


def _rejected(data: ControlPlaneExecutionRejectInput, settled: Settled) -> ControlPlaneExecutionRejectOutput:
    return ControlPlaneExecutionRejectOutput(
        execution_id=data.execution_id, step_id=data.step_id, status=StepStatus.REJECTED, rejected_at=settled.at
    )


async def approve_step(
    session: AsyncConnection, principal: Principal | None, data: ControlPlaneExecutionApproveInput
) -> ControlPlaneExecutionApproveOutput:
    return _approved(data, await cast_approval(session, approval_ask(data, principal)))


async def reject_step(
    session: AsyncConnection, principal: Principal | None, data: ControlPlaneExecutionRejectInput
) -> ControlPlaneExecutionRejectOutput:
    return _rejected(data, await cast_rejection(session, rejection_ask(data, principal), data.reason))


# --- prechecks: a vote that has nothing to write is answered from a read (app/contracts/executor.py) ---


async def settled_from_read(session: AsyncConnection, ask: Ask) -> Settled | None:
    """The answer of a vote that writes nothing, read without the writer; None when it must be written
    (the handler then judges it again under the lock, and the conditional update decides). Its read is the whole
    of the caller's read-only unit of work (one statement, one round trip)."""
    return judge(await read_request(session, ask, lock=False, alone=True), ask)


async def precheck_reject(
    session: AsyncConnection, principal: Principal | None, data: ControlPlaneExecutionRejectInput
) -> ControlPlaneExecutionRejectOutput | None:
    settled = await settled_from_read(session, rejection_ask(data, principal))
    return None if settled is None else _rejected(data, settled)


async def precheck_approve(
    session: AsyncConnection, principal: Principal | None, data: ControlPlaneExecutionApproveInput
) -> ControlPlaneExecutionApproveOutput | None:
    settled = await settled_from_read(session, approval_ask(data, principal))
    return None if settled is None else _approved(data, settled)
