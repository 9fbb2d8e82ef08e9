"""Who may decide a request, and every reason why someone may not (pure: no I/O).

A decision needs the contract's admin level (the executor checks it) and one of the request's
approver roles; the person who asked for the step may not approve it unless the rule allows
self-approval; nobody votes twice on the same input; an edit needs a rule that allows edits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from app.auth import Principal
from app.contracts.control_plane.approval import (
    ControlPlaneApprovalEligibility,
    ControlPlaneEligibilityReason,
    EligibilityCode,
)


@dataclass(frozen=True, slots=True)
class Standing:
    """What eligibility depends on, for one person and one request."""

    awaiting: bool
    workspace_granted: bool
    approver_roles: frozenset[str]
    requesters: frozenset[str]
    """Who asked for the step: the intent's submittedBy and actorId."""
    allow_self_approval: bool
    allow_edit: bool
    voted: bool
    """This person has a vote on the request's current input."""


def reasons(
    standing: Standing, principal: Principal | None, actor: str, *, approving: bool = True, editing: bool = False
) -> list[ControlPlaneEligibilityReason]:
    found: list[ControlPlaneEligibilityReason] = []

    def add(code: EligibilityCode, message: str) -> None:
        found.append(ControlPlaneEligibilityReason(code=code, message=message))

    if not standing.awaiting:
        add(EligibilityCode.NOT_AWAITING, "The step does not await a decision.")
    if not standing.workspace_granted:
        add(EligibilityCode.WORKSPACE_NOT_GRANTED, "Your token does not grant the step's workspace.")
    roles = principal.roles if principal is not None else frozenset()
    if not roles & standing.approver_roles:
        add(
            EligibilityCode.ROLE_REQUIRED,
            f"Deciding this step needs one of the roles {_listed(standing.approver_roles)}; "
            f"your token has {_listed(roles) or 'none'}.",
        )
    if approving and actor in standing.requesters and not standing.allow_self_approval:
        add(
            EligibilityCode.SELF_APPROVAL,
            "You asked for this step, and its approval rule does not let a requester approve their own request.",
        )
    if standing.voted:
        add(EligibilityCode.ALREADY_VOTED, "You have already voted on this step's current input.")
    if editing and not standing.allow_edit:
        add(EligibilityCode.EDIT_NOT_ALLOWED, "The step's approval rule does not allow approving with edits.")
    return found


def eligibility(standing: Standing, principal: Principal | None, actor: str) -> ControlPlaneApprovalEligibility:
    """Whether `actor` may approve now (what `viewerEligibility` and `viewerCanDecide` show)."""
    found = reasons(standing, principal, actor)
    return ControlPlaneApprovalEligibility(can_decide=not found, reasons=found)


def _listed(roles: Iterable[str]) -> str:
    return ", ".join(repr(role) for role in sorted(roles))
