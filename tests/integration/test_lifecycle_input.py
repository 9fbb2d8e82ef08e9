"""Input the lifecycle operations refuse: BAD_USER_INPUT naming each wrong field (extensions.fields, keyed by
the input path, e.g. `draft.steps.0.key`) with a message a person can act on, and NOT_FOUND for ids that
name nothing (or something of another execution). The database is unchanged after every refusal.

The module shares one database and app (the fixtures below override conftest's per-test ones), and the
executions the refusals name are built once (`World`): a refusal changes nothing, which `failing` checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio

from app.db.database import Database
from app.testing import documents as docs
from tests.conftest import DEFAULT_TOKEN, Bearer, Execute, MintToken
from tests.integration.helpers import app_per_module, failing
from tests.integration.lifecycle import Lifecycle

pytestmark = pytest.mark.asyncio(loop_scope="module")


database_url, settings, app = app_per_module("lifecycle-input")


TWO_STEPS = {"steps": [{"key": "build.artifact"}, {"key": "notify.team"}]}


@dataclass
class World:
    """Executions the refusals name: `pending` (submitted only), `first` and `second` (started, with an
    evidence bundle for `first`)."""

    pending: Lifecycle
    first: Lifecycle
    second: Lifecycle
    bundle_id: str


@pytest.fixture(scope="module")
def worlds() -> dict[str, World]:
    return {}


@pytest_asyncio.fixture(loop_scope="module")  # on the tests' loop: the app's connections live there
async def world(worlds: dict[str, World], execute: Execute, token: MintToken) -> World:
    if "world" not in worlds:

        def life() -> Lifecycle:
            return Lifecycle(
                execute=execute,
                admin=token("dana", ttl=3600),
                runner=token("rita", "runner", ttl=3600),
                approver=token("erin", ttl=3600),
            )

        pending, first, second = life(), life(), life()
        await pending.submit()
        await first.started(TWO_STEPS)
        await second.started(TWO_STEPS)
        exported = await first.call(docs.EXPORT, {"runId": first.run_id, "exportedBy": "dana"})
        worlds["world"] = World(pending, first, second, exported["bundleId"])
    return worlds["world"]


def assert_readable(message: str, *, sentence: bool = True) -> None:
    """Plain words for a person: no library names, class reprs or tracebacks; an error's message is a
    sentence, a field's message may be a fragment ("must not be blank")."""
    assert message.strip(), message
    if sentence:
        assert message[0].isupper(), message
        assert message.rstrip().endswith("."), message
    for leak in ("pydantic", "Traceback", "errors.pydantic.dev", "sqlalchemy", "Error("):
        assert leak not in message, message


async def bad_input(
    execute: Execute,
    database: Database,
    document: str,
    payload: dict[str, Any],
    field: str,
    bearer: Bearer = DEFAULT_TOKEN,
) -> str:
    """The request fails with BAD_USER_INPUT naming `field` (and only input fields); returns its message."""
    error = await failing(execute, database, document, {"input": payload}, bearer=bearer)
    extensions = error["extensions"]
    assert extensions["code"] == "BAD_USER_INPUT", error
    assert field in extensions["fields"], extensions["fields"]
    message = extensions["fields"][field]
    assert_readable(message, sentence=False)
    assert_readable(error["message"])
    return str(message)


async def not_found(
    execute: Execute,
    database: Database,
    document: str,
    payload: dict[str, Any],
    named: str,
    bearer: Bearer = DEFAULT_TOKEN,
) -> None:
    error = await failing(execute, database, document, {"input": payload}, bearer=bearer)
    assert error["extensions"]["code"] == "NOT_FOUND", error
    assert named in error["message"]
    assert_readable(error["message"])


# --- submitIntent ----------------------------------------------------------------------------------

SUBMIT_CASES: dict[str, tuple[dict[str, Any], str, str]] = {
    "empty-text": ({"text": ""}, "text", "blank"),
    "blank-text": ({"text": " \t\n "}, "text", "blank"),
    "text-over-10000": ({"text": "x" * 10_001}, "text", "10000"),
    "metadata-a-list": ({"metadata": [1, 2]}, "metadata", "dictionary"),
    "metadata-a-string": ({"metadata": "key=value"}, "metadata", "dictionary"),
    "workspace-with-spaces": ({"workspaceId": "my workspace"}, "workspaceId", "pattern"),
    "workspace-empty": ({"workspaceId": ""}, "workspaceId", "at least 1"),
    "workspace-over-128": ({"workspaceId": "w" * 129}, "workspaceId", "128"),
}


@pytest.mark.parametrize("case", list(SUBMIT_CASES))
async def test_submit_intent_refuses_bad_input(execute, database, case) -> None:
    change, field, hint = SUBMIT_CASES[case]
    payload = {"workspaceId": "ws-input", "text": "Ship release 42"} | change

    message = await bad_input(execute, database, docs.SUBMIT, payload, field)

    assert hint in message


