"""Evidence bundles: everything a run did, frozen as JSON with a digest an auditor can recompute.

digest = "sha256:" + hex(SHA-256(RFC 8785 canonical JSON of the bundle)); see app/services/kernel/canonical.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth import Principal
from app.contracts.control_plane.commands.evidence_export import (
    ControlPlaneExecutionEvidenceExportInput,
    ControlPlaneExecutionEvidenceExportOutput,
)
from app.contracts.control_plane.events import evidence_exported
from app.contracts.control_plane.queries.evidence_get import (
    ControlPlaneExecutionEvidenceGetInput,
    ControlPlaneExecutionEvidenceGetOutput,
)
from app.db.tables import bundle_table as bundle_t
from app.db.tables import decision_table as decision_t
from app.db.tables import event_table as event_t
from app.db.tables import execution_table as execution_t
from app.db.tables import intent_table as intent_t
from app.db.tables import plan_table as plan_t
from app.db.tables import step_table as step_t
from app.db.tables import vote_table as vote_t
from app.errors import NotFound
from app.services.kernel.canonical import sha256_digest
from app.services.kernel.clock import new_id, utcnow
from app.services.kernel.event_log import append_events
from app.services.kernel.grants import in_grants
from app.services.lifecycle.interface import lock_run

BUNDLE_FORMAT = "control-plane.evidence/1"


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


async def _build(session: AsyncConnection, run: Any, execution: Any, state: str) -> dict[str, Any]:
    intent = (await session.execute(select(intent_t).where(intent_t.c.id == execution.intent_id))).one_or_none()
    plan = (await session.execute(select(plan_t).where(plan_t.c.id == run.plan_id))).one()
    steps = await session.execute(
        select(step_t).where(step_t.c.execution_id == execution.id).order_by(step_t.c.position)
    )
    decisions = await session.execute(
        select(decision_t).where(decision_t.c.execution_id == execution.id).order_by(decision_t.c.decided_at)
    )
    votes = await session.execute(
        select(vote_t).where(vote_t.c.execution_id == execution.id).order_by(vote_t.c.decided_at, vote_t.c.id)
    )
    events = await session.execute(
        select(event_t)
        .where(event_t.c.execution_id == execution.id, or_(event_t.c.run_id.is_(None), event_t.c.run_id == run.id))
        .order_by(event_t.c.sequence)
    )
    return {
        "format": BUNDLE_FORMAT,
        "execution": {
            "executionId": execution.id,
            "workspaceId": execution.workspace_id,
            "status": execution.status,
            "riskTier": execution.risk_tier,
            "requiresApproval": execution.requires_approval,
            "createdAt": _time(execution.created_at),
            "updatedAt": _time(execution.updated_at),
        },
        "intent": None
        if intent is None
        else {
            "intentId": intent.id,
            "text": intent.text,
            "actorId": intent.actor_id,
            "submittedBy": intent.submitted_by,
            "channelKey": intent.channel_key,
            "metadata": intent.intent_metadata,
            "traceId": intent.trace_id,
            "receivedAt": _time(intent.received_at),
        },
        "run": {
            "runId": run.id,
            "attempt": run.attempt,
            "status": state,
            "mode": run.mode,
            "fromPosition": run.from_position,
            "retryOf": run.retry_of,
            "startedBy": run.started_by,
            "startedAt": _time(run.started_at),
            "endedAt": _time(run.ended_at),
        },
        "plan": {
            "planId": plan.id,
            "deterministicHash": plan.deterministic_hash,
            "document": plan.document,
            "plannerModel": plan.planner_model,
            "compiledBy": plan.compiled_by,
            "compiledAt": _time(plan.compiled_at),
            "verdict": plan.verdict,
            "blockedReasons": plan.blocked_reasons,
            "policyVersion": plan.policy_version,
            "verifiedBy": plan.verified_by,
            "verifiedAt": _time(plan.verified_at),
        },
        "steps": [
            {
                "stepId": s.id,
                "position": s.position,
                "key": s.key,
                "status": s.status,
                "riskTier": s.risk_tier,
                "requiresApproval": s.requires_approval,
                "runId": s.run_id,
                "startedAt": _time(s.started_at),
                "completedAt": _time(s.completed_at),
                "output": s.output,
                "errorCode": s.error_code,
                "errorMessage": s.error_message,
                "decidedBy": s.decided_by,
                "decidedAt": _time(s.decided_at),
                "decisionNote": s.decision_note,
                "input": s.input,
                "originalInput": s.original_input,
                "approvalRule": s.approval_rule,
                "requiredApprovals": s.required_approvals,
                "reviewDigest": s.review_digest,
            }
            for s in steps
        ],
        "votes": [
            {
                "stepId": v.step_id,
                "actor": v.actor,
                "decision": v.decision,
                "note": v.note,
                "editedInput": v.edited_input,
                "reviewDigest": v.review_digest,
                "decidedAt": _time(v.decided_at),
            }
            for v in votes
        ],
        "decisions": [
            {
                "decisionId": d.id,
                "stepId": d.step_id,
                "decision": d.decision,
                "actor": d.actor,
                "note": d.note,
                "decidedAt": _time(d.decided_at),
                "originalInput": d.original_input,
                "editedInput": d.edited_input,
            }
            for d in decisions
        ],
        "events": [
            {
                "sequence": e.sequence,
                "eventKey": e.event_key,
                "eventVersion": e.event_version,
                "runId": e.run_id,
                "stepId": e.step_id,
                "actor": e.actor,
                "occurredAt": _time(e.occurred_at),
                "payload": e.payload,
            }
            for e in events
        ],
    }


async def export_evidence(
    session: AsyncConnection, principal: Principal | None, data: ControlPlaneExecutionEvidenceExportInput
) -> ControlPlaneExecutionEvidenceExportOutput:
    # Locking the execution orders concurrent exports of one run, so ordinals never collide.
    locked = await lock_run(session, data.run_id, principal)
    now = utcnow()
    count = (await session.execute(select(func.count()).where(bundle_t.c.run_id == data.run_id))).scalar_one()
    bundle_id = new_id("evb")
    bundle = await _build(session, locked.run, locked.execution, locked.state)
    bundle |= {"bundleId": bundle_id, "ordinal": count + 1, "exportedBy": data.exported_by, "exportedAt": _time(now)}
    digest = sha256_digest(bundle)
    await session.execute(
        insert(bundle_t).values(
            id=bundle_id,
            run_id=data.run_id,
            execution_id=locked.execution.id,
            ordinal=count + 1,
            digest=digest,
            bundle=bundle,
            exported_by=data.exported_by,
            exported_at=now,
        )
    )
    payload = evidence_exported.ControlPlaneExecutionEvidenceExportedPayload(
        execution_id=locked.execution.id,
        run_id=data.run_id,
        bundle_id=bundle_id,
        ordinal=count + 1,
        digest=digest,
        exported_at=now,
        exported_by=data.exported_by,
    )
    await append_events(session, [locked.move(data.exported_by, now).event(evidence_exported.SPEC, payload)])
    return ControlPlaneExecutionEvidenceExportOutput(
        run_id=data.run_id, evidence_bundle_count=count + 1, exported_at=now, bundle_id=bundle_id, digest=digest
    )


async def get_bundle(
    session: AsyncConnection, principal: Principal | None, data: ControlPlaneExecutionEvidenceGetInput
) -> ControlPlaneExecutionEvidenceGetOutput:
    query = (
        select(bundle_t)
        .join(execution_t, execution_t.c.id == bundle_t.c.execution_id)
        .where(bundle_t.c.run_id == data.run_id, in_grants(principal, execution_t.c.workspace_id))
    )
    if data.bundle_id is not None:
        query = query.where(bundle_t.c.id == data.bundle_id)
    row = (await session.execute(query.order_by(bundle_t.c.ordinal.desc()).limit(1))).one_or_none()
    if row is None:
        what = f"Evidence bundle {data.bundle_id!r} of run" if data.bundle_id else "No evidence bundle exists for run"
        raise NotFound(f"{what} {data.run_id!r}" + (" does not exist." if data.bundle_id else "."))
    return ControlPlaneExecutionEvidenceGetOutput(
        bundle_id=row.id,
        run_id=row.run_id,
        execution_id=row.execution_id,
        ordinal=row.ordinal,
        digest=row.digest,
        bundle=row.bundle,
        exported_by=row.exported_by,
        exported_at=row.exported_at,
    )
