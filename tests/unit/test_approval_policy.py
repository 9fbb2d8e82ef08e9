"""The approval policy file: what it matches, and every policy the server refuses to start with."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from app.__main__ import cli
from app.services.approval.rules import BUILTIN_POLICY, PolicyError, load_policy, parse_policy, rule_document

EXAMPLE: dict[str, Any] = {
    "policyVersion": "2026-12-a",
    "rules": [
        {
            "ruleId": "prod-deploys",
            "matchKeys": ["deploy.*"],
            "approverRoles": ["admin"],
            "requiredApprovals": 2,
            "allowEdit": True,
            "timeoutSeconds": 3600,
            "onTimeout": "escalate",
            "escalateToRoles": ["oncall-lead"],
        },
        {"ruleId": "acme", "matchWorkspaces": ["ws-acme"], "matchTiers": ["critical"], "approverRoles": ["security"]},
        {"ruleId": "default", "matchTiers": ["high", "critical"], "approverRoles": ["admin"], "requiredApprovals": 1},
    ],
}
TOML = """
policyVersion = "2026-12-a"

[[rules]]
ruleId = "prod-deploys"
matchKeys = ["deploy.*"]
approverRoles = ["admin"]
requiredApprovals = 2
allowEdit = true
timeoutSeconds = 3600
onTimeout = "escalate"
escalateToRoles = ["oncall-lead"]

[[rules]]
ruleId = "acme"
matchWorkspaces = ["ws-acme"]
matchTiers = ["critical"]
approverRoles = ["security"]

[[rules]]
ruleId = "default"
matchTiers = ["high", "critical"]
approverRoles = ["admin"]
requiredApprovals = 1
"""


def with_rule(**changes: Any) -> dict[str, Any]:
    first = {**EXAMPLE["rules"][0], **changes}
    return {**EXAMPLE, "rules": [{k: v for k, v in first.items() if v is not None}, *EXAMPLE["rules"][1:]]}


@pytest.mark.parametrize(
    ("tier", "key", "workspace", "rule"),
    [
        ("high", "deploy.production", "ws-globex", "prod-deploys"),
        ("critical", "deploy.database", "ws-acme", "prod-deploys"),  # the first match wins
        ("critical", "drop.table", "ws-acme", "acme"),
        ("critical", "drop.table", "ws-globex", "default"),
        ("high", "deployment.notes", "ws-acme", "default"),  # globs match whole keys
    ],
)
def test_the_first_matching_rule_governs(tier, key, workspace, rule):
    assert parse_policy(EXAMPLE).rule_for(tier, key, workspace).rule_id == rule


def test_toml_and_json_of_the_same_structure_are_the_same_policy(tmp_path: Path):
    (tmp_path / "policy.toml").write_text(TOML)
    (tmp_path / "policy.json").write_text(json.dumps(EXAMPLE))
    from_toml, from_json = load_policy(tmp_path / "policy.toml"), load_policy(tmp_path / "policy.json")
    assert from_toml == from_json
    assert from_toml.digest == from_json.digest
    assert from_toml.digest.startswith("sha256:")


def test_defaults_are_written_out_and_the_digest_follows_the_rules():
    policy = parse_policy(EXAMPLE)
    first = rule_document(policy.rules[0])
    assert (first["allowSelfApproval"], first["matchTiers"], first["matchWorkspaces"]) == (False, None, None)
    changed = parse_policy(with_rule(requiredApprovals=3))
    assert changed.digest != policy.digest


def test_the_builtin_policy_is_todays_behaviour():
    policy = load_policy(None)
    (rule,) = policy.rules
    assert (rule.match_tiers, rule.approver_roles, rule.required_approvals, rule.timeout_seconds) == (
        ["high", "critical"],
        ["admin"],
        1,
        None,
    )
    assert policy.document() == parse_policy(BUILTIN_POLICY).document()


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        (with_rule(requiredApprovals=0), "requiredApprovals: Input should be greater than or equal to 1"),
        (with_rule(requiredApprovals=21), "more than any role can fill"),
        (with_rule(colour="blue"), "rule 1: colour: unknown field"),
        ({**EXAMPLE, "owner": "me"}, "unknown field 'owner'"),
        (with_rule(matchTiers=["low", "medium"]), "can never match: only high and critical steps require approval"),
        (with_rule(matchTiers=["urgent"]), "unknown tiers ['urgent']"),
        (with_rule(matchKeys=[]), "matchKeys is empty"),
        (
            {**EXAMPLE, "rules": [EXAMPLE["rules"][2], EXAMPLE["rules"][0], EXAMPLE["rules"][2] | {"ruleId": "x"}]},
            "rule 2 ('prod-deploys'): can never match: an earlier rule already matches every step",
        ),
        ({**EXAMPLE, "rules": EXAMPLE["rules"][:2]}, "the last rule ('acme') must match every step"),
        ({**EXAMPLE, "rules": []}, "the policy has no rules"),
        (
            with_rule(onTimeout="approve", escalateToRoles=None, matchTiers=["critical"]),
            "onTimeout 'approve' is refused for critical steps",
        ),
        (with_rule(onTimeout="approve", escalateToRoles=None), "onTimeout 'approve' is refused for critical steps"),
        (with_rule(escalateToRoles=None), "onTimeout 'escalate' needs escalateToRoles"),
        (with_rule(timeoutSeconds=None), "timeoutSeconds and onTimeout go together"),
        (with_rule(onTimeout="later"), "onTimeout: Input should be 'reject', 'approve' or 'escalate'"),
        (with_rule(approverRoles=[]), "approverRoles: List should have at least 1 item"),
        (with_rule(approverRoles=["Release Managers"]), "approverRoles.1: String should match pattern"),
        (
            {**EXAMPLE, "rules": [EXAMPLE["rules"][0] | {"policyVersion": "x"}, EXAMPLE["rules"][2]]},
            "policyVersion belongs to the policy",
        ),
        ({"rules": EXAMPLE["rules"]}, "policyVersion must be a text"),
        (
            {**EXAMPLE, "rules": [EXAMPLE["rules"][0], EXAMPLE["rules"][0], EXAMPLE["rules"][2]]},
            "ruleId is used twice",
        ),
    ],
)
def test_a_policy_that_cannot_work_is_refused_with_every_problem_named(policy, message):
    with pytest.raises(PolicyError) as excinfo:
        parse_policy(policy)
    assert message in str(excinfo.value)


def test_approve_on_timeout_is_allowed_for_high_steps_only():
    policy = parse_policy(with_rule(onTimeout="approve", escalateToRoles=None, matchTiers=["high"]))
    assert policy.rules[0].on_timeout == "approve"


def test_a_file_that_is_not_json_or_toml_is_refused(tmp_path: Path):
    broken = tmp_path / "policy.json"
    broken.write_text("{not json")
    with pytest.raises(PolicyError, match="is not valid JSON"):
        load_policy(broken)
    with pytest.raises(PolicyError, match="cannot read APPROVAL_POLICY_FILE"):
        load_policy(tmp_path / "missing.toml")


def test_the_server_refuses_to_start_with_a_bad_policy(tmp_path: Path):
    bad = tmp_path / "policy.json"
    bad.write_text(json.dumps(with_rule(requiredApprovals=50)))
    env = {"APPROVAL_POLICY_FILE": str(bad), "VAR_DIR": str(tmp_path), "JWT_SECRET": "s" * 48}
    result = CliRunner().invoke(cli, ["serve"], env=env)
    assert result.exit_code != 0
    assert "APPROVAL_POLICY_FILE" in result.output
    assert "requiredApprovals 50 is more than any role can fill" in result.output