async def test_submit_intent_accepts_10000_characters(execute) -> None:
    data = await execute(docs.SUBMIT, {"input": {"workspaceId": "ws-input", "text": "x" * 10_000}})

    assert data["submitIntent"]["status"] == "pending"


# --- compilePlan -----------------------------------------------------------------------------------

STEP = {"key": "build.artifact"}
DRAFT_CASES: dict[str, tuple[Any, str, str]] = {
    "steps-missing": ({}, "draft.steps", "required"),
    "steps-not-a-list": ({"steps": {"key": "build.artifact"}}, "draft.steps", "list"),
    "steps-a-string": ({"steps": "build.artifact"}, "draft.steps", "list"),
    "step-not-an-object": ({"steps": ["build.artifact"]}, "draft.steps.0", ""),
    "step-key-missing": ({"steps": [{"input": {"ref": "main"}}]}, "draft.steps.0.key", "required"),
    "step-key-empty": ({"steps": [{"key": ""}]}, "draft.steps.0.key", ""),
    "step-key-uppercase": ({"steps": [STEP, {"key": "Deploy.Service"}]}, "draft.steps.1.key", "lowercase"),
    "step-key-with-spaces": ({"steps": [{"key": "deploy service"}]}, "draft.steps.0.key", "lowercase"),
    "unknown-risk-tier": ({"steps": [{"key": "build.artifact", "riskTier": "extreme"}]}, "draft.steps.0.riskTier", ""),
    "step-extra-member": (
        {"steps": [{"key": "build.artifact", "owner": "ops"}]},
        "draft.steps.0.owner",
        "not permitted",
    ),
    "draft-extra-member": ({"steps": [STEP], "title": "Release"}, "draft.title", "not permitted"),
    "step-input-not-an-object": ({"steps": [{"key": "build.artifact", "input": [1]}]}, "draft.steps.0.input", ""),
    "over-100-steps": ({"steps": [STEP] * 101}, "draft.steps", "100"),
}


@pytest.mark.parametrize("case", list(DRAFT_CASES))
async def test_compile_plan_refuses_a_malformed_draft(execute, database, world, case) -> None:
    draft, field, hint = DRAFT_CASES[case]
    payload = {"executionId": world.pending.execution_id, "intentId": world.pending.intent_id, "draft": draft}

    message = await bad_input(execute, database, docs.COMPILE, payload, field)

    assert hint.lower() in message.lower()


async def test_compile_plan_refuses_a_draft_that_is_not_an_object(execute, database, world) -> None:
    payload = {"executionId": world.pending.execution_id, "intentId": world.pending.intent_id, "draft": [STEP]}

    await bad_input(execute, database, docs.COMPILE, payload, "draft")


async def test_compile_plan_names_every_wrong_step(execute, database, world) -> None:
    draft = {"steps": [{"key": "Bad Key"}, STEP, {"key": "build.artifact", "riskTier": "huge"}]}
    payload = {"executionId": world.pending.execution_id, "intentId": world.pending.intent_id, "draft": draft}

    error = await failing(execute, database, docs.COMPILE, {"input": payload})

    assert set(error["extensions"]["fields"]) == {"draft.steps.0.key", "draft.steps.2.riskTier"}


async def test_compile_plan_accepts_100_steps(execute, token) -> None:
    life = Lifecycle(execute=execute, admin=token("dana"), runner=token("rita", "runner"), approver=token("erin"))
    await life.submit()

    compiled = await life.compile({"steps": [STEP] * 100})

    assert compiled["stepCount"] == 100


# --- verifyPlan, startExecution, runner reports, reasons, lists ------------------------------------


async def test_verify_plan_refuses_an_unknown_policy_version(execute, database, world) -> None:
    payload = {"executionId": world.first.execution_id, "planId": world.first.plan_id, "policyVersion": "policy/1999"}

    message = await bad_input(execute, database, docs.VERIFY, payload, "policyVersion")

    assert "control-plane-policy/" in message


@pytest.mark.parametrize("mode", ["fast", "LIVE", "dry-run", ""])
async def test_start_execution_refuses_an_unknown_mode(execute, database, world, mode) -> None:
    payload = {"executionId": world.pending.execution_id, "planId": "pln_any", "mode": mode}

    message = await bad_input(execute, database, docs.START, payload, "mode")

    assert "live" in message
    assert "dry_run" in message


