"""The read side and the schema itself: execution, executions, pendingApprovals, contracts, introspection."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from app.db.database import Database
from app.testing.documents import APPROVE, CONTRACTS, EXECUTION, EXECUTIONS, PENDING_APPROVALS, REJECT
from tests.conftest import DEFAULT_TOKEN, Bearer, Execute
from tests.integration.helpers import (
    DEPLOY,
    MIGRATE_SCHEMA,
    SEEDED_AWAITING,
    SEEDED_EXECUTIONS,
    SEEDED_REASON,
    contract,
    failing,
    instant,
)
from tests.surface import COMMAND_FIELDS, EVENT_KEYS, OPERATION_FIELDS, SUBSCRIPTION_FIELDS

# Every seeded execution, most recently updated first (seeds play on a clock that starts at each
# scenario's `at`, see seeds/demo.toml and seeds/approvals.toml).
SEEDED_ORDER = [
    "exec-initech-release-4",
    "exec-globex-rollout-3",
    "exec-acme-rollout-7",
    "exec-acme-archive-6",
    "exec-initech-rotate-8",
    "exec-globex-backfill-5",
    "exec-globex-scale-4",
    "exec-acme-report-12",
    "exec-acme-intake-11",
    "exec-initech-payout-2",
    "exec-initech-email-5",
    "exec-globex-migrate-9",
    "exec-globex-cleanup-3",
    "exec-acme-refund-7",
    "exec-acme-deploy-42",
    "exec-globex-sync-6",
    "exec-acme-digest-8",
    "exec-initech-cleanup-1",
    "exec-acme-crawl-3",
    "exec-acme-revoke-2",  # escalated in November, waiting since May
]
ALL_EXECUTIONS = set(SEEDED_ORDER)
# The seeded steps awaiting a decision, oldest first (the payout step was rejected by the seed, the
# release step expired).
AWAITING = [
    "step-acme-revoke-2-1",  # escalated: still awaiting, since May
    "step-acme-deploy-42-3",
    "step-acme-refund-7-2",
    "step-globex-cleanup-3-2",
    "step-globex-migrate-9-2",
    "step-initech-email-5-2",
    "step-acme-rollout-7-2",  # half-approved: 1 of 2
]


async def query(execute: Execute, document: str, bearer: Bearer = DEFAULT_TOKEN, **values: Any) -> Any:
    data = await execute(document, {"input": values}, bearer=bearer)
    return next(iter(data.values()))


async def query_error(
    execute: Execute, database: Database, document: str, bearer: Bearer = DEFAULT_TOKEN, **values: Any
) -> dict[str, Any]:
    return await failing(execute, database, document, {"input": values}, bearer=bearer)


async def get_execution(execute: Execute, execution_id: str) -> dict[str, Any]:
    execution: dict[str, Any] = (await query(execute, EXECUTION, executionId=execution_id))["execution"]
    return execution


# --- execution ------------------------------------------------------------------------------------


async def test_execution_returns_its_steps_in_position_order_with_lane(execute):
    execution = await get_execution(execute, "exec-globex-migrate-9")

    steps = execution.pop("steps")
    lane = execution.pop("lane")
    assert instant(execution.pop("createdAt")) == datetime.fromisoformat("2026-11-21T11:00:00+00:00")
    assert instant(execution.pop("updatedAt")) == datetime.fromisoformat("2026-11-21T11:01:40+00:00")
    assert execution == {
        "executionId": "exec-globex-migrate-9",
        "intentId": "int-globex-migrate-9",
        "planId": "plan-globex-migrate-9",
        "runId": "run-globex-migrate-9-1",
        "status": "awaiting_approval",
        "riskTier": "high",
        "requiresApproval": True,
    }
    assert [
        (s["position"], s["stepId"], s["key"], s["status"], s["riskTier"], s["requiresApproval"]) for s in steps
    ] == [
        (1, "step-globex-migrate-9-1", "db.snapshot", "completed", "medium", False),
        (2, "step-globex-migrate-9-2", "db.migrate-schema", "awaiting_approval", "high", True),
        (3, "step-globex-migrate-9-3", "db.reindex", "pending", "high", True),
        (4, "step-globex-migrate-9-4", "service.restart", "pending", "high", True),
    ]
    assert all(s["decidedBy"] is None and s["decidedAt"] is None and s["decisionNote"] is None for s in steps)
    assert lane == {
        "laneKey": "review",
        "laneStatus": "blocked",
        "lanePhase": "awaiting_approval",
        "ownerRole": "approver",
        "evidenceBundleCount": 0,
        "pendingApprovalCount": 1,
        "recommendedNextLane": "execute",
    }


async def test_execution_shows_the_seeded_rejection(execute):
    execution = await get_execution(execute, "exec-initech-payout-2")

    assert execution["status"] == "rejected"
    assert execution["lane"]["laneKey"] == "complete"
    assert execution["lane"]["pendingApprovalCount"] == 0
    decided = execution["steps"][1]
    assert (decided["stepId"], decided["status"], decided["decidedBy"], decided["decisionNote"]) == (
        "step-initech-payout-2-2",
        "rejected",
        "dana",
        SEEDED_REASON,
    )
    instant(decided["decidedAt"])
    assert [s["status"] for s in execution["steps"]] == ["completed", "rejected", "skipped"]


async def test_execution_reflects_a_decision_made_through_the_api(execute):
    data = await execute(REJECT, {"input": {**DEPLOY, "rejectedBy": "dana", "reason": "Freeze."}})

    execution = await get_execution(execute, "exec-acme-deploy-42")

    assert execution["status"] == "rejected"
    assert (execution["lane"]["laneKey"], execution["lane"]["pendingApprovalCount"]) == ("complete", 0)
    step = execution["steps"][2]
    assert (step["status"], step["decidedBy"], step["decisionNote"]) == ("rejected", "dana", "Freeze.")
    assert instant(step["decidedAt"]) == instant(data["rejectExecutionStep"]["rejectedAt"])
    assert instant(execution["updatedAt"]) == instant(step["decidedAt"])


async def test_execution_without_steps_has_an_empty_list(execute):
    execution = await get_execution(execute, "exec-acme-intake-11")

    assert (execution["status"], execution["planId"], execution["runId"], execution["steps"]) == (
        "pending",
        None,
        None,
        [],
    )


@pytest.mark.parametrize(
    ("execution_id", "code"),
    [("exec-nope", "NOT_FOUND"), ("step-acme-deploy-42-3", "NOT_FOUND"), ("bad id!", "BAD_USER_INPUT")],
)
async def test_execution_errors(execute, database, execution_id, code):
    error = await query_error(execute, database, EXECUTION, executionId=execution_id)

    assert error["extensions"]["code"] == code
    assert error["extensions"]["contract"] == contract("controlPlane.execution.get")


# --- executions -----------------------------------------------------------------------------------


async def test_executions_lists_everything_most_recently_updated_first(execute):
    result = await query(execute, EXECUTIONS)

    assert result["total"] == SEEDED_EXECUTIONS
    ids = [item["executionId"] for item in result["items"]]
    assert ids == SEEDED_ORDER
    updated = [instant(item["updatedAt"]) for item in result["items"]]
    assert updated == sorted(updated, reverse=True)
    migrate = next(item for item in result["items"] if item["executionId"] == "exec-globex-migrate-9")
    assert (migrate["lane"]["laneKey"], migrate["lane"]["pendingApprovalCount"]) == ("review", 1)
    assert migrate["riskTier"] == "high"


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"workspaceId": "ws-globex"}, {"cleanup-3", "migrate-9", "scale-4", "sync-6", "backfill-5", "rollout-3"}),
        ({"workspaceId": "ws-initech"}, {"email-5", "payout-2", "initech-cleanup-1", "rotate-8", "release-4"}),
        (
            {"status": "awaiting_approval"},
            {"deploy-42", "refund-7", "cleanup-3", "migrate-9", "email-5", "rollout-7", "revoke-2"},
        ),
        ({"status": "rejected"}, {"payout-2", "release-4"}),  # rejected by dana; expired at its deadline
        ({"status": "cancelled"}, {"initech-cleanup-1"}),
        ({"workspaceId": "ws-acme", "status": "awaiting_approval"}, {"deploy-42", "refund-7", "rollout-7", "revoke-2"}),
        ({"workspaceId": "ws-acme", "status": "rejected"}, set()),
        ({"workspaceId": "ws-nope"}, set()),
    ],
)
async def test_executions_filter_by_workspace_and_status(execute, filters, expected):
    result = await query(execute, EXECUTIONS, **filters)

    ids = {item["executionId"] for item in result["items"]}
    assert ids == {next(i for i in ALL_EXECUTIONS if i.endswith(suffix)) for suffix in expected}
    assert result["total"] == len(expected)
    if "status" in filters:
        assert {item["status"] for item in result["items"]} <= {filters["status"]}


async def test_executions_page_with_limit_and_offset(execute):
    everything = [item["executionId"] for item in (await query(execute, EXECUTIONS, limit=200))["items"]]

    pages = [await query(execute, EXECUTIONS, limit=6, offset=offset) for offset in (0, 6, 12, 18)]

    assert [page["total"] for page in pages] == [SEEDED_EXECUTIONS] * 4
    assert [len(page["items"]) for page in pages] == [6, 6, 6, 2]
    assert [item["executionId"] for page in pages for item in page["items"]] == everything


async def test_executions_list_follows_a_rejection(execute):
    await execute(
        REJECT,
        {
            "input": {
                "executionId": "exec-acme-refund-7",
                "stepId": "step-acme-refund-7-2",
                "rejectedBy": "dana",
                "reason": "Duplicate refund.",
            }
        },
    )

    rejected = await query(execute, EXECUTIONS, status="rejected")
    awaiting = await query(execute, EXECUTIONS, status="awaiting_approval")

    assert {item["executionId"] for item in rejected["items"]} == {
        "exec-acme-refund-7",
        "exec-initech-payout-2",
        "exec-initech-release-4",
    }
    assert awaiting["total"] == 6


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"limit": -1}, "limit"),
        ({"offset": -1}, "offset"),
        ({"status": "bogus"}, "status"),
        ({"status": "REJECTED"}, "status"),
        ({"workspaceId": "bad id!"}, "workspaceId"),
    ],
)
async def test_executions_bad_input(execute, database, values, field):
    error = await query_error(execute, database, EXECUTIONS, **values)

    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert set(error["extensions"]["fields"]) == {field}
    assert error["extensions"]["contract"] == contract("controlPlane.execution.list")


# --- pendingApprovals -----------------------------------------------------------------------------


async def test_pending_approvals_lists_the_seeded_awaiting_steps_oldest_first(execute):
    result = await query(execute, PENDING_APPROVALS)

    assert result["total"] == SEEDED_AWAITING
    assert [item["stepId"] for item in result["items"]] == AWAITING
    since = [instant(item["awaitingSince"]) for item in result["items"]]
    assert since == sorted(since)
    assert {item["executionStatus"] for item in result["items"]} == {"awaiting_approval"}
    escalated, deploy = result["items"][:2]
    assert (escalated["stepId"], escalated["key"], escalated["riskTier"]) == (
        "step-acme-revoke-2-1",
        "revoke.contractor-access",
        "critical",
    )
    assert deploy | {"awaitingSince": None} == {
        "executionId": "exec-acme-deploy-42",
        "executionStatus": "awaiting_approval",
        "executionRiskTier": "high",
        "workspaceId": "ws-acme",
        "stepId": "step-acme-deploy-42-3",
        "position": 3,
        "key": "deploy.production",
        "riskTier": "high",
        "awaitingSince": None,
    }


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"workspaceId": "ws-globex"}, [3, 4]),
        ({"workspaceId": "ws-initech"}, [5]),
        ({"riskTier": "high"}, [1, 3, 4, 5, 6]),
        ({"riskTier": "critical"}, [0, 2]),
        ({"riskTier": "medium"}, []),
        ({"riskTier": "low"}, []),
        ({"workspaceId": "ws-acme", "riskTier": "high"}, [1, 6]),
        ({"limit": 2, "offset": 2}, [2, 3]),
    ],
)
async def test_pending_approvals_filter_and_page(execute, filters, expected):
    result = await query(execute, PENDING_APPROVALS, **filters)

    assert [item["stepId"] for item in result["items"]] == [AWAITING[index] for index in expected]
    assert result["total"] == (SEEDED_AWAITING if "limit" in filters else len(expected))


@pytest.mark.parametrize(
    ("document", "decision", "remaining"),
    [
        (REJECT, {"rejectedBy": "dana", "reason": "Not now."}, 1),
        (APPROVE, {"approvedBy": "dana"}, 1),
    ],
)
async def test_a_decided_step_leaves_the_pending_list(execute, document, decision, remaining):
    ids = MIGRATE_SCHEMA
    await execute(document, {"input": {**ids, **decision}})

    result = await query(execute, PENDING_APPROVALS, workspaceId="ws-globex")

    assert ids["stepId"] not in [item["stepId"] for item in result["items"]]
    assert result["total"] == remaining


async def test_a_rejected_step_leaves_the_pending_list(execute):
    await execute(REJECT, {"input": {**DEPLOY, "rejectedBy": "dana", "reason": "Freeze."}})

    result = await query(execute, PENDING_APPROVALS)

    assert [item["stepId"] for item in result["items"]] == [step for step in AWAITING if step != DEPLOY["stepId"]]
    assert result["total"] == SEEDED_AWAITING - 1


@pytest.mark.parametrize(
    ("values", "field"),
    [({"riskTier": "extreme"}, "riskTier"), ({"limit": 0}, "limit"), ({"limit": 201}, "limit")],
)
async def test_pending_approvals_bad_input(execute, database, values, field):
    error = await query_error(execute, database, PENDING_APPROVALS, **values)

    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert set(error["extensions"]["fields"]) == {field}
    assert error["extensions"]["contract"] == contract("controlPlane.approval.list")


# --- policy of the read side ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "values", "key"),
    [
        (EXECUTION, {"executionId": "exec-acme-deploy-42"}, "controlPlane.execution.get"),
        (EXECUTIONS, {}, "controlPlane.execution.list"),
        (PENDING_APPROVALS, {}, "controlPlane.approval.list"),
    ],
)
@pytest.mark.parametrize(("role", "code"), [(None, "UNAUTHENTICATED"), ("user", "FORBIDDEN")])
async def test_admin_queries_refuse_anonymous_and_user_callers(
    execute, database, token, document, values, key, role, code
):
    bearer = token("bob", role) if role else None

    error = await query_error(execute, database, document, bearer=bearer, **values)

    assert error["extensions"]["code"] == code
    assert error["extensions"]["contract"] == contract(key)


# --- contracts ------------------------------------------------------------------------------------


async def test_contracts_describe_the_reject_command_for_a_user(execute, token):
    result = await query(execute, CONTRACTS, bearer=token("bob", "user"))

    (item,) = [item for item in result["items"] if item["key"] == "controlPlane.execution.reject"]
    tags = item.pop("tags")
    assert {"approval", "automation", "control-plane", "agent-runtime"} <= set(tags)
    assert item == {
        "key": "controlPlane.execution.reject",
        "version": "1.0.0",
        "kind": "command",
        "title": "Reject Execution Step",
        "description": "Reject a pending execution step.",
        "goal": "Allow operators to block unsafe or undesired actions.",
        "context": "Used by approval workflows to stop execution when policy or operator criteria fail.",
        "domain": "control-plane",
        "capability": "control-plane.approval",
        "capabilityVersion": "1.0.0",
        "auth": "admin",
        "owners": ["platform.core"],
        "stability": "experimental",
        "graphqlField": "rejectExecutionStep",
        "inputType": "ControlPlaneExecutionRejectInput",
        "outputType": "ControlPlaneExecutionRejectOutput",
    }


async def test_contracts_list_every_operation_and_event(execute, token):
    everything = await query(execute, CONTRACTS, bearer=token("bob", "user"))
    events = await query(execute, CONTRACTS, bearer=token("bob", "user"), kind="event")

    assert events["total"] == len(events["items"]) == len(EVENT_KEYS) == 25
    assert {item["key"] for item in events["items"]} == EVENT_KEYS
    assert {(item["kind"], item["auth"], item["graphqlField"]) for item in events["items"]} == {("event", None, None)}
    contracts = len(EVENT_KEYS) + len(OPERATION_FIELDS) + len(SUBSCRIPTION_FIELDS)
    assert everything["total"] == len(everything["items"]) == contracts == 67
    operations = {
        item["key"]: item["graphqlField"] for item in everything["items"] if item["kind"] in ("command", "query")
    }
    assert operations == OPERATION_FIELDS
    assert {item["key"]: item["kind"] for item in everything["items"] if item["kind"] in ("command", "query")} == {
        key: "command" if key in COMMAND_FIELDS else "query" for key in OPERATION_FIELDS
    }
    streams = {item["key"]: item["graphqlField"] for item in everything["items"] if item["kind"] == "subscription"}
    assert streams == SUBSCRIPTION_FIELDS


async def test_contracts_filter_by_capability(execute):
    result = await query(execute, CONTRACTS, capability="control-plane.approval")

    assert {item["capability"] for item in result["items"]} == {"control-plane.approval"}
    assert {
        "controlPlane.execution.reject",
        "controlPlane.execution.approve",
        "controlPlane.approval.list",
        "controlPlane.execution.step.blocked",
        "controlPlane.execution.step.approved",
    } <= {item["key"] for item in result["items"]}
    assert "controlPlane.execution.failed" not in {item["key"] for item in result["items"]}


@pytest.mark.parametrize(
    ("bearer", "values", "code"),
    [(None, {}, "UNAUTHENTICATED"), (DEFAULT_TOKEN, {"kind": "mutation"}, "BAD_USER_INPUT")],
)
async def test_contracts_errors(execute, database, bearer, values, code):
    error = await query_error(execute, database, CONTRACTS, bearer=bearer, **values)

    assert error["extensions"]["code"] == code
    assert error["extensions"]["contract"] == contract("controlPlane.contract.list")


# --- introspection --------------------------------------------------------------------------------

TYPE_REF = "kind name ofType { kind name ofType { kind name } }"
INTROSPECT = f"""
query Introspect {{
  __schema {{ queryType {{ name }} mutationType {{ name }} }}
  mutation: __type(name: "Mutation") {{
    fields {{ name description args {{ name type {{ {TYPE_REF} }} }} type {{ {TYPE_REF} }} }}
  }}
  query: __type(name: "Query") {{ fields {{ name }} }}
  input: __type(name: "ControlPlaneExecutionRejectInput") {{ kind inputFields {{ name type {{ {TYPE_REF} }} }} }}
  output: __type(name: "ControlPlaneExecutionRejectOutput") {{ kind fields {{ name type {{ {TYPE_REF} }} }} }}
}}
"""


def nonnull(kind: str, name: str) -> dict[str, Any]:
    return {"kind": "NON_NULL", "name": None, "ofType": {"kind": kind, "name": name, "ofType": None}}


async def test_introspection_shows_reject_as_the_contract_declares_it(execute):
    schema = await execute(INTROSPECT)

    assert schema["__schema"] == {"queryType": {"name": "Query"}, "mutationType": {"name": "Mutation"}}
    fields = {field["name"]: field for field in schema["mutation"]["fields"]}
    reject = fields["rejectExecutionStep"]
    assert reject["args"] == [{"name": "input", "type": nonnull("INPUT_OBJECT", "ControlPlaneExecutionRejectInput")}]
    assert reject["type"] == nonnull("OBJECT", "ControlPlaneExecutionRejectOutput")
    for words in (
        "Reject a pending execution step.",
        "Allow operators to block unsafe or undesired actions.",
        "Used by approval workflows to stop execution when policy or operator criteria fail.",
        "controlPlane.execution.reject",
    ):
        assert words in reject["description"]

    assert schema["input"]["kind"] == "INPUT_OBJECT"
    assert {f["name"]: f["type"] for f in schema["input"]["inputFields"]} == {
        "executionId": nonnull("SCALAR", "ID"),
        "stepId": nonnull("SCALAR", "ID"),
        "rejectedBy": nonnull("SCALAR", "ID"),
        "reason": nonnull("SCALAR", "String"),
        "reviewDigest": {"kind": "SCALAR", "name": "String", "ofType": None},  # optional: older clients omit it
    }
    assert schema["output"]["kind"] == "OBJECT"
    assert {f["name"]: f["type"] for f in schema["output"]["fields"]} == {
        "executionId": nonnull("SCALAR", "ID"),
        "stepId": nonnull("SCALAR", "ID"),
        "status": nonnull("SCALAR", "String"),
        "rejectedAt": nonnull("SCALAR", "DateTime"),
    }
    operation_fields = set(fields) | {field["name"] for field in schema["query"]["fields"]}
    assert operation_fields == set(OPERATION_FIELDS.values())
