"""The approval workflow through the public API (CONTRACTS.md, "Approval workflow"): rules from a policy
file, quorums of distinct people, separation of duties, review digests, approval with edits, refusals
that explain themselves, decisions of many steps at once, and the terms stored with each request.

Every test drives the API the way Studio does (gql over the ASGI app) under the policy below; a
refused decision leaves the database exactly as it was.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from gql import Client, gql
from gql.transport.exceptions import TransportQueryError
from gql.transport.httpx import HTTPXAsyncTransport
from starlette.applications import Starlette

from app.server import create_app
from app.settings import Settings
from app.testing.documents import (
    APPROVAL_POLICY,
    APPROVAL_REQUEST,
    BUNDLE,
    DECIDE_MANY,
    EXPORT,
    INBOX,
    LANE,
    LANES,
    REJECT,
    TRACE,
    VOTE,
)
from tests.conftest import Execute, MintToken, error_of, make_settings, snapshot
from tests.integration.helpers import decision_rows, events
from tests.integration.lifecycle import Lifecycle

POLICY = {
    "policyVersion": "test-2026-12",
    "rules": [
        {
            "ruleId": "prod-deploys",
            "description": "Two admins agree on production deploys; edits allowed.",
            "matchKeys": ["deploy.*"],
            "approverRoles": ["admin"],
            "requiredApprovals": 2,
            "allowEdit": True,
            "timeoutSeconds": 3600,
            "onTimeout": "escalate",
            "escalateToRoles": ["oncall-lead"],
        },
        {
            "ruleId": "releases",
            "matchKeys": ["release.*"],
            "approverRoles": ["release-manager"],
            "timeoutSeconds": 600,
            "onTimeout": "reject",
        },
        {
            "ruleId": "default",
            "matchTiers": ["high", "critical"],
            "approverRoles": ["admin"],
            "requiredApprovals": 1,
        },
    ],
}
DEPLOY = {
    "steps": [
        {"key": "build.artifact", "input": {"ref": "main"}},
        {"key": "deploy.production", "input": {"region": "eu-west-1", "replicas": 3}},
        {"key": "notify.team", "input": {"channel": "#ops"}},
    ]
}
RELEASE = {"steps": [{"key": "release.mobile-app", "input": {"version": "4.2.0"}}]}
DELETE = {"steps": [{"key": "delete.stale-records", "input": {"table": "sessions"}}]}


def write_policy(directory: Path, policy: dict[str, Any]) -> Path:
    path = directory / "approval-policy.json"
    path.write_text(json.dumps(policy))
    return path


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url, approval_policy_file=write_policy(tmp_path, POLICY))


@pytest.fixture
def life(execute: Execute, token: MintToken) -> Lifecycle:
    return Lifecycle(execute=execute, admin=token("dana"), runner=token("rita", "runner"), approver=token("erin"))


async def awaiting(life: Lifecycle, draft: dict[str, Any], position: int) -> str:
    """Start `draft` and run it up to the step at `position`, which then awaits a decision."""
    await life.started(draft)
    for earlier in range(1, position):
        await life.run_step(earlier, output={"step": earlier, "ok": True})
    assert (await life.step_statuses())[position - 1] == "awaiting_approval"
    return life.step(position)


async def vote(execute: Execute, token: MintToken, life: Lifecycle, step_id: str, who: str, **extra: Any) -> Any:
    payload = {"executionId": life.execution_id, "stepId": step_id, "approvedBy": who, **extra}
    roles = extra.pop("roles", ())
    bearer = token(who, *roles) if roles else token(who)
    payload.pop("roles", None)
    return (await execute(VOTE, {"input": payload}, bearer=bearer))["approveExecutionStep"]


async def review(execute: Execute, bearer: str, life: Lifecycle, step_id: str) -> dict[str, Any]:
    data = await execute(
        APPROVAL_REQUEST, {"input": {"executionId": life.execution_id, "stepId": step_id}}, bearer=bearer
    )
    request: dict[str, Any] = data["approvalRequest"]["request"]
    return request


async def refused(
    execute: Execute, database: Any, document: str, payload: dict[str, Any], bearer: str
) -> dict[str, Any]:
    """The decision fails and changes nothing; returns its error."""
    before = await snapshot(database)
    with pytest.raises(TransportQueryError) as excinfo:
        await execute(document, {"input": payload}, bearer=bearer)
    assert await snapshot(database) == before
    return error_of(excinfo)


def executor_of(app: Starlette) -> Any:
    """`execute` against another app (here: a second server process with another policy, same database)."""

    async def run(document: str, variables: dict[str, Any], bearer: str) -> dict[str, Any]:
        transport = HTTPXAsyncTransport(
            url="http://testserver/graphql",
            headers={"Authorization": f"Bearer {bearer}"},
            transport=httpx.ASGITransport(app=app),
        )
        request = gql(document)
        request.variable_values = variables
        async with Client(transport=transport, fetch_schema_from_transport=False) as session:
            data: dict[str, Any] = await session.execute(request)
            return data

    return run


def keys_of(rows: list[Any], since: int) -> list[str]:
    return [row["event_key"].removeprefix("controlPlane.execution.") for row in rows[since:]]


# --- quorum ----------------------------------------------------------------------------------------


async def test_a_two_approval_rule_needs_two_distinct_admins(execute, token, life, database):
    step = await awaiting(life, DEPLOY, 2)
    before = len(await events(database))

    first = await vote(execute, token, life, step, "erin", note="Looks right.")
    assert (first["status"], first["approvalsGiven"], first["requiredApprovals"]) == ("awaiting_approval", 1, 2)
    inbox = await execute(INBOX, {"input": {"workspaceId": "ws-test"}}, bearer=token("frank"))
    (item,) = [i for i in inbox["pendingApprovals"]["items"] if i["stepId"] == step]
    assert (item["approvalsGiven"], item["requiredApprovals"], item["viewerCanDecide"]) == (1, 2, True)
    assert await life.status() == "awaiting_approval"

    second = await vote(execute, token, life, step, "frank")
    assert (second["status"], second["approvalsGiven"]) == ("approved", 2)
    assert await life.status() == "running"
    rows = await events(database)
    assert keys_of(rows, before) == ["step.approvalRecorded", "step.approvalRecorded", "step.approved"]
    approved = rows[-1]["payload"]
    assert (approved["approvedBy"], approved["approvers"], approved["inputEdited"]) == (
        "frank",
        ["erin", "frank"],
        False,
    )


async def test_nobody_votes_twice_and_an_identical_vote_is_a_replay(execute, token, life, database):
    step = await awaiting(life, DEPLOY, 2)
    first = await vote(execute, token, life, step, "erin", note="ok")
    before = await snapshot(database)
    again = await vote(execute, token, life, step, "erin", note="ok")
    assert again == first  # the original answer, time included
    assert await snapshot(database) == before

    payload = {"executionId": life.execution_id, "stepId": step, "approvedBy": "erin", "note": "changed my note"}
    error = await refused(execute, database, VOTE, payload, token("erin"))
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert [r["code"] for r in error["extensions"]["reasons"]] == ["ALREADY_VOTED"]


async def test_the_requester_may_not_approve_their_own_request_but_may_reject_it(execute, token, life, database):
    step = await awaiting(life, DELETE, 1)
    payload = {"executionId": life.execution_id, "stepId": step, "approvedBy": "dana"}
    error = await refused(execute, database, VOTE, payload, token("dana"))
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert [r["code"] for r in error["extensions"]["reasons"]] == ["SELF_APPROVAL"]
    assert "asked for this step" in error["message"]

    request = await review(execute, token("dana"), life, step)
    assert request["viewerEligibility"]["canDecide"] is False
    assert [r["code"] for r in request["viewerEligibility"]["reasons"]] == ["SELF_APPROVAL"]

    rejected = await execute(
        REJECT,
        {"input": {"executionId": life.execution_id, "stepId": step, "rejectedBy": "dana", "reason": "Wrong table."}},
        bearer=token("dana"),
    )
    assert rejected["rejectExecutionStep"]["status"] == "rejected"


async def test_an_approver_role_of_the_rule_is_required(execute, token, life, database):
    step = await awaiting(life, RELEASE, 1)
    payload = {"executionId": life.execution_id, "stepId": step, "approvedBy": "erin"}
    error = await refused(execute, database, VOTE, payload, token("erin"))
    assert [r["code"] for r in error["extensions"]["reasons"]] == ["ROLE_REQUIRED"]
    assert "release-manager" in error["message"]

    inbox = await execute(INBOX, {"input": {"decidableByMe": True}}, bearer=token("erin"))
    assert step not in {item["stepId"] for item in inbox["pendingApprovals"]["items"]}
    manager = token("mia", "admin", "release-manager")
    mine = await execute(INBOX, {"input": {"decidableByMe": True}}, bearer=manager)
    assert step in {item["stepId"] for item in mine["pendingApprovals"]["items"]}

    decided = await execute(VOTE, {"input": {**payload, "approvedBy": "mia"}}, bearer=manager)
    assert decided["approveExecutionStep"]["status"] == "approved"


async def test_a_role_alone_is_not_enough_without_the_admin_level(execute, token, life, database):
    step = await awaiting(life, RELEASE, 1)
    payload = {"executionId": life.execution_id, "stepId": step, "approvedBy": "mia"}
    error = await refused(execute, database, VOTE, payload, token("mia", "release-manager"))
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert "admin" in error["message"]


async def test_one_eligible_reject_vetoes_a_partial_quorum(execute, token, life, database):
    step = await awaiting(life, DEPLOY, 2)
    await vote(execute, token, life, step, "erin")
    rejected = await execute(
        REJECT,
        {"input": {"executionId": life.execution_id, "stepId": step, "rejectedBy": "frank", "reason": "Freeze week."}},
        bearer=token("frank"),
    )
    assert rejected["rejectExecutionStep"]["status"] == "rejected"
    assert await life.step_statuses() == ["completed", "rejected", "skipped"]
    assert await life.status() == "rejected"


async def test_a_conflict_about_a_decided_step_names_who_decided_and_when(execute, token, life, database):
    step = await awaiting(life, DELETE, 1)
    decided = await vote(execute, token, life, step, "erin")
    payload = {"executionId": life.execution_id, "stepId": step, "approvedBy": "frank"}
    error = await refused(execute, database, VOTE, payload, token("frank"))
    extensions = error["extensions"]
    assert (extensions["code"], extensions["currentStatus"], extensions["decision"]) == (
        "CONFLICT",
        "approved",
        "approved",
    )
    assert (extensions["decidedBy"], extensions["decidedAt"][:19]) == ("erin", decided["approvedAt"][:19])


# --- what was reviewed -----------------------------------------------------------------------------


async def test_the_approval_request_shows_what_the_reviewer_approves(execute, token, life):
    step = await awaiting(life, DEPLOY, 2)
    request = await review(execute, token("erin"), life, step)
    assert (request["key"], request["position"], request["status"], request["riskTier"]) == (
        "deploy.production",
        2,
        "awaiting_approval",
        "high",
    )
    assert request["input"] == {"region": "eu-west-1", "replicas": 3}
    assert request["originalInput"] is None
    assert (request["intentText"], request["requestedBy"], request["workspaceId"]) == (
        "Ship release 42",
        "dana",
        "ws-test",
    )
    assert request["planId"] == life.plan_id
    assert request["planHash"].startswith("sha256:")
    assert request["reviewDigest"].startswith("sha256:")
    assert len(request["reviewDigest"]) == 71
    assert request["riskReasons"]
    assert "deploy" in request["riskReasons"][0]
    assert (request["rule"]["ruleId"], request["rule"]["policyVersion"], request["requiredApprovals"]) == (
        "prod-deploys",
        "test-2026-12",
        2,
    )
    assert request["deadline"] is not None
    assert request["awaitingSince"] is not None
    assert request["precedingSteps"] == [
        {"stepId": life.step(1), "key": "build.artifact", "status": "completed", "output": {"step": 1, "ok": True}}
    ]
    assert request["approvals"] == []
    assert request["viewerEligibility"] == {"canDecide": True, "reasons": []}

    await vote(execute, token, life, step, "erin", note="fine")
    after = await review(execute, token("erin"), life, step)
    assert [(v["actorId"], v["decision"], v["note"], v["editedInput"]) for v in after["approvals"]] == [
        ("erin", "approved", "fine", False)
    ]
    assert [r["code"] for r in after["viewerEligibility"]["reasons"]] == ["ALREADY_VOTED"]


async def test_an_id_outside_the_grants_is_not_found(execute, token, life):
    step = await awaiting(life, DEPLOY, 2)
    with pytest.raises(TransportQueryError) as excinfo:
        await review(execute, token("gus", workspaces=["ws-acme"]), life, step)
    assert error_of(excinfo)["extensions"]["code"] == "NOT_FOUND"


async def test_a_stale_review_digest_is_a_conflict_that_changes_nothing(execute, token, life, database):
    step = await awaiting(life, DEPLOY, 2)
    seen = (await review(execute, token("frank"), life, step))["reviewDigest"]
    edited = await vote(execute, token, life, step, "erin", editedInput={"region": "eu-west-1", "replicas": 2})
    assert edited["approvalsGiven"] == 1
    payload = {"executionId": life.execution_id, "stepId": step, "approvedBy": "frank", "reviewDigest": seen}
    error = await refused(execute, database, VOTE, payload, token("frank"))
    assert (error["extensions"]["code"], error["extensions"]["currentStatus"]) == ("CONFLICT", "review_stale")
    now = (await review(execute, token("frank"), life, step))["reviewDigest"]
    assert now != seen
    assert error["extensions"]["reviewDigest"] == now

    approved = await vote(execute, token, life, step, "frank", reviewDigest=now)
    assert approved["status"] == "approved"


async def test_approve_with_edits_replaces_the_input_and_discards_votes_for_the_old_one(execute, token, life, database):
    step = await awaiting(life, DEPLOY, 2)
    await vote(execute, token, life, step, "frank")  # for the input as planned
    before = len(await events(database))
    edited_input = {"region": "eu-west-1", "replicas": 1, "canary": True}
    edited = await vote(execute, token, life, step, "erin", editedInput=edited_input, note="Canary first.")
    assert (edited["status"], edited["approvalsGiven"]) == ("awaiting_approval", 1)  # frank's vote was for other input

    request = await review(execute, token("frank"), life, step)
    assert request["input"] == edited_input
    assert request["originalInput"] == {"region": "eu-west-1", "replicas": 3}
    assert [(v["actorId"], v["editedInput"]) for v in request["approvals"]] == [("erin", True)]
    assert request["viewerEligibility"]["canDecide"] is True  # frank may vote again, on what is there now

    done = await vote(execute, token, life, step, "frank", reviewDigest=request["reviewDigest"])
    assert done["status"] == "approved"
    rows = await events(database)
    recorded = rows[before]["payload"]
    assert (recorded["editedInput"], recorded["originalInput"]) == (
        edited_input,
        {"region": "eu-west-1", "replicas": 3},
    )
    approved = rows[-1]["payload"]
    assert (approved["inputEdited"], approved["approvers"]) == (True, ["erin", "frank"])
    assert approved["reviewDigest"] == request["reviewDigest"]
    (decision,) = await decision_rows(database, step)
    assert (decision["original_input"], decision["edited_input"]) == (
        {"region": "eu-west-1", "replicas": 3},
        edited_input,
    )
    trace = await execute(TRACE, {"input": {"executionId": life.execution_id, "includePayloads": True}})
    entries = [entry for entry in trace["trace"]["entries"] if entry["stage"] == "step.approvalRecorded"]
    assert [entry["actorId"] for entry in entries] == ["frank", "erin", "frank"]
    assert entries[1]["metadata"]["payload"]["editedInput"] == edited_input


async def test_edits_need_a_rule_that_allows_them(execute, token, life, database):
    step = await awaiting(life, DELETE, 1)
    payload = {"executionId": life.execution_id, "stepId": step, "approvedBy": "erin", "editedInput": {"table": "x"}}
    error = await refused(execute, database, VOTE, payload, token("erin"))
    assert [r["code"] for r in error["extensions"]["reasons"]] == ["EDIT_NOT_ALLOWED"]


@pytest.mark.parametrize(
    ("edited", "field"),
    [
        ({"blob": "x" * 70_000}, "editedInput"),
        ({"text": "nul\u0000byte"}, "editedInput.text"),
    ],
)
async def test_an_edit_must_be_storable_json_of_bounded_size(execute, token, life, database, edited, field):
    step = await awaiting(life, DEPLOY, 2)
    payload = {"executionId": life.execution_id, "stepId": step, "approvedBy": "erin", "editedInput": edited}
    error = await refused(execute, database, VOTE, payload, token("erin"))
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert field in error["extensions"]["fields"]


# --- the inbox -------------------------------------------------------------------------------------


async def test_my_inbox_holds_what_i_may_decide(execute, token, life):
    step = await awaiting(life, DEPLOY, 2)
    requester = await execute(INBOX, {"input": {"decidableByMe": True, "workspaceId": "ws-test"}}, bearer=token("dana"))
    assert step not in {item["stepId"] for item in requester["pendingApprovals"]["items"]}
    everything = await execute(INBOX, {"input": {"workspaceId": "ws-test"}}, bearer=token("dana"))
    (item,) = [i for i in everything["pendingApprovals"]["items"] if i["stepId"] == step]
    assert item["viewerCanDecide"] is False
    assert item["reviewDigest"] == (await review(execute, token("erin"), life, step))["reviewDigest"]
    assert item["deadline"] is not None

    erin = await execute(INBOX, {"input": {"decidableByMe": True, "workspaceId": "ws-test"}}, bearer=token("erin"))
    assert step in {i["stepId"] for i in erin["pendingApprovals"]["items"]}
    await vote(execute, token, life, step, "erin")
    erin = await execute(INBOX, {"input": {"decidableByMe": True, "workspaceId": "ws-test"}}, bearer=token("erin"))
    assert step not in {i["stepId"] for i in erin["pendingApprovals"]["items"]}
    assert erin["pendingApprovals"]["total"] == len(erin["pendingApprovals"]["items"])


# --- many at once ----------------------------------------------------------------------------------


async def test_decide_many_reports_each_item_in_request_order(execute, token, life):
    first = await awaiting(life, DELETE, 1)
    other = Lifecycle(execute=life.execute, admin=life.admin, runner=life.runner, approver=life.approver)
    second = await awaiting(other, DELETE, 1)
    decisions = [
        {"executionId": life.execution_id, "stepId": first, "decision": "approve", "note": "ok"},
        {"executionId": "exec-does-not-exist", "stepId": "step-x", "decision": "approve"},
        {"executionId": other.execution_id, "stepId": second, "decision": "reject", "reason": "Not today."},
        {"executionId": life.execution_id, "stepId": life.step(1) + "-nope", "decision": "reject", "reason": "x"},
    ]
    data = await execute(DECIDE_MANY, {"input": {"decidedBy": "erin", "decisions": decisions}}, bearer=token("erin"))
    out = data["decideExecutionSteps"]
    assert (out["succeeded"], out["failed"]) == (2, 2)
    assert [(r["stepId"], r["ok"], r["status"], r["code"]) for r in out["results"]] == [
        (first, True, "approved", None),
        ("step-x", False, None, "NOT_FOUND"),
        (second, True, "rejected", None),
        (life.step(1) + "-nope", False, None, "NOT_FOUND"),
    ]
    assert await other.status() == "rejected"

    again = await execute(
        DECIDE_MANY, {"input": {"decidedBy": "erin", "decisions": decisions[:1]}}, bearer=token("erin")
    )
    assert again["decideExecutionSteps"]["results"][0]["ok"] is True  # an identical replay

    conflict = await execute(
        DECIDE_MANY,
        {"input": {"decidedBy": "frank", "decisions": [{**decisions[0], "note": None}]}},
        bearer=token("frank"),
    )
    (result,) = conflict["decideExecutionSteps"]["results"]
    assert (result["ok"], result["code"], result["currentStatus"]) == (False, "CONFLICT", "approved")


@pytest.mark.parametrize(
    ("decisions", "field"),
    [
        ([{"executionId": "e", "stepId": "s", "decision": "approve"}] * 2, "decisions"),
        ([{"executionId": "e", "stepId": f"s{i}", "decision": "approve"} for i in range(101)], "decisions"),
        ([{"executionId": "e", "stepId": "s", "decision": "reject"}], "decisions.0"),
        ([{"executionId": "e", "stepId": "s", "decision": "maybe"}], "decisions.0.decision"),
        ([], "decisions"),
    ],
    ids=["duplicate", "more-than-100", "reject-without-reason", "unknown-decision", "empty"],
)
async def test_decide_many_refuses_bad_input_before_anything_runs(execute, token, database, decisions, field):
    before = await snapshot(database)
    with pytest.raises(TransportQueryError) as excinfo:
        await execute(DECIDE_MANY, {"input": {"decidedBy": "erin", "decisions": decisions}}, bearer=token("erin"))
    error = error_of(excinfo)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert any(name.startswith(field) for name in error["extensions"]["fields"]), error
    assert await snapshot(database) == before


async def test_decide_many_acts_only_in_the_callers_name(execute, token, database):
    payload = {"decidedBy": "frank", "decisions": [{"executionId": "e", "stepId": "s", "decision": "approve"}]}
    error = await refused(execute, database, DECIDE_MANY, payload, token("erin"))
    assert error["extensions"]["code"] == "FORBIDDEN"


# --- the policy --------------------------------------------------------------------------------------


async def test_the_policy_in_force_is_readable(execute, token):
    policy = (await execute(APPROVAL_POLICY, {}, bearer=token("erin")))["approvalPolicy"]
    assert policy["policyVersion"] == "test-2026-12"
    assert policy["digest"].startswith("sha256:")
    assert [rule["ruleId"] for rule in policy["rules"]] == ["prod-deploys", "releases", "default"]
    first = policy["rules"][0]
    assert (first["requiredApprovals"], first["allowEdit"], first["allowSelfApproval"], first["onTimeout"]) == (
        2,
        True,
        False,
        "escalate",
    )
    with pytest.raises(TransportQueryError) as excinfo:
        await execute(APPROVAL_POLICY, {}, bearer=token("rita", "runner"))
    assert error_of(excinfo)["extensions"]["code"] == "FORBIDDEN"


async def test_a_policy_change_never_rewrites_an_open_request(execute, token, life, tmp_path, database_url):
    step = await awaiting(life, DEPLOY, 2)
    stricter = {
        "policyVersion": "test-2026-12-b",
        "rules": [{"ruleId": "everything", "approverRoles": ["admin"], "requiredApprovals": 3}],
    }
    other_dir = tmp_path / "later"
    other_dir.mkdir()
    later = create_app(
        make_settings(other_dir, database_url, approval_policy_file=write_policy(other_dir, stricter)),
        migrate_on_start=False,
    )
    try:
        run = executor_of(later)
        request = (
            await run(APPROVAL_REQUEST, {"input": {"executionId": life.execution_id, "stepId": step}}, token("erin"))
        )["approvalRequest"]["request"]
        assert (request["rule"]["ruleId"], request["rule"]["policyVersion"], request["requiredApprovals"]) == (
            "prod-deploys",
            "test-2026-12",
            2,
        )
        for who in ("erin", "frank"):
            payload = {"executionId": life.execution_id, "stepId": step, "approvedBy": who}
            out = (await run(VOTE, {"input": payload}, token(who)))["approveExecutionStep"]
        assert out["status"] == "approved"  # two votes, as the stored terms say, not three
    finally:
        await later.state.services.database.dispose()


async def test_lanes_count_the_votes_a_quorum_still_lacks(execute, token, life):
    step = await awaiting(life, DEPLOY, 2)

    async def lane() -> tuple[list[str], int]:
        detail = (await execute(LANE, {"input": {"runId": life.run_id}}))["executionLane"]["run"]
        summary = (await execute(LANES, {"input": {"laneKey": "review", "limit": 200}}))["executionLanes"]["items"]
        mine = [item["missingApprovalCount"] for item in summary if item["runId"] == life.run_id]
        return detail["missingApprovals"], mine[0] if mine else 0

    assert await lane() == (["step 2 deploy.production (0 of 2 approvals)"], 2)
    await vote(execute, token, life, step, "erin")
    assert await lane() == (["step 2 deploy.production (1 of 2 approvals)"], 1)
    await vote(execute, token, life, step, "frank")
    assert await lane() == ([], 0)  # approved: the run left the review lane, nothing is missing


async def test_the_evidence_bundle_holds_the_votes_and_the_edit(execute, token, life):
    step = await awaiting(life, DEPLOY, 2)
    edited_input = {"region": "eu-west-1", "replicas": 1}
    await vote(execute, token, life, step, "erin", editedInput=edited_input)
    await vote(execute, token, life, step, "frank")
    await life.run_step(2)
    await life.run_step(3)
    exported = await execute(EXPORT, {"input": {"runId": life.run_id, "exportedBy": "dana"}})
    bundle_id = exported["exportExecutionEvidence"]["bundleId"]
    bundle = (await execute(BUNDLE, {"input": {"runId": life.run_id, "bundleId": bundle_id}}))["evidenceBundle"][
        "bundle"
    ]
    (deploy,) = [s for s in bundle["steps"] if s["stepId"] == step]
    assert (deploy["input"], deploy["originalInput"]) == (edited_input, {"region": "eu-west-1", "replicas": 3})
    assert deploy["approvalRule"]["ruleId"] == "prod-deploys"
    assert [(v["actor"], v["editedInput"]) for v in bundle["votes"]] == [("erin", edited_input), ("frank", None)]
    (decision,) = [d for d in bundle["decisions"] if d["stepId"] == step]
    assert (decision["originalInput"], decision["editedInput"]) == (
        {"region": "eu-west-1", "replicas": 3},
        edited_input,
    )


async def test_the_intents_actor_is_a_requester_too(execute, token, life, database):
    await life.submit(actorId="olga")
    await life.compile(DELETE)
    await life.verify()
    await life.start()
    step = life.step(1)
    payload = {"executionId": life.execution_id, "stepId": step, "approvedBy": "olga"}
    error = await refused(execute, database, VOTE, payload, token("olga"))
    assert [r["code"] for r in error["extensions"]["reasons"]] == ["SELF_APPROVAL"]
    request = await review(execute, token("erin"), life, step)
    assert request["requestedBy"] == "olga"


async def test_the_request_event_names_the_rule_and_policy_version(execute, token, life, database):
    step = await awaiting(life, DEPLOY, 2)
    (requested,) = [
        row
        for row in await events(database)
        if row["event_key"] == "controlPlane.execution.step.approvalRequested" and row["step_id"] == step
    ]
    payload = requested["payload"]
    assert (payload["ruleId"], payload["policyVersion"], payload["requiredApprovals"], payload["approverRoles"]) == (
        "prod-deploys",
        "test-2026-12",
        2,
        ["admin"],
    )
    assert payload["deadline"] is not None
    assert payload["reviewDigest"] == (await review(execute, token("erin"), life, step))["reviewDigest"]
