"""What a reviewer approves, bound by a digest; and the roles of a request as stored with the step."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from app.services.kernel.canonical import sha256_digest


def review_digest(
    *, execution_id: str, step_id: str, key: str, step_input: Any, risk_tier: str | None, plan_hash: str | None
) -> str:
    """`sha256:` + SHA-256 of the RFC 8785 form of what the reviewer would approve (CONTRACTS.md): it
    changes whenever the input, the tier or the plan changes."""
    return sha256_digest(
        {
            "executionId": execution_id,
            "stepId": step_id,
            "key": key,
            "input": step_input,
            "riskTier": risk_tier,
            "planHash": plan_hash,
        }
    )


def digest_of(row: Any) -> str:
    """The stored digest of a request, or (for requests opened before digests were stored) the computed one.
    `row` has execution_id, id (the step's), key, input, risk_tier, review_digest and plan_hash."""
    stored: str | None = row.review_digest
    if stored:
        return stored
    return review_digest(
        execution_id=row.execution_id,
        step_id=row.id,
        key=row.key,
        step_input=row.input,
        risk_tier=row.risk_tier,
        plan_hash=row.plan_hash,
    )


def roles_column(roles: Iterable[str]) -> str:
    """Roles as the `approver_roles` column stores them: `,admin,release-manager,` (a `LIKE '%,role,%'`
    finds one in SQL on both databases)."""
    return "," + ",".join(sorted(set(roles))) + ","


def roles_of(column: str | None) -> frozenset[str]:
    return frozenset(role for role in (column or "").split(",") if role)
