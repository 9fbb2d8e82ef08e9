"""The audit side of the lifecycle over HTTP: trace, policyExplanation, evidence bundles and their digests,
lanes of runs and executions, list filters, and the deterministic plan hash."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import or_, select

from app.contracts.control_plane import build_registry
from app.contracts.control_plane.shared import ControlPlaneExecutionLaneDetail
from app.contracts.naming import camel
from app.db.tables import (
    event_table,
    execution_table,
    plan_table,
    run_table,
    step_table,
)
from app.services.kernel.canonical import sha256_digest
from app.services.lifecycle.policy import POLICY_VERSION
from app.testing.documents import (
    BUNDLE,
    EXECUTIONS,
    EXPLAIN,
    EXPORT,
    LANE,
    LANES,
    PAUSE,
    RESUME,
    RETRY,
    STEP_FAILED,
    STEP_STARTED,
    TRACE,
)
from tests.conftest import Execute, MintToken
from tests.integration.helpers import failing, fetch, remove_seeded_data
from tests.integration.lifecycle import (
    Lifecycle,
    journey_approved,
    journey_paused_resumed,
    journey_rejected,
    journey_retried,
)

AWAITING = "awaiting_approval"
VERSIONS = {spec.key: spec.version for spec in build_registry().events}


@pytest.fixture
def new_life(execute: Execute, token: MintToken) -> Callable[[], Lifecycle]:
    admin, runner, approver = token("dana"), token("rita", "runner"), token("erin")

    def make() -> Lifecycle:
        return Lifecycle(execute=execute, admin=admin, runner=runner, approver=approver)

    return make


@pytest.fixture
def life(new_life: Callable[[], Lifecycle]) -> Lifecycle:
    return new_life()


@pytest.fixture
async def empty(database) -> None:
    """No executions but the test's own (the seeded demo data is removed from this test's database)."""
    await remove_seeded_data(database)


async def not_found(life: Lifecycle, database, document: str, payload: dict[str, Any]) -> str:
    error = await failing(life.execute, database, document, {"input": payload}, bearer=life.admin)
    assert error["extensions"]["code"] == "NOT_FOUND", error
    return str(error["message"])


# --- trace ------------------------------------------------------------------------------------------


async def test_trace_tells_the_whole_life_in_order(life: Lifecycle, database) -> None:
    await journey_approved(life)
    trace = await life.call(TRACE, {"executionId": life.execution_id})
    assert trace["executionId"] == life.execution_id
    entries = trace["entries"]
    expected = [
        ("intent.received", "pending", "dana", None),
        ("plan.compiled", "compiled", "dana", None),
        ("plan.verified", "verified", "dana", None),
        ("execution.started", "running", "dana", None),
        ("step.started", "running", "rita", 1),
        ("step.completed", "completed", "rita", 1),
        ("step.approvalRequested", AWAITING, "rita", 2),
        ("step.approvalRecorded", AWAITING, "erin", 2),
        ("step.approved", "approved", "erin", 2),
        ("step.started", "running", "rita", 2),
        ("step.completed", "completed", "rita", 2),
        ("step.started", "running", "rita", 3),
        ("step.completed", "completed", "rita", 3),
        ("execution.completed", "completed", "rita", None),
        ("evidence.exported", "exported", "dana", None),
        ("evidence.exported", "exported", "dana", None),
    ]
    assert [(e["stage"], e["status"], e["actorId"]) for e in entries] == [row[:3] for row in expected]

    rows = await fetch(
        database,
        select(event_table).where(event_table.c.execution_id == life.execution_id).order_by(event_table.c.sequence),
    )
    assert len(rows) == len(entries)
    for index, (entry, row, (_, _, _, position)) in enumerate(zip(entries, rows, expected, strict=True)):
        metadata = entry["metadata"]
        assert metadata["sequence"] == row["sequence"]
        assert metadata["eventKey"] == row["event_key"]
        assert metadata["eventVersion"] == VERSIONS[row["event_key"]]
        assert "payload" not in metadata
        assert metadata.get("runId") == (life.run_id if index >= 3 else None)
        assert metadata.get("stepId") == (life.step(position) if position else None)
        assert set(metadata) <= {"sequence", "eventKey", "eventVersion", "runId", "stepId"}
        assert datetime.fromisoformat(entry["timestamp"]) == row["occurred_at"]
    sequences = [entry["metadata"]["sequence"] for entry in entries]
    assert sequences == sorted(sequences)
    assert "runId" not in entries[0]["metadata"]

    with_payloads = await life.call(TRACE, {"executionId": life.execution_id, "includePayloads": True})
    assert [e["metadata"]["payload"] for e in with_payloads["entries"]] == [row["payload"] for row in rows]
    recorded, approved = (with_payloads["entries"][index]["metadata"]["payload"] for index in (7, 8))
    assert (recorded["note"], recorded["approvalsGiven"], recorded["requiredApprovals"]) == (
        "Change window open.",
        1,
        1,
    )
    assert (approved["note"], approved["approvedBy"], approved["approvers"]) == (
        "Change window open.",
        "erin",
        ["erin"],
    )
    # Explicitly false is the default.
    without = await life.call(TRACE, {"executionId": life.execution_id, "includePayloads": False})
    assert without == trace


async def test_trace_of_a_resume_reads_the_status_it_resumed_to(life: Lifecycle) -> None:
    await journey_paused_resumed(life)
    entries = (await life.call(TRACE, {"executionId": life.execution_id}))["entries"]
    paused_and_resumed = [(e["stage"], e["status"]) for e in entries if e["stage"].startswith("execution.")]
    assert paused_and_resumed == [
        ("execution.started", "running"),
        ("execution.paused", "paused"),
        ("execution.resumed", AWAITING),
        ("execution.completed", "completed"),
    ]


async def test_trace_tells_a_rejection_from_a_failure(new_life) -> None:
    rejected = new_life()
    await journey_rejected(rejected)
    entries = (await rejected.call(TRACE, {"executionId": rejected.execution_id}))["entries"]
    assert [(e["stage"], e["status"], e["actorId"]) for e in entries][-3:] == [
        ("step.blocked", "rejected", "erin"),
        ("execution.failed", "rejected", "erin"),  # the execution's status after a rejection
        ("evidence.exported", "exported", "dana"),
    ]
    failed = new_life()
    await failed.started()
    await failed.report(STEP_STARTED, 1)
    await failed.report(STEP_FAILED, 1, errorCode="TIMEOUT", message="Timed out.")
    entries = (await failed.call(TRACE, {"executionId": failed.execution_id}))["entries"]
    assert [(e["stage"], e["status"], e["actorId"]) for e in entries][-2:] == [
        ("step.failed", "failed", "rita"),
        ("execution.failed", "failed", "rita"),
    ]


async def test_trace_of_an_unknown_execution_is_not_found(life: Lifecycle, database) -> None:
    message = await not_found(life, database, TRACE, {"executionId": "exe-nobody"})
    assert "exe-nobody" in message


# --- policyExplanation ----------------------------------------------------------------------------------


async def test_policy_explanation_through_the_plan_life(life: Lifecycle, database) -> None:
    await life.submit()
    explained = await life.call(EXPLAIN, {"executionId": life.execution_id})
    assert explained == {
        "verdict": "unverified",
        "riskTier": "low",
        "reasons": ["no plan yet: compilePlan assigns each step a risk tier"],
        "policyVersion": POLICY_VERSION,
    }

    await life.compile()
    explained = await life.call(EXPLAIN, {"executionId": life.execution_id})
    assert (explained["verdict"], explained["riskTier"], explained["policyVersion"]) == (
        "unverified",
        "high",
        POLICY_VERSION,
    )
    reasons = explained["reasons"]
    assert len(reasons) == 5
    assert reasons[0].startswith("step 1 'build.artifact': ")
    assert "'build'" in reasons[0]
    assert reasons[1] == (
        "step 2 'deploy.production': high (the action 'deploy' is high risk; high and critical steps require approval)"
    )
    assert reasons[2] == "step 3 'notify.team': medium (the action 'notify' is medium risk)"
    assert reasons[3] == "high steps are decided by the admin role"
    assert reasons[4] == "the plan has not been verified: verifyPlan gives the verdict"

    await life.verify()
    explained = await life.call(EXPLAIN, {"executionId": life.execution_id})
    assert (explained["verdict"], explained["riskTier"]) == ("needs_approval", "high")
    assert explained["reasons"] == reasons[:4]

    await life.start()
    step_2 = {"executionId": life.execution_id, "stepId": life.step(2)}
    explained = await life.call(EXPLAIN, step_2)
    assert explained == {
        "verdict": "needs_approval",
        "riskTier": "high",
        "reasons": [reasons[1], "high steps are decided by the admin role"],
        "policyVersion": POLICY_VERSION,
    }
    step_3 = await life.call(EXPLAIN, {"executionId": life.execution_id, "stepId": life.step(3)})
    assert step_3 == {
        "verdict": "approved",
        "riskTier": "medium",
        "reasons": [reasons[2]],
        "policyVersion": POLICY_VERSION,
    }

    await life.run_step(1)
    await life.approve(2, note="Window open.")
    explained = await life.call(EXPLAIN, step_2)
    assert explained["verdict"] == "approved"
    assert explained["reasons"][-1] == "approved by erin: Window open."


async def test_policy_explanation_of_a_rejected_decision_and_a_rejected_plan(new_life) -> None:
    decided = new_life()
    await decided.started()
    await decided.run_step(1)
    await decided.reject(2, reason="Freeze.")
    explained = await decided.call(EXPLAIN, {"executionId": decided.execution_id, "stepId": decided.step(2)})
    assert explained["verdict"] == "rejected"
    assert explained["reasons"][-1] == "rejected by erin: Freeze."

    blocked = new_life()
    await blocked.prepared({"steps": [{"key": "fetch.logs"}, {"key": "frobnicate.widget"}]})
    await blocked.refresh()
    explained = await blocked.call(EXPLAIN, {"executionId": blocked.execution_id})
    assert explained["verdict"] == "rejected"
    assert explained["riskTier"] == "medium"
    unknown = "UNKNOWN_STEP_KEY: step 2 'frobnicate.widget' names no action the policy knows"
    assert explained["reasons"] == [
        "step 1 'fetch.logs': low (the action 'fetch' is low risk)",
        "step 2 'frobnicate.widget': medium (no known action in 'frobnicate.widget'; medium by default)",
        unknown,
    ]
    # A step's explanation carries only the blocked reasons about that step.
    step_1 = await blocked.call(EXPLAIN, {"executionId": blocked.execution_id, "stepId": blocked.step(1)})
    assert step_1["verdict"] == "rejected"
    assert step_1["reasons"] == ["step 1 'fetch.logs': low (the action 'fetch' is low risk)"]
    step_2 = await blocked.call(EXPLAIN, {"executionId": blocked.execution_id, "stepId": blocked.step(2)})
    assert step_2["reasons"][1:] == [unknown]


async def test_a_declared_tier_below_the_floor_is_raised(life: Lifecycle) -> None:
    draft = {
        "steps": [
            {"key": "deploy.production", "riskTier": "low"},
            {"key": "fetch.logs", "riskTier": "critical"},
        ]
    }
    await life.prepared(draft)
    record = await life.refresh()
    assert [(s["riskTier"], s["requiresApproval"]) for s in life.steps] == [("high", True), ("critical", True)]
    assert record["riskTier"] == "critical"
    explained = await life.call(EXPLAIN, {"executionId": life.execution_id, "stepId": life.step(1)})
    assert explained["riskTier"] == "high"
    assert explained["reasons"][0] == (
        "step 1 'deploy.production': high (declared low, raised to high: the action 'deploy' is at least high; "
        "high and critical steps require approval)"
    )
    explained = await life.call(EXPLAIN, {"executionId": life.execution_id, "stepId": life.step(2)})
    assert explained["riskTier"] == "critical"
    assert explained["reasons"][0].startswith("step 2 'fetch.logs': critical (declared critical")
    assert explained["reasons"][1] == "critical steps are decided by the admin role"


async def test_policy_explanation_of_unknown_things_is_not_found(new_life, database) -> None:
    life = new_life()
    other = new_life()
    await life.prepared()
    await other.prepared()
    await other.refresh()
    await not_found(life, database, EXPLAIN, {"executionId": "exe-nobody"})
    await not_found(life, database, EXPLAIN, {"executionId": life.execution_id, "stepId": "stp-nobody"})
    # A step of another execution is not a step of this one.
    message = await not_found(life, database, EXPLAIN, {"executionId": life.execution_id, "stepId": other.step(1)})
    assert other.step(1) in message
    assert life.execution_id in message


# --- evidence -------------------------------------------------------------------------------------------


def jcs_of_ascii(value: Any) -> bytes:
    """RFC 8785 for data of ASCII strings, integers, booleans and null only: then the standard library's
    sorted, whitespace-free JSON is already canonical (code point order is UTF-16 order for ASCII)."""

    def only_simple(item: Any) -> None:
        assert not isinstance(item, float), item
        if isinstance(item, dict):
            for key, inner in item.items():
                only_simple(key)
                only_simple(inner)
        elif isinstance(item, list):
            for inner in item:
                only_simple(inner)
        elif isinstance(item, str):
            assert item.isascii(), item

    only_simple(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


async def test_evidence_bundles_and_their_digests(life: Lifecycle, database) -> None:
    await life.submit()
    compiled = await life.compile()
    await life.verify()
    await life.start()
    await life.run_step(1, output={"artifact": "app-42.tar"})
    await life.approve(2)
    await life.run_step(2)
    await life.run_step(3)

    await not_found(life, database, BUNDLE, {"runId": life.run_id})
    first = await life.call(EXPORT, {"runId": life.run_id, "exportedBy": "dana"})
    second = await life.call(EXPORT, {"runId": life.run_id, "exportedBy": "dana"})
    assert (first["evidenceBundleCount"], second["evidenceBundleCount"]) == (1, 2)
    assert first["bundleId"] != second["bundleId"]
    assert first["digest"] != second["digest"]

    latest = await life.call(BUNDLE, {"runId": life.run_id})
    older = await life.call(BUNDLE, {"runId": life.run_id, "bundleId": first["bundleId"]})
    assert (latest["bundleId"], latest["ordinal"], latest["digest"]) == (second["bundleId"], 2, second["digest"])
    assert (older["bundleId"], older["ordinal"], older["digest"]) == (first["bundleId"], 1, first["digest"])
    for shown, exported in ((older, first), (latest, second)):
        bundle = shown["bundle"]
        assert shown["digest"] == sha256_digest(bundle)
        independent = "sha256:" + hashlib.sha256(jcs_of_ascii(bundle)).hexdigest()
        assert independent == shown["digest"] == exported["digest"]
        assert (shown["runId"], shown["executionId"], shown["exportedBy"]) == (life.run_id, life.execution_id, "dana")
        assert (bundle["bundleId"], bundle["ordinal"]) == (shown["bundleId"], shown["ordinal"])
        assert at(bundle["exportedAt"]) == at(shown["exportedAt"]) == at(exported["exportedAt"])

    bundle = older["bundle"]
    assert bundle["format"] == "control-plane.evidence/1"
    assert bundle["execution"]["status"] == "completed"
    assert bundle["run"]["runId"] == life.run_id
    assert bundle["run"]["status"] == "completed"
    assert bundle["plan"]["planId"] == life.plan_id
    assert bundle["plan"]["deterministicHash"] == compiled["deterministicHash"]
    assert bundle["plan"]["deterministicHash"] == sha256_digest(bundle["plan"]["document"])
    assert bundle["plan"]["verdict"] == "needs_approval"
    assert [s["status"] for s in bundle["steps"]] == ["completed"] * 3
    assert bundle["steps"][0]["output"] == {"artifact": "app-42.tar"}
    assert [d["decision"] for d in bundle["decisions"]] == ["approved"]
    assert bundle["intent"]["text"] == "Ship release 42"

    rows = await fetch(
        database,
        select(event_table).where(event_table.c.execution_id == life.execution_id).order_by(event_table.c.sequence),
    )
    listed = [event["sequence"] for event in bundle["events"]]
    assert listed == sorted(listed)
    # The first bundle holds everything up to the run's completion; the second also the first export.
    assert listed == [row["sequence"] for row in rows][:-2]
    assert [e["eventKey"] for e in latest["bundle"]["events"]][-2:] == [
        "controlPlane.execution.completed",
        "controlPlane.execution.evidence.exported",
    ]
    assert [e["payload"] for e in bundle["events"]] == [row["payload"] for row in rows][:-2]

    # Tampering is visible: change one field and the digest no longer matches.
    tampered = json.loads(json.dumps(bundle))
    tampered["steps"][0]["output"] = {"artifact": "evil.tar"}
    assert sha256_digest(tampered) != older["digest"]

    await not_found(life, database, BUNDLE, {"runId": life.run_id, "bundleId": "evb-nobody"})
    await not_found(life, database, BUNDLE, {"runId": "run-nobody"})
    await not_found(life, database, EXPORT, {"runId": "run-nobody", "exportedBy": "dana"})


async def test_a_digest_survives_storage_of_numbers_and_non_ascii_text(life: Lifecycle) -> None:
    """Floats, whole floats, large integers and non-ASCII text in a step's output: the digest recomputed
    from what evidenceBundle returns is still the one exported (the database's JSON round trip changes
    no canonical byte)."""
    await life.started({"steps": [{"key": "fetch.rates", "input": {"città": "Zürich"}}]})
    output = {"ratio": 0.25, "whole": 2.0, "big": 12345678901234567890, "tiny": 1e-7, "note": "Zürich ✓ 😀"}
    await life.run_step(1, output=output)
    exported = await life.call(EXPORT, {"runId": life.run_id, "exportedBy": "dana"})
    shown = await life.call(BUNDLE, {"runId": life.run_id})
    assert shown["digest"] == exported["digest"] == sha256_digest(shown["bundle"])
    stored = shown["bundle"]["steps"][0]["output"]
    assert stored["note"] == "Zürich ✓ 😀"
    assert (stored["ratio"], stored["whole"], stored["tiny"]) == (0.25, 2.0, 1e-7)


async def test_evidence_of_a_retried_execution_is_per_run(life: Lifecycle, database) -> None:
    await journey_retried(life)
    runs = await fetch(
        database, select(run_table).where(run_table.c.execution_id == life.execution_id).order_by(run_table.c.attempt)
    )
    old_run, new_run = runs[0]["id"], runs[1]["id"]
    assert new_run == life.run_id
    old = await life.call(BUNDLE, {"runId": old_run})
    new = await life.call(BUNDLE, {"runId": new_run})
    assert (old["ordinal"], new["ordinal"]) == (1, 1)
    assert old["bundle"]["run"]["status"] == "failed"
    assert (new["bundle"]["run"]["status"], new["bundle"]["run"]["retryOf"]) == ("completed", old_run)
    # A run's bundle has the execution's plan events and its own run's events, nobody else's.
    assert {e["runId"] for e in old["bundle"]["events"]} == {None, old_run}
    assert {e["runId"] for e in new["bundle"]["events"]} == {None, new_run}
    for shown in (old, new):
        assert shown["digest"] == sha256_digest(shown["bundle"])
        assert shown["digest"] == "sha256:" + hashlib.sha256(jcs_of_ascii(shown["bundle"])).hexdigest()
    third = await life.call(EXPORT, {"runId": old_run, "exportedBy": "dana"})
    assert third["evidenceBundleCount"] == 2
    again = await life.call(EXPORT, {"runId": new_run, "exportedBy": "dana"})
    assert again["evidenceBundleCount"] == 2
    # The old bundle, superseded state: the old run has ended as superseded since the retry.
    assert (await life.call(BUNDLE, {"runId": old_run}))["bundle"]["run"]["status"] == "superseded"


# --- lanes ----------------------------------------------------------------------------------------------


LANE_FIELDS = {camel(name) for name in ControlPlaneExecutionLaneDetail.model_fields}
"""Every field of the contract; the LANE document asks for all of them."""


async def lane_of(life: Lifecycle, run_id: str | None = None) -> dict[str, Any]:
    lane: dict[str, Any] = (await life.call(LANE, {"runId": run_id or life.run_id}))["run"]
    assert set(lane) == LANE_FIELDS
    return lane


async def updated_at(database, execution_id: str) -> datetime:
    (row,) = await fetch(database, select(execution_table.c.updated_at).where(execution_table.c.id == execution_id))
    value: datetime = row["updated_at"]
    return value


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def test_lanes_of_runs_in_every_state(new_life, database, empty) -> None:  # noqa: PLR0915 - every lane state, one run each, in order
    running = new_life()
    await running.started()
    await running.report(STEP_STARTED, 1)
    lane = await lane_of(running)
    assert lane == {
        "runId": running.run_id,
        "executionId": running.execution_id,
        "laneKey": "execute",
        "laneStatus": "active",
        "lanePhase": "running",
        "ownerRole": "runner",
        "objective": "Run step 1 of 3 (build.artifact)",
        "teamStatus": "waiting_on_runner",
        "completionPhase": "0/3",
        "terminalReadiness": "not_ready",
        "missingEvidence": [],
        "missingApprovals": ["step 2 deploy.production"],
        "blockingRisks": [],
        "recommendedNextLane": "complete",
        "evidenceBundleCount": 0,
        "approvalCount": 0,
        "transitionCount": 2,
        "queueSkew": 0,
        "cleanupStatus": None,
        "retryCount": 0,
        "snapshotRef": None,
        "updatedAt": lane["updatedAt"],
    }
    assert at(lane["updatedAt"]) == await updated_at(database, running.execution_id)

    awaiting = new_life()
    await awaiting.started()
    await awaiting.run_step(1)
    lane = await lane_of(awaiting)
    assert lane["queueSkew"] >= 0
    assert lane == {
        "runId": awaiting.run_id,
        "executionId": awaiting.execution_id,
        "laneKey": "review",
        "laneStatus": "blocked",
        "lanePhase": AWAITING,
        "ownerRole": "approver",
        "objective": "Decide step 2 of 3 (deploy.production), high risk",
        "teamStatus": "waiting_on_approver",
        "completionPhase": "1/3",
        "terminalReadiness": "not_ready",
        "missingEvidence": ["approval:deploy.production"],
        "missingApprovals": ["step 2 deploy.production"],
        "blockingRisks": ["step 2 deploy.production is high risk and awaits a decision"],
        "recommendedNextLane": "execute",
        "evidenceBundleCount": 0,
        "approvalCount": 0,
        "transitionCount": 4,
        "queueSkew": lane["queueSkew"],
        "cleanupStatus": None,
        "retryCount": 0,
        "snapshotRef": None,
        "updatedAt": lane["updatedAt"],
    }

    completed = new_life()
    await completed.started()
    await completed.run_step(1)
    await completed.approve(2)
    await completed.run_step(2)
    await completed.run_step(3)
    before = await lane_of(completed)
    assert before == {
        "runId": completed.run_id,
        "executionId": completed.execution_id,
        "laneKey": "complete",
        "laneStatus": "done",
        "lanePhase": "completed",
        "ownerRole": "auditor",
        "objective": "Export evidence of the completed run",
        "teamStatus": "done",
        "completionPhase": "3/3",
        "terminalReadiness": "needs_evidence",
        "missingEvidence": ["bundle"],
        "missingApprovals": [],
        "blockingRisks": [],
        "recommendedNextLane": None,
        "evidenceBundleCount": 0,
        "approvalCount": 1,
        "transitionCount": 11,  # approvalRecorded and approved: the vote, then the outcome
        "queueSkew": 0,
        "cleanupStatus": "clean",
        "retryCount": 0,
        "snapshotRef": None,
        "updatedAt": before["updatedAt"],
    }
    exported = await completed.call(EXPORT, {"runId": completed.run_id, "exportedBy": "dana"})
    after = await lane_of(completed)
    assert after == before | {
        "objective": "Done: evidence exported",
        "terminalReadiness": "ready",
        "missingEvidence": [],
        "evidenceBundleCount": 1,
        "transitionCount": 12,
        "snapshotRef": exported["bundleId"],
        "updatedAt": after["updatedAt"],
    }
    assert at(after["updatedAt"]) == at(exported["exportedAt"])

    failed = new_life()
    await failed.started()
    await failed.report(STEP_STARTED, 1)
    await failed.report(STEP_FAILED, 1, errorCode="TIMEOUT", message="Build farm timed out.")
    lane = await lane_of(failed)
    assert lane == {
        "runId": failed.run_id,
        "executionId": failed.execution_id,
        "laneKey": "complete",
        "laneStatus": "stopped",
        "lanePhase": "failed",
        "ownerRole": "operator",
        "objective": "Retry from step 1 of 3 (build.artifact)",
        "teamStatus": "stopped",
        "completionPhase": "0/3",
        "terminalReadiness": "needs_evidence",
        "missingEvidence": ["bundle"],
        "missingApprovals": ["step 2 deploy.production"],
        "blockingRisks": ["step 1 build.artifact failed: TIMEOUT"],
        "recommendedNextLane": None,
        "evidenceBundleCount": 0,
        "approvalCount": 0,
        "transitionCount": 4,
        "queueSkew": 0,
        "cleanupStatus": "retryable",
        "retryCount": 0,
        "snapshotRef": None,
        "updatedAt": lane["updatedAt"],
    }

    retried = new_life()
    await retried.started()
    await retried.report(STEP_STARTED, 1)
    await retried.report(STEP_FAILED, 1, errorCode="TIMEOUT", message="Build farm timed out.")
    superseded_run = retried.run_id
    retried.run_id = (await retried.control(RETRY, "retriedBy"))["runId"]
    old = await lane_of(retried, superseded_run)
    assert old == {
        "runId": superseded_run,
        "executionId": retried.execution_id,
        "laneKey": "complete",
        "laneStatus": "stopped",
        "lanePhase": "superseded",
        "ownerRole": "auditor",
        "objective": "Superseded by a retry",
        "teamStatus": "stopped",
        "completionPhase": "0/3",
        "terminalReadiness": "needs_evidence",
        "missingEvidence": ["bundle"],
        "missingApprovals": ["step 2 deploy.production"],
        "blockingRisks": [],
        "recommendedNextLane": None,
        "evidenceBundleCount": 0,
        "approvalCount": 0,
        "transitionCount": 4,
        "queueSkew": 0,
        "cleanupStatus": "clean",
        "retryCount": 0,
        "snapshotRef": None,
        "updatedAt": old["updatedAt"],
    }
    new = await lane_of(retried)
    assert (new["lanePhase"], new["retryCount"], new["transitionCount"], new["teamStatus"]) == (
        "running",
        1,
        2,
        "waiting_on_runner",
    )

    paused = new_life()
    await paused.started()
    await paused.control(PAUSE, "pausedBy")
    lane = await lane_of(paused)
    assert (lane["laneKey"], lane["laneStatus"], lane["ownerRole"], lane["blockingRisks"]) == (
        "execute",
        "blocked",
        "operator",
        ["the run is paused"],
    )
    assert lane["objective"] == "Resume or stop the paused run at step 1 of 3 (build.artifact)"
    await paused.control(RESUME, "resumedBy")

    # The list: every run, filtered by lane key and status, with the total.
    runs = {
        running.run_id: ("execute", "active"),
        awaiting.run_id: ("review", "blocked"),
        completed.run_id: ("complete", "done"),
        failed.run_id: ("complete", "stopped"),
        superseded_run: ("complete", "stopped"),
        retried.run_id: ("execute", "active"),
        paused.run_id: ("execute", "active"),
    }
    everything = await running.call(LANES, {})
    assert everything["total"] == len(runs)
    assert {item["runId"]: (item["laneKey"], item["laneStatus"]) for item in everything["items"]} == runs
    for key in ("plan", "execute", "review", "complete"):
        listed = await running.call(LANES, {"laneKey": key})
        expected = {run for run, lane in runs.items() if lane[0] == key}
        assert listed["total"] == len(expected)
        assert {item["runId"] for item in listed["items"]} == expected
    for status in ("active", "blocked", "done", "stopped"):
        listed = await running.call(LANES, {"laneStatus": status})
        expected = {run for run, lane in runs.items() if lane[1] == status}
        assert listed["total"] == len(expected)
        assert {item["runId"] for item in listed["items"]} == expected
    both = await running.call(LANES, {"laneKey": "complete", "laneStatus": "stopped"})
    assert {item["runId"] for item in both["items"]} == {failed.run_id, superseded_run}
    page = await running.call(LANES, {"limit": 2, "offset": 1})
    assert (page["total"], len(page["items"])) == (len(runs), 2)
    assert [item["runId"] for item in page["items"]] == [item["runId"] for item in everything["items"]][1:3]

    summary = next(item for item in everything["items"] if item["runId"] == awaiting.run_id)
    assert summary == {
        "runId": awaiting.run_id,
        "executionId": awaiting.execution_id,
        "laneKey": "review",
        "laneStatus": "blocked",
        "lanePhase": AWAITING,
        "ownerRole": "approver",
        "objective": "Decide step 2 of 3 (deploy.production), high risk",
        "evidenceCompleteness": 0.5,
        "terminalReadiness": "not_ready",
        "pendingApprovalCount": 1,
        "missingEvidenceCount": 1,
        "missingApprovalCount": 1,
        "recommendedNextLane": "execute",
        "updatedAt": summary["updatedAt"],
    }
    done = next(item for item in everything["items"] if item["runId"] == completed.run_id)
    assert (done["evidenceCompleteness"], done["terminalReadiness"], done["missingEvidenceCount"]) == (1.0, "ready", 0)
    stopped = next(item for item in everything["items"] if item["runId"] == failed.run_id)
    assert (stopped["evidenceCompleteness"], stopped["missingEvidenceCount"]) == (0.5, 1)

    error = await failing(running.execute, database, LANES, {"input": {"laneKey": "nowhere"}}, bearer=running.admin)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    await not_found(running, database, LANE, {"runId": "run-nobody"})


# --- executions -----------------------------------------------------------------------------------------


async def test_executions_filters_and_lanes(new_life, empty) -> None:
    intake = new_life()
    await intake.submit(workspace="ws-a")
    planned = new_life()
    await planned.submit(workspace="ws-a")
    await planned.compile()
    low = new_life()
    await low.submit(workspace="ws-b")
    await low.compile({"steps": [{"key": "fetch.logs"}]})
    await low.verify()
    blocked_plan = new_life()
    await blocked_plan.submit(workspace="ws-b")
    await blocked_plan.compile({"steps": [{"key": "frobnicate.widget"}]})
    await blocked_plan.verify()
    running = new_life()
    await running.started()  # workspace ws-test
    waiting = new_life()
    await waiting.started()
    await waiting.run_step(1)
    done = new_life()
    await done.started({"steps": [{"key": "fetch.logs"}]})
    await done.run_step(1)
    await done.call(EXPORT, {"runId": done.run_id, "exportedBy": "dana"})

    everything = await intake.call(EXECUTIONS, {})
    assert everything["total"] == 7
    lanes = {item["executionId"]: item["lane"] for item in everything["items"]}
    by_id = {item["executionId"]: item for item in everything["items"]}

    def lane(
        key: str, status: str, phase: str, owner: str, bundles: int, pending: int, following: str | None
    ) -> dict[str, Any]:
        return {
            "laneKey": key,
            "laneStatus": status,
            "lanePhase": phase,
            "ownerRole": owner,
            "evidenceBundleCount": bundles,
            "pendingApprovalCount": pending,
            "recommendedNextLane": following,
        }

    assert lanes == {
        intake.execution_id: lane("plan", "active", "intake", "planner", 0, 0, "execute"),
        planned.execution_id: lane("plan", "active", "planned", "planner", 0, 0, "execute"),
        low.execution_id: lane("plan", "active", "verified", "planner", 0, 0, "execute"),
        blocked_plan.execution_id: lane("plan", "active", "plan_rejected", "planner", 0, 0, "execute"),
        running.execution_id: lane("execute", "active", "running", "runner", 0, 0, "complete"),
        waiting.execution_id: lane("review", "blocked", AWAITING, "approver", 0, 1, "execute"),
        done.execution_id: lane("complete", "done", "completed", "auditor", 1, 0, None),
    }
    assert (by_id[intake.execution_id]["riskTier"], by_id[low.execution_id]["riskTier"]) == (None, "low")
    # Most recently updated first.
    times = [at(item["updatedAt"]) for item in everything["items"]]
    assert times == sorted(times, reverse=True)

    # The record of one execution carries the same lane.
    record = await waiting.refresh()
    assert record["lane"] == lanes[waiting.execution_id]

    async def ids(**filters: Any) -> tuple[int, set[str]]:
        found = await intake.call(EXECUTIONS, filters)
        return found["total"], {item["executionId"] for item in found["items"]}

    assert await ids(workspaceId="ws-a") == (2, {intake.execution_id, planned.execution_id})
    assert await ids(workspaceId="ws-b") == (2, {low.execution_id, blocked_plan.execution_id})
    assert await ids(workspaceId="ws-none") == (0, set())
    pending = {intake.execution_id, planned.execution_id, low.execution_id, blocked_plan.execution_id}
    assert await ids(status="pending") == (4, pending)
    assert await ids(status="running") == (1, {running.execution_id})
    assert await ids(status=AWAITING) == (1, {waiting.execution_id})
    assert await ids(status="completed") == (1, {done.execution_id})
    assert await ids(riskTier="high") == (3, {planned.execution_id, running.execution_id, waiting.execution_id})
    assert await ids(riskTier="low") == (2, {low.execution_id, done.execution_id})
    assert await ids(riskTier="medium") == (1, {blocked_plan.execution_id})
    assert await ids(workspaceId="ws-b", riskTier="low") == (1, {low.execution_id})
    assert await ids(workspaceId="ws-test", status="running", riskTier="high") == (1, {running.execution_id})
    paged = await intake.call(EXECUTIONS, {"limit": 3, "offset": 2})
    assert (paged["total"], [i["executionId"] for i in paged["items"]]) == (
        7,
        [i["executionId"] for i in everything["items"]][2:5],
    )


# --- deterministic hash -----------------------------------------------------------------------------------


async def test_the_same_draft_gives_the_same_hash_in_any_execution(new_life) -> None:
    draft = {"steps": [{"key": "fetch.logs", "input": {"since": "1h", "levels": ["error", "warn"]}}]}
    reordered = {"steps": [{"input": {"levels": ["error", "warn"], "since": "1h"}, "key": "fetch.logs"}]}
    first, second, third, other = new_life(), new_life(), new_life(), new_life()
    await first.submit(text="First")
    await second.submit(text="Second", workspace="ws-other")
    await third.submit(text="Third")
    await other.submit(text="First")
    a = await first.compile(draft)
    b = await second.compile(draft)
    c = await third.compile(reordered)
    d = await other.compile({"steps": [{"key": "fetch.logs", "input": {"since": "2h", "levels": ["error", "warn"]}}]})
    assert a["deterministicHash"] == b["deterministicHash"] == c["deterministicHash"]
    assert a["planId"] != b["planId"]
    assert d["deterministicHash"] != a["deterministicHash"]
    declared = new_life()
    await declared.submit()
    tiered = await declared.compile({"steps": [{**draft["steps"][0], "riskTier": "high"}]})
    assert tiered["deterministicHash"] != a["deterministicHash"]


async def test_no_draft_compiles_one_step_from_the_intent_text(new_life, database) -> None:
    deploy = new_life()
    await deploy.submit(text="Deploy the billing service to production")
    compiled = await deploy.compile(None)
    assert compiled["stepCount"] == 1
    record = await deploy.refresh()
    (step,) = record["steps"]
    assert (step["key"], step["riskTier"], step["requiresApproval"]) == ("deploy.intent", "high", True)
    assert (record["riskTier"], record["requiresApproval"]) == ("high", True)
    assert (await deploy.verify())["verdict"] == "needs_approval"
    (row,) = await fetch(database, select(step_table.c.input).where(step_table.c.execution_id == deploy.execution_id))
    assert row["input"] == {"text": "Deploy the billing service to production"}

    hello = new_life()
    await hello.submit(text="Hello")
    await hello.compile(None)
    (step,) = (await hello.refresh())["steps"]
    assert (step["key"], step["riskTier"], step["requiresApproval"]) == ("handle.intent", "medium", False)
    assert (await hello.verify())["verdict"] == "approved"

    # The step's input is the text, so the same text gives the same plan and another text another one.
    again = new_life()
    await again.submit(text="Hello", workspace="ws-other")
    different = new_life()
    await different.submit(text="Hello there")
    hashes = [(await life.compile(None))["deterministicHash"] for life in (again, different)]
    hello_hash = (
        await fetch(database, select(plan_table.c.deterministic_hash).where(plan_table.c.id == hello.plan_id))
    )[0]["deterministic_hash"]
    assert hashes[0] == hello_hash
    assert hashes[1] != hello_hash

    # An empty draft is a plan without steps; the policy rejects it.
    empty_plan = new_life()
    await empty_plan.submit()
    assert (await empty_plan.compile({"steps": []}))["stepCount"] == 0
    assert (await empty_plan.verify())["blockedReasons"] == ["EMPTY_PLAN: the plan has no steps"]


async def test_bundle_events_of_a_run_exclude_other_runs(life: Lifecycle, database) -> None:
    """The events a bundle lists are the execution's events without a run and the run's own events."""
    await journey_retried(life)
    rows = await fetch(
        database,
        select(event_table.c.sequence)
        .where(
            event_table.c.execution_id == life.execution_id,
            or_(event_table.c.run_id.is_(None), event_table.c.run_id == life.run_id),
        )
        .order_by(event_table.c.sequence),
    )
    bundle = (await life.call(BUNDLE, {"runId": life.run_id}))["bundle"]
    # The bundle was exported before its own evidence.exported event was appended.
    assert [e["sequence"] for e in bundle["events"]] == [row["sequence"] for row in rows][:-1]