FAILED_CASES = {
    "code-lowercase": ({"errorCode": "timeout"}, "errorCode"),
    "code-with-dashes": ({"errorCode": "TIME-OUT"}, "errorCode"),
    "code-starting-with-digit": ({"errorCode": "1TIMEOUT"}, "errorCode"),
    "code-with-space": ({"errorCode": "TIME OUT"}, "errorCode"),
    "code-empty": ({"errorCode": ""}, "errorCode"),
    "code-over-100": ({"errorCode": "E" * 101}, "errorCode"),
    "message-empty": ({"message": ""}, "message"),
    "message-blank": ({"message": "   "}, "message"),
    "message-over-2000": ({"message": "m" * 2001}, "message"),
}


@pytest.mark.parametrize("case", list(FAILED_CASES))
async def test_report_step_failed_refuses_bad_input(execute, database, world, token, case) -> None:
    change, field = FAILED_CASES[case]
    payload = {"runId": world.first.run_id, "stepId": world.first.step(1), "errorCode": "TIMEOUT", "message": "Slow."}

    await bad_input(execute, database, docs.STEP_FAILED, payload | change, field, bearer=token("rita", "runner"))


REASONED = {
    "pause": (docs.PAUSE, "runId", "pausedBy"),
    "cancel": (docs.CANCEL, "executionId", "cancelledBy"),
    "abort": (docs.ABORT, "runId", "abortedBy"),
    "shutdown": (docs.SHUTDOWN, "runId", "shutdownBy"),
}


@pytest.mark.parametrize("command", list(REASONED))
async def test_a_reason_over_2000_characters_is_refused(execute, database, world, command) -> None:
    document, id_field, actor = REASONED[command]
    subject = world.first.run_id if id_field == "runId" else world.first.execution_id
    payload = {id_field: subject, actor: "dana", "reason": "r" * 2001}

    message = await bad_input(execute, database, document, payload, "reason")

    assert "2000" in message


async def test_a_reason_of_2000_characters_is_accepted(execute, token) -> None:
    life = Lifecycle(execute=execute, admin=token("dana"), runner=token("rita", "runner"), approver=token("erin"))
    await life.started(TWO_STEPS)

    paused = await life.control(docs.PAUSE, "pausedBy", reason="r" * 2000)

    assert paused["status"] == "paused"


@pytest.mark.parametrize(
    ("change", "field"),
    [({"limit": 0}, "limit"), ({"limit": 201}, "limit"), ({"limit": -1}, "limit"), ({"offset": -1}, "offset")],
    ids=["limit-0", "limit-201", "limit-negative", "offset-negative"],
)
async def test_execution_lanes_refuses_a_bad_page(execute, database, change, field) -> None:
    await bad_input(execute, database, docs.LANES, change, field)


@pytest.mark.parametrize("limit", [1, 200])
async def test_execution_lanes_accepts_the_page_bounds(execute, limit) -> None:
    data = await execute(docs.LANES, {"input": {"limit": limit}})

    assert len(data["executionLanes"]["items"]) <= limit


@pytest.mark.parametrize("value", ["", "has space", "semi;colon", "-leading-dash", "x" * 129])
async def test_a_malformed_id_is_bad_input(execute, database, value) -> None:
    await bad_input(execute, database, docs.TRACE, {"executionId": value}, "executionId")


# --- NOT_FOUND -------------------------------------------------------------------------------------

UNKNOWN_EXECUTION = "exe_unknown"
UNKNOWN_RUN = "run_unknown"

BY_EXECUTION = {
    "compilePlan": (docs.COMPILE, {"intentId": "int_unknown"}),
    "verifyPlan": (docs.VERIFY, {"planId": "pln_unknown"}),
    "startExecution": (docs.START, {"planId": "pln_unknown"}),
    "cancelExecution": (docs.CANCEL, {"cancelledBy": "dana"}),
    "trace": (docs.TRACE, {}),
    "policyExplanation": (docs.EXPLAIN, {}),
    "execution": (docs.EXECUTION, {}),
}
BY_RUN = {
    "pauseExecution": (docs.PAUSE, {"pausedBy": "dana"}, None),
    "resumeExecution": (docs.RESUME, {"resumedBy": "dana"}, None),
    "abortExecution": (docs.ABORT, {"abortedBy": "dana"}, None),
    "shutdownExecution": (docs.SHUTDOWN, {"shutdownBy": "dana"}, None),
    "retryExecution": (docs.RETRY, {"retriedBy": "dana"}, None),
    "reportStepStarted": (docs.STEP_STARTED, {"stepId": "stp_unknown"}, "runner"),
    "reportStepCompleted": (docs.STEP_COMPLETED, {"stepId": "stp_unknown"}, "runner"),
    "reportStepFailed": (docs.STEP_FAILED, {"stepId": "stp_unknown", "errorCode": "E", "message": "m"}, "runner"),
    "exportExecutionEvidence": (docs.EXPORT, {"exportedBy": "dana"}, None),
    "evidenceBundle": (docs.BUNDLE, {}, None),
    "executionLane": (docs.LANE, {}, None),
}


