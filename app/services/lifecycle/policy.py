"""The risk policy: which tier a step gets, whether it needs approval, and whether a plan may run.

Pure (no I/O). The tier of a step is the highest of its declared tier and the floor its key earns:
a key is read as words (split on `. _ : -`), and each known action word has a floor tier, so
`deploy.production` and `storage.delete-buckets` are high however a draft labels them. A draft
may raise a tier, never lower it below the floor. High and critical steps require approval.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from app.contracts.control_plane.statuses import APPROVAL_TIERS, RiskTier, Verdict

POLICY_VERSION = "control-plane-policy/2026-11"
TIERS = tuple(RiskTier)
MAX_PLAN_STEPS = 100
STEP_KEY_PATTERN = re.compile(r"^[a-z][a-z0-9]*(?:[._:-][a-z0-9]+)*$")
_WORD_SPLIT = re.compile(r"[._:-]")

_WORDS_BY_TIER: Mapping[RiskTier, tuple[str, ...]] = {
    RiskTier.CRITICAL: ("drop", "purge", "destroy", "wipe", "truncate", "grant", "revoke", "payout", "wire", "erase"),
    RiskTier.HIGH: (
        "delete", "remove", "deploy", "release", "rollout", "rollback", "pay", "payment", "refund", "transfer",
        "charge", "send", "email", "sms", "publish", "migrate", "terminate", "restart", "kill", "disable",
    ),
    RiskTier.MEDIUM: (
        "create", "update", "write", "import", "upload", "modify", "run", "execute", "notify",
        "sync", "reindex", "snapshot", "scale", "tag", "label", "comment", "generate", "reconcile",
        "handle", "schedule", "merge", "commit", "install", "configure", "provision", "index", "enable", "post",
    ),
    RiskTier.LOW: (
        "read", "get", "list", "fetch", "lookup", "search", "query", "collect", "summarize", "summary", "analyze",
        "analyse", "check", "validate", "verify", "review", "plan", "report", "export", "crawl", "inspect", "diff",
        "draft", "preview", "count", "calculate", "estimate", "classify", "extract", "parse", "segment", "watch",
        "build", "test", "render",
    ),
}  # fmt: skip
ACTION_FLOORS: Mapping[str, RiskTier] = {word: tier for tier, words in _WORDS_BY_TIER.items() for word in words}
"""Every action word the policy knows, with the lowest tier a step naming it may have."""

DEFAULT_ACTION = "handle"
"""The action of the single step compiled from an intent whose first word is no known action."""


def tier_rank(tier: str) -> int:
    return TIERS.index(RiskTier(tier))


@dataclass(frozen=True, slots=True)
class StepRisk:
    tier: str
    requires_approval: bool
    reason: str
    known: bool


@dataclass(frozen=True, slots=True)
class PlanStepView:
    position: int
    key: str
    tier: str
    known: bool


@dataclass(frozen=True, slots=True)
class PlanVerdict:
    verdict: Verdict
    requires_approval: bool
    blocked_reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Policy:
    approver_roles: Mapping[str, str | None]
    """Tier -> the role that decides steps of that tier (None: nobody may)."""
    version: str = POLICY_VERSION

    def assess(self, key: str, declared: str | None) -> StepRisk:
        words = _WORD_SPLIT.split(key)
        floors = [(ACTION_FLOORS[word], word) for word in words if word in ACTION_FLOORS]
        known = bool(floors)
        floor, word = max(floors, key=lambda pair: tier_rank(pair[0])) if floors else (RiskTier.MEDIUM, None)
        if declared is not None and tier_rank(declared) >= tier_rank(floor):
            tier = declared
            reason = f"declared {declared}" + (f" (the action {word!r} is at least {floor})" if word else "")
        elif declared is not None:
            tier = floor
            reason = f"declared {declared}, raised to {floor}: the action {word!r} is at least {floor}"
        elif word is not None:
            tier = floor
            reason = f"the action {word!r} is {floor} risk"
        else:
            tier = floor
            reason = f"no known action in {key!r}; {floor} by default"
        requires = tier in APPROVAL_TIERS
        if requires:
            reason += "; high and critical steps require approval"
        return StepRisk(tier=tier, requires_approval=requires, reason=reason, known=known)

    def verify(self, steps: Sequence[PlanStepView]) -> PlanVerdict:
        reasons: list[str] = []
        if not steps:
            reasons.append("EMPTY_PLAN: the plan has no steps")
        for step in steps:
            label = f"step {step.position} {step.key!r}"
            if not step.known:
                reasons.append(f"UNKNOWN_STEP_KEY: {label} names no action the policy knows")
            if step.tier in APPROVAL_TIERS and not self.approver_roles.get(step.tier):
                reasons.append(f"NO_APPROVER_ROLE: {label} is {step.tier} and no approver role is configured for it")
        requires = any(step.tier in APPROVAL_TIERS for step in steps)
        if reasons:
            return PlanVerdict(Verdict.REJECTED, requires, tuple(reasons))
        return PlanVerdict(Verdict.NEEDS_APPROVAL if requires else Verdict.APPROVED, requires, ())

    def approver_note(self, tier: str) -> str | None:
        if tier not in APPROVAL_TIERS:
            return None
        role = self.approver_roles.get(tier)
        return (
            f"{tier} steps are decided by the {role} role"
            if role
            else f"no approver role is configured for {tier} steps"
        )

    def default_step_key(self, intent_text: str) -> str:
        """The single step compiled from an intent without a draft: its first word when that is a known
        action (`Deploy the billing service` -> `deploy.intent`), else `handle.intent`."""
        match = re.match(r"\s*([A-Za-z]+)", intent_text)
        word = match.group(1).lower() if match else ""
        return f"{word if word in ACTION_FLOORS else DEFAULT_ACTION}.intent"


def highest_tier(tiers: Sequence[str]) -> str | None:
    return max(tiers, key=tier_rank) if tiers else None
