"""The approval policy: rules that say who decides a step, how many must agree and what happens at the deadline.

Pure data and functions (no I/O besides reading the policy file at start). The file is JSON, or TOML of
the same structure (CONTRACTS.md, "Approval workflow"); it is refused at start, with every problem
named, when a rule could never match, when the last rule does not catch every step that requires
approval, when a critical step could be approved by a timeout, or when a quorum is out of reach.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from app.contracts.control_plane.approval import MAX_REQUIRED_APPROVALS, ControlPlaneApprovalRule, TimeoutAction
from app.contracts.control_plane.statuses import APPROVAL_TIERS, RiskTier
from app.contracts.naming import camel
from app.services.kernel.canonical import sha256_digest

BUILTIN_POLICY_VERSION = "builtin/2026-12"
BUILTIN_POLICY: Mapping[str, Any] = {
    "policyVersion": BUILTIN_POLICY_VERSION,
    "rules": [
        {
            "ruleId": "default",
            "description": "High and critical steps need one admin.",
            "matchTiers": [RiskTier.HIGH.value, RiskTier.CRITICAL.value],
            "approverRoles": ["admin"],
            "requiredApprovals": 1,
        }
    ],
}
"""Today's behaviour, when no APPROVAL_POLICY_FILE is set."""

_MATCH_FIELDS = ("match_tiers", "match_keys", "match_workspaces")
_SNAKE = re.compile(r"(?<!^)(?=[A-Z])")


class PolicyError(ValueError):
    """The policy file cannot be used; the message names every problem."""


@dataclass(frozen=True, slots=True)
class ApprovalPolicy:
    version: str
    rules: tuple[ControlPlaneApprovalRule, ...]

    @property
    def digest(self) -> str:
        return sha256_digest(self.document())

    def document(self) -> dict[str, Any]:
        """The policy as its file states it (camelCase, defaults written out)."""
        return {
            "policyVersion": self.version,
            "rules": [rule_document(rule) for rule in self.rules],
        }

    def rule_for(self, tier: str, key: str, workspace_id: str) -> ControlPlaneApprovalRule:
        """The first rule that matches; validation guarantees the last one matches every approval step."""
        for rule in self.rules:
            if matches(rule, tier, key, workspace_id):
                return rule
        raise LookupError(f"no approval rule matches {key!r} ({tier}) in {workspace_id!r}")


def rule_document(rule: ControlPlaneApprovalRule) -> dict[str, Any]:
    return {camel(name): value for name, value in rule.model_dump(mode="json").items() if name != "policy_version"}


def stored_rule(rule: ControlPlaneApprovalRule) -> dict[str, Any]:
    """The rule as stored with a step (camelCase, with its policyVersion)."""
    return {camel(name): value for name, value in rule.model_dump(mode="json").items()}


def rule_from_stored(document: dict[str, Any]) -> ControlPlaneApprovalRule:
    return ControlPlaneApprovalRule.model_validate({_snake(key): value for key, value in document.items()})


def matches(rule: ControlPlaneApprovalRule, tier: str, key: str, workspace_id: str) -> bool:
    return (
        (rule.match_tiers is None or tier in rule.match_tiers)
        and (rule.match_keys is None or any(fnmatchcase(key, pattern) for pattern in rule.match_keys))
        and (rule.match_workspaces is None or workspace_id in rule.match_workspaces)
    )


def _catches_all(rule: ControlPlaneApprovalRule) -> bool:
    """Matches every step that requires approval, whatever its key and workspace."""
    return (
        (rule.match_tiers is None or set(rule.match_tiers) >= APPROVAL_TIERS)
        and (rule.match_keys is None or "*" in rule.match_keys)
        and rule.match_workspaces is None
    )


def _may_govern_critical(rule: ControlPlaneApprovalRule) -> bool:
    return rule.match_tiers is None or RiskTier.CRITICAL in rule.match_tiers


def _match_problems(label: str, rule: ControlPlaneApprovalRule) -> list[str]:
    problems = [
        f"{label}: {camel(name)} is empty, so the rule can never match (leave it out)"
        for name in _MATCH_FIELDS
        if getattr(rule, name) is not None and not getattr(rule, name)
    ]
    if rule.match_tiers:
        unknown = [tier for tier in rule.match_tiers if tier not in set(RiskTier)]
        if unknown:
            problems.append(f"{label}: matchTiers names unknown tiers {unknown} (known: {[t.value for t in RiskTier]})")
        elif not set(rule.match_tiers) & APPROVAL_TIERS:
            problems.append(
                f"{label}: can never match: only high and critical steps require approval, "
                f"and matchTiers is {rule.match_tiers}"
            )
    return problems