@pytest.mark.parametrize("operation", list(BY_EXECUTION))
async def test_an_unknown_execution_is_not_found(execute, database, operation) -> None:
    document, rest = BY_EXECUTION[operation]

    await not_found(execute, database, document, {"executionId": UNKNOWN_EXECUTION} | rest, UNKNOWN_EXECUTION)


@pytest.mark.parametrize("operation", list(BY_RUN))
async def test_an_unknown_run_is_not_found(execute, database, token, operation) -> None:
    document, rest, role = BY_RUN[operation]
    bearer = token("rita", role) if role else DEFAULT_TOKEN

    await not_found(execute, database, document, {"runId": UNKNOWN_RUN} | rest, UNKNOWN_RUN, bearer=bearer)


@pytest.mark.parametrize("document", [docs.STEP_STARTED, docs.STEP_COMPLETED], ids=["started", "completed"])
async def test_an_unknown_step_of_a_run_is_not_found(execute, database, world, token, document) -> None:
    payload = {"runId": world.first.run_id, "stepId": "stp_unknown"}

    await not_found(execute, database, document, payload, "stp_unknown", bearer=token("rita", "runner"))


async def test_an_unknown_step_failed_is_not_found(execute, database, world, token) -> None:
    payload = {"runId": world.first.run_id, "stepId": "stp_unknown", "errorCode": "E", "message": "m"}

    await not_found(execute, database, docs.STEP_FAILED, payload, "stp_unknown", bearer=token("rita", "runner"))


@pytest.mark.parametrize(
    "document", [docs.STEP_STARTED, docs.STEP_COMPLETED, docs.STEP_FAILED], ids=["started", "completed", "failed"]
)
async def test_a_step_of_another_execution_is_not_found(execute, database, world, token, document) -> None:
    other = world.second.step(1)
    payload = {"runId": world.first.run_id, "stepId": other, "errorCode": "E", "message": "m"}
    if document is not docs.STEP_FAILED:
        payload = {"runId": world.first.run_id, "stepId": other}

    await not_found(execute, database, document, payload, other, bearer=token("rita", "runner"))


async def test_policy_explanation_of_a_step_of_another_execution_is_not_found(execute, database, world) -> None:
    other = world.second.step(1)
    payload = {"executionId": world.first.execution_id, "stepId": other}

    await not_found(execute, database, docs.EXPLAIN, payload, other)


@pytest.mark.parametrize("document", [docs.VERIFY, docs.START], ids=["verify", "start"])
async def test_an_unknown_plan_is_not_found(execute, database, world, document) -> None:
    payload = {"executionId": world.pending.execution_id, "planId": "pln_unknown"}

    await not_found(execute, database, document, payload, "pln_unknown")


@pytest.mark.parametrize("document", [docs.VERIFY, docs.START], ids=["verify", "start"])
async def test_a_plan_of_another_execution_is_not_found(execute, database, world, document) -> None:
    payload = {"executionId": world.pending.execution_id, "planId": world.first.plan_id}

    await not_found(execute, database, document, payload, world.first.plan_id)


async def test_compiling_with_the_intent_of_another_execution_is_not_found(execute, database, world) -> None:
    payload = {"executionId": world.pending.execution_id, "intentId": world.first.intent_id, "draft": TWO_STEPS}

    await not_found(execute, database, docs.COMPILE, payload, world.first.intent_id)


async def test_compiling_with_an_unknown_intent_is_not_found(execute, database, world) -> None:
    payload = {"executionId": world.pending.execution_id, "intentId": "int_unknown"}

    await not_found(execute, database, docs.COMPILE, payload, "int_unknown")


async def test_an_unknown_bundle_of_a_run_is_not_found(execute, database, world) -> None:
    payload = {"runId": world.first.run_id, "bundleId": "evb_unknown"}

    await not_found(execute, database, docs.BUNDLE, payload, "evb_unknown")


async def test_a_bundle_of_another_run_is_not_found(execute, database, world) -> None:
    payload = {"runId": world.second.run_id, "bundleId": world.bundle_id}

    await not_found(execute, database, docs.BUNDLE, payload, world.bundle_id)


async def test_a_run_without_bundles_has_no_latest_bundle(execute, database, world) -> None:
    await not_found(execute, database, docs.BUNDLE, {"runId": world.second.run_id}, world.second.run_id)


async def test_the_exported_bundle_is_found(execute, world) -> None:
    data = await execute(docs.BUNDLE, {"input": {"runId": world.first.run_id, "bundleId": world.bundle_id}})

    assert data["evidenceBundle"]["bundleId"] == world.bundle_id
