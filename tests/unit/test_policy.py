"""The risk policy (app/services/policy.py): tiers from the words of a step key, floors a draft cannot go
below, declared tiers that raise, the verdict of verifyPlan and the step compiled from a bare intent."""

from __future__ import annotations

import pytest

from app.contracts.control_plane.statuses import APPROVAL_TIERS
from app.services.lifecycle.policy import (
    ACTION_FLOORS,
    DEFAULT_ACTION,
    STEP_KEY_PATTERN,
    TIERS,
    PlanStepView,
    Policy,
    highest_tier,
    tier_rank,
)

POLICY = Policy(approver_roles={"high": "admin", "critical": "admin"})


@pytest.mark.parametrize(
    ("key", "tier", "word"),
    [
        ("fetch.report", "low", "fetch"),
        ("collect.metrics", "low", "collect"),
        ("create.ticket", "medium", "create"),
        ("notify.team", "medium", "notify"),
        ("deploy.production", "high", "deploy"),
        ("storage.delete-buckets", "high", "delete"),
        ("email.customers", "high", "email"),
        ("db:drop_table", "critical", "drop"),
        ("payout.vendors", "critical", "payout"),
        # Several action words: the highest floor wins, wherever the word stands.
        ("read.then.deploy", "high", "deploy"),
        ("report-and-purge", "critical", "purge"),
        ("deploy.summary", "high", "deploy"),
    ],
)
def test_a_key_gets_the_floor_of_its_riskiest_action_word(key: str, tier: str, word: str) -> None:
    risk = POLICY.assess(key, None)
    assert risk.tier == tier
    assert risk.known is True
    assert risk.requires_approval is (tier in ("high", "critical"))
    assert f"the action {word!r} is {tier} risk" in risk.reason
    assert ("require approval" in risk.reason) is risk.requires_approval


def test_words_are_whole_words_not_substrings() -> None:
    # "deployment" and "redeploy" contain "deploy" but are no action word the policy knows.
    for key in ("deployment.notes", "redeploy", "undelete.file"):
        risk = POLICY.assess(key, None)
        assert (risk.tier, risk.known) == ("medium", False), key
        assert risk.reason == f"no known action in {key!r}; medium by default"


def test_an_unknown_key_is_medium_without_approval() -> None:
    risk = POLICY.assess("frobnicate.widget", None)
    assert (risk.tier, risk.requires_approval, risk.known) == ("medium", False, False)


def test_a_declared_tier_above_the_floor_is_kept() -> None:
    risk = POLICY.assess("fetch.data", "high")
    assert (risk.tier, risk.requires_approval) == ("high", True)
    assert risk.reason.startswith("declared high (the action 'fetch' is at least low)")
    critical = POLICY.assess("frobnicate.widget", "critical")
    assert (critical.tier, critical.known) == ("critical", False)
    assert critical.reason.startswith("declared critical")


def test_a_declared_tier_equal_to_the_floor_is_kept() -> None:
    risk = POLICY.assess("create.ticket", "medium")
    assert risk.tier == "medium"
    assert risk.reason == "declared medium (the action 'create' is at least medium)"


@pytest.mark.parametrize(
    ("key", "declared", "floor", "word"),
    [
        ("deploy.production", "low", "high", "deploy"),
        ("deploy.production", "medium", "high", "deploy"),
        ("db.truncate", "high", "critical", "truncate"),
        ("create.ticket", "low", "medium", "create"),
    ],
)
def test_a_declared_tier_below_the_floor_is_raised(key: str, declared: str, floor: str, word: str) -> None:
    risk = POLICY.assess(key, declared)
    assert risk.tier == floor
    assert risk.reason.startswith(f"declared {declared}, raised to {floor}: the action {word!r} is at least {floor}")
    assert risk.requires_approval is (floor in APPROVAL_TIERS)


def test_a_declared_tier_below_the_default_of_an_unknown_key_is_raised_to_medium() -> None:
    risk = POLICY.assess("frobnicate.widget", "low")
    assert risk.tier == "medium"
    assert "raised to medium" in risk.reason


def test_every_action_word_has_one_valid_floor() -> None:
    assert set(ACTION_FLOORS.values()) == set(TIERS)
    for word, tier in ACTION_FLOORS.items():
        assert STEP_KEY_PATTERN.match(word), word
        assert POLICY.assess(f"{word}.thing", None).tier == tier
    assert ACTION_FLOORS[DEFAULT_ACTION] == "medium"