def _timeout_problems(label: str, rule: ControlPlaneApprovalRule) -> list[str]:
    problems = []
    if (rule.timeout_seconds is None) != (rule.on_timeout is None):
        problems.append(f"{label}: timeoutSeconds and onTimeout go together (give both or neither)")
    if rule.on_timeout is TimeoutAction.APPROVE and _may_govern_critical(rule):
        problems.append(
            f"{label}: onTimeout 'approve' is refused for critical steps; "
            "set matchTiers without 'critical' or choose 'reject' or 'escalate'"
        )
    if rule.on_timeout is TimeoutAction.ESCALATE and not rule.escalate_to_roles:
        problems.append(f"{label}: onTimeout 'escalate' needs escalateToRoles")
    if rule.escalate_to_roles is not None and rule.on_timeout is not TimeoutAction.ESCALATE:
        problems.append(f"{label}: escalateToRoles is used only with onTimeout 'escalate'")
    return problems


def _problems(rules: Sequence[ControlPlaneApprovalRule]) -> list[str]:
    if not rules:
        return ["the policy has no rules; the last rule must match every step that requires approval"]
    problems: list[str] = []
    seen: set[str] = set()
    for index, rule in enumerate(rules):
        label = f"rule {index + 1} ({rule.rule_id!r})"
        if rule.rule_id in seen:
            problems.append(f"{label}: ruleId is used twice")
        seen.add(rule.rule_id)
        problems.extend(_match_problems(label, rule))
        if any(_catches_all(earlier) for earlier in rules[:index]):
            problems.append(f"{label}: can never match: an earlier rule already matches every step")
        if rule.required_approvals > MAX_REQUIRED_APPROVALS:
            problems.append(
                f"{label}: requiredApprovals {rule.required_approvals} is more than any role can fill "
                f"(at most {MAX_REQUIRED_APPROVALS} distinct people)"
            )
        problems.extend(_timeout_problems(label, rule))
    if not _catches_all(rules[-1]):
        problems.append(
            f"the last rule ({rules[-1].rule_id!r}) must match every step that requires approval "
            "(no matchKeys or matchWorkspaces, and matchTiers absent or with both high and critical)"
        )
    return problems


def _snake(name: str) -> str:
    return _SNAKE.sub("_", name).lower()


def _field_label(loc: tuple[int | str, ...]) -> str:
    return ".".join(camel(part) if isinstance(part, str) else str(part + 1) for part in loc)


def parse_policy(document: Any) -> ApprovalPolicy:
    """A policy from its decoded file; raises PolicyError naming every problem."""
    if not isinstance(document, dict):
        raise PolicyError("the approval policy must be an object with policyVersion and rules")
    unknown = sorted(set(document) - {"policyVersion", "rules"})
    problems = [f"unknown field {name!r} (the policy has policyVersion and rules)" for name in unknown]
    version = document.get("policyVersion")
    if not isinstance(version, str) or not version.strip() or len(version) > 64:
        problems.append("policyVersion must be a text of 1 to 64 characters")
        version = ""
    raw_rules = document.get("rules")
    if not isinstance(raw_rules, list):
        raise PolicyError("; ".join([*problems, "rules must be a list of rules"]))
    rules: list[ControlPlaneApprovalRule] = []
    for index, raw in enumerate(raw_rules):
        if not isinstance(raw, dict):
            problems.append(f"rule {index + 1}: must be an object")
            continue
        if "policyVersion" in raw:
            problems.append(f"rule {index + 1}: policyVersion belongs to the policy, not to a rule")
            continue
        try:
            rules.append(
                ControlPlaneApprovalRule.model_validate(
                    {**{_snake(k): v for k, v in raw.items()}, "policy_version": version}
                )
            )
        except ValidationError as error:
            for item in error.errors(include_url=False, include_input=False):
                where = _field_label(item["loc"])
                message = "unknown field" if item["type"] == "extra_forbidden" else item["msg"]
                problems.append(f"rule {index + 1}: {where}: {message}")
    if not problems:
        problems = _problems(rules)
    if problems:
        raise PolicyError("; ".join(problems))
    return ApprovalPolicy(version=version, rules=tuple(rules))


def load_policy(path: Path | None) -> ApprovalPolicy:
    """APPROVAL_POLICY_FILE (`.toml` is TOML, anything else JSON), or the built-in policy."""
    if path is None:
        return parse_policy(BUILTIN_POLICY)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise PolicyError(f"cannot read APPROVAL_POLICY_FILE {path}: {error.strerror}") from None
    try:
        document = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as error:
        raise PolicyError(
            f"APPROVAL_POLICY_FILE {path} is not valid {path.suffix.lstrip('.').upper() or 'JSON'}: {error}"
        ) from None
    try:
        return parse_policy(document)
    except PolicyError as error:
        raise PolicyError(f"APPROVAL_POLICY_FILE {path}: {error}") from None
