"""decideExecutionSteps: up to 100 decisions, each in its own transaction, results in request order.

Each item is judged from a read first (a replay, conflict or refusal never takes the writer), then
written in its own unit of work; one item's failure never undoes another's decision.
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth import Principal
from app.contracts.control_plane.commands.approval_decide_many import (
    ControlPlaneApprovalDecideManyInput,
    ControlPlaneApprovalDecideManyOutput,
    ControlPlaneApprovalDecisionItem,
    ControlPlaneApprovalDecisionResult,
)
from app.contracts.control_plane.statuses import Decision
from app.contracts.model import UnitOfWorkFactory
from app.errors import AppError, InternalError
from app.services.approval.decisions import Ask, Settled, cast_approval, cast_rejection, settled_from_read

logger = logging.getLogger("app.approval")


def _ask(item: ControlPlaneApprovalDecisionItem, actor: str, principal: Principal | None) -> Ask:
    if item.decision == "approve":
        return Ask(item.execution_id, item.step_id, Decision.APPROVED, actor, item.note, principal, item.review_digest)
    return Ask(item.execution_id, item.step_id, Decision.REJECTED, actor, item.reason, principal, item.review_digest)


async def _decide(uow: UnitOfWorkFactory[AsyncConnection], ask: Ask) -> Settled:
    async with uow(write=False) as session:
        settled = await settled_from_read(session, ask)
    if settled is not None:
        return settled
    async with uow(write=True) as session:
        if ask.decision is Decision.APPROVED:
            return await cast_approval(session, ask)
        return await cast_rejection(session, ask, ask.note or "")


async def decide_steps(
    uow: UnitOfWorkFactory[AsyncConnection], principal: Principal | None, data: ControlPlaneApprovalDecideManyInput
) -> ControlPlaneApprovalDecideManyOutput:
    results: list[ControlPlaneApprovalDecisionResult] = []
    for item in data.decisions:
        ask = _ask(item, data.decided_by, principal)
        where = {"execution_id": item.execution_id, "step_id": item.step_id}
        try:
            settled = await _decide(uow, ask)
        except AppError as error:
            results.append(
                ControlPlaneApprovalDecisionResult(
                    **where,
                    ok=False,
                    code=error.code,
                    message=error.message,
                    current_status=error.extensions.get("currentStatus"),
                )
            )
            continue
        except Exception:  # one item's unexpected failure is reported on that item, masked as always
            logger.exception("decideExecutionSteps: item %s/%s failed", item.execution_id, item.step_id)
            masked = InternalError()
            results.append(
                ControlPlaneApprovalDecisionResult(**where, ok=False, code=masked.code, message=masked.message)
            )
            continue
        results.append(ControlPlaneApprovalDecisionResult(**where, ok=True, status=settled.status))
    succeeded = sum(1 for result in results if result.ok)
    return ControlPlaneApprovalDecideManyOutput(results=results, succeeded=succeeded, failed=len(results) - succeeded)