def test_tier_helpers() -> None:
    assert [tier_rank(tier) for tier in TIERS] == [0, 1, 2, 3]
    assert highest_tier(["low", "critical", "medium"]) == "critical"
    assert highest_tier(["medium", "low"]) == "medium"
    assert highest_tier([]) is None


def _view(position: int, key: str, declared: str | None = None) -> PlanStepView:
    risk = POLICY.assess(key, declared)
    return PlanStepView(position=position, key=key, tier=risk.tier, known=risk.known)


def test_a_plan_of_low_and_medium_steps_is_approved() -> None:
    verdict = POLICY.verify([_view(1, "fetch.data"), _view(2, "create.report")])
    assert (verdict.verdict, verdict.requires_approval, verdict.blocked_reasons) == ("approved", False, ())


def test_a_plan_with_a_high_step_needs_approval() -> None:
    verdict = POLICY.verify([_view(1, "create.ticket"), _view(2, "deploy.production")])
    assert (verdict.verdict, verdict.requires_approval, verdict.blocked_reasons) == ("needs_approval", True, ())


def test_an_empty_plan_is_rejected() -> None:
    verdict = POLICY.verify([])
    assert verdict.verdict == "rejected"
    assert verdict.requires_approval is False
    assert verdict.blocked_reasons == ("EMPTY_PLAN: the plan has no steps",)


def test_an_unknown_step_key_is_rejected_and_named() -> None:
    verdict = POLICY.verify([_view(1, "create.ticket"), _view(2, "frobnicate.widget")])
    assert verdict.verdict == "rejected"
    assert verdict.blocked_reasons == ("UNKNOWN_STEP_KEY: step 2 'frobnicate.widget' names no action the policy knows",)


def test_a_tier_without_an_approver_role_is_rejected() -> None:
    policy = Policy(approver_roles={"high": None, "critical": "admin"})
    steps = [_view(1, "deploy.production"), _view(2, "db.drop"), _view(3, "fetch.data")]
    verdict = policy.verify(steps)
    assert verdict.verdict == "rejected"
    assert verdict.requires_approval is True
    assert verdict.blocked_reasons == (
        "NO_APPROVER_ROLE: step 1 'deploy.production' is high and no approver role is configured for it",
    )
    # The same plan passes when both tiers have an approver.
    assert POLICY.verify(steps).verdict == "needs_approval"


def test_every_reason_is_reported_not_only_the_first() -> None:
    policy = Policy(approver_roles={})
    verdict = policy.verify([_view(1, "frobnicate.widget", "critical"), _view(2, "deploy.production")])
    codes = [reason.split(":", 1)[0] for reason in verdict.blocked_reasons]
    assert codes == ["UNKNOWN_STEP_KEY", "NO_APPROVER_ROLE", "NO_APPROVER_ROLE"]


def test_approver_notes() -> None:
    assert POLICY.approver_note("low") is None
    assert POLICY.approver_note("medium") is None
    assert POLICY.approver_note("high") == "high steps are decided by the admin role"
    nobody = Policy(approver_roles={"high": None})
    assert nobody.approver_note("high") == "no approver role is configured for high steps"
    assert nobody.approver_note("critical") == "no approver role is configured for critical steps"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("Deploy the billing service", "deploy.intent"),
        ("deploy", "deploy.intent"),
        ("  DELETE the old buckets", "delete.intent"),
        ("Fetch the logs, then tell me", "fetch.intent"),
        ("Hello", "handle.intent"),
        ("Deployment notes please", "handle.intent"),
        ("42 servers to restart", "handle.intent"),
        ("¿Deploy?", "handle.intent"),
        ("", "handle.intent"),
    ],
)
def test_the_default_step_key_comes_from_the_first_word(text: str, key: str) -> None:
    assert POLICY.default_step_key(text) == key
    assert STEP_KEY_PATTERN.match(key)


def test_default_step_keys_are_tiered_like_any_key() -> None:
    assert POLICY.assess(POLICY.default_step_key("Deploy it"), None).tier == "high"
    assert POLICY.assess(POLICY.default_step_key("Hello"), None).tier == "medium"
    assert POLICY.assess(POLICY.default_step_key("Hello"), None).known is True


@pytest.mark.parametrize("key", ["deploy", "deploy.production", "a1.b2:c3_d4-e5", "x"])
def test_step_key_pattern_accepts(key: str) -> None:
    assert STEP_KEY_PATTERN.match(key)


@pytest.mark.parametrize("key", ["Deploy", "1deploy", "deploy..prod", "deploy.", ".deploy", "deploy prod", ""])
def test_step_key_pattern_refuses(key: str) -> None:
    assert not STEP_KEY_PATTERN.match(key)
