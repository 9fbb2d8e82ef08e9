"""Who may call each lifecycle operation, and in whose name.

Every operation is called with no token, an invalid token, a token with no known role, and as a user, a
runner and an admin. Below the contract's auth level the answer is FORBIDDEN (UNAUTHENTICATED without a
valid token) and the database is unchanged; at or above it the call gets through the guard: it succeeds,
or fails for a domain reason (the ids below name nothing, so NOT_FOUND). Commands with an actor field
(pausedBy, exportedBy, ...) refuse an actor other than the caller with FORBIDDEN.

The module shares one database and app (the fixtures below override conftest's per-test ones): no case
depends on another's rows, and every refused case checks the database is unchanged.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import pytest
from gql.transport.exceptions import TransportQueryError

from app.auth import AuthLevel
from app.contracts.control_plane import build_registry
from app.testing import documents as docs
from tests.conftest import error_of
from tests.integration.helpers import app_per_module, failing
from tests.integration.lifecycle import Lifecycle

pytestmark = pytest.mark.asyncio(loop_scope="module")


database_url, settings, app = app_per_module("lifecycle-auth")


SPECS = {spec.graphql_name: spec for spec in build_registry().operations}


MISSING_EXECUTION = {"executionId": "exe_missing"}
MISSING_RUN = {"runId": "run_missing"}
MISSING_STEP = {"runId": "run_missing", "stepId": "stp_missing"}
MISSING_DECISION = MISSING_EXECUTION | {"stepId": "stp_missing", "decision": "approve"}


@dataclass(frozen=True)
class Operation:
    field: str
    document: str
    level: AuthLevel
    """The auth level the contract documents."""
    base: dict[str, Any]
    outcome: str
    """What a caller at or above the level gets with `base`: "ok" or an error code."""
    actor: str | None = None
    """The input field naming who acts."""
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def spec(self) -> Any:
        return SPECS[self.field]

    @property
    def contract(self) -> dict[str, str]:
        return {"key": self.spec.key, "version": self.spec.version}

    def variables(self, sub: str | None, actor: str | None = None) -> dict[str, Any]:
        if not self.spec.input.model_fields:
            return {}
        payload = dict(self.base)
        if self.actor:
            payload[self.actor] = actor or sub or "dana"
        return {"input": payload}


ADMIN, RUNNER, USER = AuthLevel.ADMIN, AuthLevel.RUNNER, AuthLevel.USER
OPERATIONS = [
    Operation("submitIntent", docs.SUBMIT, USER, {"workspaceId": "ws-auth", "text": "Ship release 42"}, "ok"),
    Operation("compilePlan", docs.COMPILE, ADMIN, MISSING_EXECUTION | {"intentId": "int_missing"}, "NOT_FOUND"),
    Operation("verifyPlan", docs.VERIFY, ADMIN, MISSING_EXECUTION | {"planId": "pln_missing"}, "NOT_FOUND"),
    Operation("startExecution", docs.START, ADMIN, MISSING_EXECUTION | {"planId": "pln_missing"}, "NOT_FOUND"),
    Operation("pauseExecution", docs.PAUSE, ADMIN, MISSING_RUN, "NOT_FOUND", "pausedBy"),
    Operation("resumeExecution", docs.RESUME, ADMIN, MISSING_RUN, "NOT_FOUND", "resumedBy"),
    Operation("cancelExecution", docs.CANCEL, ADMIN, MISSING_EXECUTION, "NOT_FOUND", "cancelledBy"),
    Operation("abortExecution", docs.ABORT, ADMIN, MISSING_RUN, "NOT_FOUND", "abortedBy"),
    Operation("shutdownExecution", docs.SHUTDOWN, ADMIN, MISSING_RUN, "NOT_FOUND", "shutdownBy"),
    Operation("retryExecution", docs.RETRY, ADMIN, MISSING_RUN, "NOT_FOUND", "retriedBy"),
    Operation("reportStepStarted", docs.STEP_STARTED, RUNNER, MISSING_STEP, "NOT_FOUND"),
    Operation("reportStepCompleted", docs.STEP_COMPLETED, RUNNER, MISSING_STEP | {"output": {"ok": True}}, "NOT_FOUND"),
    Operation(
        "reportStepFailed",
        docs.STEP_FAILED,
        RUNNER,
        MISSING_STEP | {"errorCode": "TIMEOUT", "message": "Slow."},
        "NOT_FOUND",
    ),
    Operation("exportExecutionEvidence", docs.EXPORT, ADMIN, MISSING_RUN, "NOT_FOUND", "exportedBy"),
    Operation("evidenceBundle", docs.BUNDLE, ADMIN, MISSING_RUN, "NOT_FOUND"),
    Operation("trace", docs.TRACE, ADMIN, MISSING_EXECUTION, "NOT_FOUND"),
    Operation("policyExplanation", docs.EXPLAIN, ADMIN, MISSING_EXECUTION, "NOT_FOUND"),
    Operation("executionLane", docs.LANE, ADMIN, MISSING_RUN, "NOT_FOUND"),
    Operation("executionLanes", docs.LANES, ADMIN, {"limit": 1}, "ok"),
    Operation("execution", docs.EXECUTION, ADMIN, MISSING_EXECUTION, "NOT_FOUND"),
    Operation("executions", docs.EXECUTIONS, ADMIN, {"limit": 1}, "ok"),
    Operation(
        "approvalRequest", docs.APPROVAL_REQUEST, ADMIN, MISSING_EXECUTION | {"stepId": "stp_missing"}, "NOT_FOUND"
    ),
    Operation("approvalPolicy", docs.APPROVAL_POLICY, ADMIN, {}, "ok"),
    # Each item is decided on its own: the request answers, the missing step is NOT_FOUND in its result.
    Operation("decideExecutionSteps", docs.DECIDE_MANY, ADMIN, {"decisions": [MISSING_DECISION]}, "ok", "decidedBy"),
]
DECISIONS = [
    Operation(
        "approveExecutionStep",
        docs.APPROVE,
        ADMIN,
        MISSING_EXECUTION | {"stepId": "stp_missing"},
        "NOT_FOUND",
        "approvedBy",
    ),
    Operation(
        "rejectExecutionStep",
        docs.REJECT,
        ADMIN,
        MISSING_EXECUTION | {"stepId": "stp_missing", "reason": "No."},
        "NOT_FOUND",
        "rejectedBy",
    ),
]
WITH_ACTOR = [operation for operation in OPERATIONS + DECISIONS if operation.actor]


@dataclass(frozen=True)
class Caller:
    sub: str | None
    roles: tuple[str, ...]
    level: AuthLevel | None
    """None: not authenticated at all."""

    def bearer(self, token: Any) -> str | None:
        if self.sub is None:
            return self.roles[0] if self.roles else None  # a raw, invalid credential (or none)
        return str(token(self.sub, *self.roles))


CALLERS = {
    "no-token": Caller(None, (), None),
    "invalid-token": Caller(None, ("not-a-jwt",), None),
    "unknown-role": Caller("vera", ("viewer",), AuthLevel.ANONYMOUS),
    "user": Caller("bob", ("user",), USER),
    "runner": Caller("rita", ("runner",), RUNNER),
    "admin": Caller("dana", ("admin",), ADMIN),
}


def by_field(operations: list[Operation]) -> list[Any]:
    return [pytest.param(operation, id=operation.field) for operation in operations]


async def test_the_table_matches_the_contracts() -> None:
    lifecycle_fields = {spec.graphql_name for spec in SPECS.values()} - {
        "skills",
        "skillVerification",
        "installSkill",
        "disableSkill",
        "contracts",
        "pendingApprovals",
        "viewer",  # who the caller is: tests/integration/test_workspaces.py and the auth matrix
        "events",  # the event log: tests/integration/test_event_reads.py and the auth matrix
        # webhooks: tests/integration/test_webhooks.py and the auth matrix
        "createWebhookEndpoint",
        "disableWebhookEndpoint",
        "rotateWebhookSecret",
        "redeliverWebhook",
        "webhookEndpoints",
        "webhookDeliveries",
    }
    assert {operation.field for operation in OPERATIONS + DECISIONS} == lifecycle_fields
    for operation in OPERATIONS + DECISIONS:
        assert operation.spec.auth is operation.level, operation.field
        assert operation.spec.actor_fields == ((snake(operation.actor),) if operation.actor else ()), operation.field


def snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


async def call(execute, operation: Operation, variables: dict[str, Any], bearer: str | None) -> dict[str, Any]:
    data: dict[str, Any] = await execute(operation.document, variables, bearer=bearer)
    return data


@pytest.mark.parametrize("operation", by_field(OPERATIONS))
@pytest.mark.parametrize("who", list(CALLERS))
async def test_each_caller_gets_what_its_level_allows(execute, database, token, operation, who) -> None:
    caller = CALLERS[who]
    bearer = caller.bearer(token)
    variables = operation.variables(caller.sub)

    if caller.level is None or caller.level < operation.level:
        error = await failing(
            execute, database, operation.document, variables, expect_contract=operation.contract, bearer=bearer
        )
        expected = "UNAUTHENTICATED" if caller.level is None else "FORBIDDEN"
        assert error["extensions"]["code"] == expected, error
        if expected == "FORBIDDEN":
            assert f"needs the {operation.level.label} role" in error["message"]
    elif operation.outcome == "ok":
        data = await call(execute, operation, variables, bearer)
        assert data[operation.field]
        for result in data[operation.field].get("results", []):
            assert (result["ok"], result["code"]) == (False, "NOT_FOUND"), result
    else:
        error = await failing(
            execute, database, operation.document, variables, expect_contract=operation.contract, bearer=bearer
        )
        assert error["extensions"]["code"] == operation.outcome, error


@pytest.mark.parametrize("operation", by_field(WITH_ACTOR))
@pytest.mark.parametrize("caller", ["dana", "ops.bot@acme"])
async def test_acting_in_another_name_is_forbidden(execute, database, token, operation, caller) -> None:
    variables = operation.variables(caller, actor="bob")

    error = await failing(
        execute, database, operation.document, variables, expect_contract=operation.contract, bearer=token(caller)
    )

    assert error["extensions"]["code"] == "FORBIDDEN"
    assert operation.actor in error["message"]


@pytest.mark.parametrize(
    "operation", by_field([op for op in OPERATIONS if op.level > USER and op.spec.input.model_fields])
)
async def test_authorization_comes_before_input_validation(execute, database, token, operation) -> None:
    variables: dict[str, Any] = {"input": dict.fromkeys(operation.variables("bob")["input"], "bad id!")}
    if operation.field in ("executionLanes", "executions"):
        variables = {"input": {"limit": 0}}
    if operation.field == "decideExecutionSteps":
        variables = {"input": {"decidedBy": "bad id!", "decisions": [dict.fromkeys(MISSING_DECISION, "bad id!")]}}

    forbidden = await failing(execute, database, operation.document, variables, bearer=token("bob", "user"))
    unauthenticated = await failing(execute, database, operation.document, variables, bearer=None)

    assert forbidden["extensions"]["code"] == "FORBIDDEN"
    assert unauthenticated["extensions"]["code"] == "UNAUTHENTICATED"


async def test_the_actor_check_comes_before_the_lookup(execute, database, token) -> None:
    """An admin naming someone else is refused even where the run does not exist (no existence leak)."""
    pause = next(op for op in OPERATIONS if op.field == "pauseExecution")

    error = await failing(execute, database, pause.document, pause.variables("dana", actor="bob"), bearer=token())

    assert error["extensions"]["code"] == "FORBIDDEN"


async def test_runner_and_admin_both_report_on_a_real_run(execute, token) -> None:
    life = Lifecycle(execute=execute, admin=token("dana"), runner=token("rita", "runner"), approver=token("erin"))
    await life.started({"steps": [{"key": "build.artifact"}, {"key": "notify.team"}]})

    by_runner = await life.run_step(1)
    life.runner = token("dana")  # an admin may report too
    by_admin = await life.run_step(2)

    assert by_runner["executionStatus"] == "running"
    assert by_admin["executionStatus"] == "completed"


async def test_a_user_may_submit_but_not_drive_the_execution(execute, database, token) -> None:
    user = token("bob", "user")
    data = await execute(docs.SUBMIT, {"input": {"workspaceId": "ws-auth", "text": "Ship it"}}, bearer=user)
    submitted = data["submitIntent"]
    assert submitted["status"] == "pending"

    payload = {"executionId": submitted["executionId"], "intentId": submitted["intentId"]}
    error = await failing(execute, database, docs.COMPILE, {"input": payload}, bearer=user)
    assert error["extensions"]["code"] == "FORBIDDEN"
    with pytest.raises(TransportQueryError) as excinfo:
        await execute(docs.EXECUTION, {"input": {"executionId": submitted["executionId"]}}, bearer=user)
    assert error_of(excinfo)["extensions"]["code"] == "FORBIDDEN"
