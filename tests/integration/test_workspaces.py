"""Workspaces as a security boundary, end to end through GraphQL (issue 12).

A token's `workspaces` claim grants workspaces (`["*"]` grants every one; a token without the claim
reaches none). Lists and their totals show only granted workspaces; an id in another workspace answers
exactly like an id that does not exist (NOT_FOUND, the same message with the id swapped) and changes
nothing; submitIntent into an ungranted workspace is FORBIDDEN; the skill registry is registry-wide, so
installSkill and disableSkill need an admin with `*`. `/metrics` can be closed with a bearer token.

The expected ids and totals are those of the demo data set (seeds/demo.toml): 16 executions in three
workspaces, 14 runs, 5 steps awaiting a decision.
"""

from __future__ import annotations

import json
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from gql.transport.exceptions import TransportQueryError

from app.server import create_app
from app.settings import Settings
from app.testing import documents as d
from tests.conftest import error_of, make_settings, snapshot
from tests.integration.helpers import DEPLOY, MIGRATE_SCHEMA, failing
from tests.skill_fixtures import ARTIFACT_DIGEST, SKILL_KEY, VERSION, policy_document, signed

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
WORKSPACES = ("ws-acme", "ws-globex", "ws-initech")
EXECUTIONS = {
    "ws-acme": {
        "exec-acme-archive-6",
        "exec-acme-crawl-3",
        "exec-acme-deploy-42",
        "exec-acme-digest-8",
        "exec-acme-intake-11",
        "exec-acme-refund-7",
        "exec-acme-report-12",
        "exec-acme-revoke-2",
        "exec-acme-rollout-7",
    },
    "ws-globex": {
        "exec-globex-backfill-5",
        "exec-globex-cleanup-3",
        "exec-globex-migrate-9",
        "exec-globex-rollout-3",
        "exec-globex-scale-4",
        "exec-globex-sync-6",
    },
    "ws-initech": {
        "exec-initech-cleanup-1",
        "exec-initech-email-5",
        "exec-initech-payout-2",
        "exec-initech-release-4",
        "exec-initech-rotate-8",
    },
}
AWAITING = {
    "ws-acme": {"step-acme-deploy-42-3", "step-acme-refund-7-2", "step-acme-revoke-2-1", "step-acme-rollout-7-2"},
    "ws-globex": {"step-globex-cleanup-3-2", "step-globex-migrate-9-2"},
    "ws-initech": {"step-initech-email-5-2"},
}
RUNS = {
    "ws-acme": {
        "run-acme-archive-6-1",
        "run-acme-crawl-3-1",
        "run-acme-deploy-42-1",
        "run-acme-digest-8-1",
        "run-acme-refund-7-1",
        "run-acme-report-12-1",
        "run-acme-revoke-2-1",
        "run-acme-rollout-7-1",
    },
    "ws-globex": {
        "run-globex-backfill-5-1",
        "run-globex-backfill-5-2",
        "run-globex-cleanup-3-1",
        "run-globex-migrate-9-1",
        "run-globex-rollout-3-1",
        "run-globex-scale-4-1",
        "run-globex-sync-6-1",
    },
    "ws-initech": {"run-initech-email-5-1", "run-initech-payout-2-1", "run-initech-release-4-1"},
}
METRICS_TOKEN = "scrape-" + "m" * 32
GRANTS = [
    pytest.param(("ws-acme",), id="acme"),
    pytest.param(("ws-globex", "ws-initech"), id="globex+initech"),
    pytest.param(("ws-initech",), id="initech"),
    pytest.param(("*",), id="all"),
]
GRANT_REFUSALS = ("UNAUTHENTICATED", "FORBIDDEN", "NOT_FOUND")


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """The registry trusts publisher `acme` (tests/skill_fixtures.py), so a `*` admin's install succeeds."""
    return make_settings(tmp_path, database_url, skill_trust_policy=json.dumps(policy_document()))


def union(table: dict[str, set[str]], grants: tuple[str, ...]) -> set[str]:
    return set().union(*(ids for workspace, ids in table.items() if "*" in grants or workspace in grants))


def others(workspace: str) -> tuple[str, ...]:
    """Every seeded workspace but `workspace`: a caller with many grants, none of them the right one."""
    return tuple(name for name in WORKSPACES if name != workspace)


@pytest.fixture
def claimless(services) -> Callable[..., str]:
    """A valid token without the `workspaces` claim (it reaches no workspace data)."""

    def mint(sub: str = "dana", roles: tuple[str, ...] = ("admin",)) -> str:
        now = int(time.time())
        claims = {"sub": sub, "roles": list(roles), "iat": now, "exp": now + 600}
        return jwt.encode(claims, services.tokens._signing_key, algorithm="HS256")

    return mint


async def refused(execute, document: str, variables: Any, bearer: str | None) -> dict[str, Any]:
    """The one error of a request that must fail (no database check: see `failing` for that)."""
    with pytest.raises(TransportQueryError) as excinfo:
        await execute(document, variables, bearer=bearer)
    return error_of(excinfo)


def swapped(error: dict[str, Any], old: str, new: str) -> tuple[str, str, dict[str, Any]]:
    """What a client sees of an error, with the id it named replaced: code, message, extensions."""
    extensions = json.loads(json.dumps(error.get("extensions", {})).replace(old, new))
    return error["extensions"]["code"], error["message"].replace(old, new), extensions


# --- the seeds the expectations are written against ----------------------------------------------


async def test_the_expected_ids_are_those_of_the_seeds() -> None:
    """Executions by workspace, and a run per start and per retry, as seeds/*.toml play them."""
    executions: dict[str, set[str]] = {}
    runs: dict[str, set[str]] = {}
    scenarios = [
        scenario for path in sorted(SEEDS.glob("*.toml")) for scenario in tomllib.loads(path.read_text())["scenarios"]
    ]
    assert len(scenarios) == sum(len(ids) for ids in EXECUTIONS.values())
    for scenario in scenarios:
        name, workspace, actions = scenario["name"], scenario["workspace"], scenario.get("actions", [])
        executions.setdefault(workspace, set()).add(f"exec-{name}")
        attempts = actions.count("start") + actions.count("retry")
        runs.setdefault(workspace, set()).update(f"run-{name}-{n}" for n in range(1, attempts + 1))
    assert executions == EXECUTIONS
    assert runs == RUNS


# --- viewer ----------------------------------------------------------------------------------------


async def test_viewer_of_a_workspace_token(execute, token) -> None:
    data = await execute(d.VIEWER, bearer=token("bob", "user", workspaces=("ws-globex", "ws-acme")))

    assert data["viewer"] == {
        "principalId": "bob",
        "roles": ["user"],
        "authLevel": "user",
        "workspaces": ["ws-acme", "ws-globex"],
        "allWorkspaces": False,
    }


async def test_viewer_of_a_token_granted_every_workspace(execute, token) -> None:
    data = await execute(d.VIEWER, bearer=token("dana", "admin", "runner"))

    assert data["viewer"] == {
        "principalId": "dana",
        "roles": ["admin", "runner"],
        "authLevel": "admin",
        "workspaces": [],
        "allWorkspaces": True,
    }


async def test_viewer_of_a_token_without_the_claim(execute, claimless) -> None:
    data = await execute(d.VIEWER, bearer=claimless("rita", ("runner",)))

    assert data["viewer"] == {
        "principalId": "rita",
        "roles": ["runner"],
        "authLevel": "runner",
        "workspaces": [],
        "allWorkspaces": False,
    }


async def test_viewer_needs_a_token(execute, database) -> None:
    error = await failing(execute, database, d.VIEWER, bearer=None)

    assert error["extensions"]["code"] == "UNAUTHENTICATED"


# --- lists and totals ------------------------------------------------------------------------------


@pytest.mark.parametrize("grants", GRANTS)
async def test_executions_show_only_granted_workspaces(execute, token, grants) -> None:
    expected = union(EXECUTIONS, grants)

    data = (await execute(d.EXECUTIONS, {"input": {"limit": 100}}, bearer=token(workspaces=grants)))["executions"]
    first = (await execute(d.EXECUTIONS, {"input": {"limit": 1}}, bearer=token(workspaces=grants)))["executions"]

    assert {item["executionId"] for item in data["items"]} == expected
    assert data["total"] == len(expected) == len(data["items"])
    assert first["total"] == len(expected)  # counted in SQL, not from the page
    assert len(first["items"]) == 1


@pytest.mark.parametrize("grants", GRANTS)
async def test_pending_approvals_show_only_granted_workspaces(execute, token, grants) -> None:
    expected = union(AWAITING, grants)

    data = await execute(d.PENDING_APPROVALS, {"input": {"limit": 100}}, bearer=token(workspaces=grants))
    pending = data["pendingApprovals"]

    assert {item["stepId"] for item in pending["items"]} == expected
    assert pending["total"] == len(expected)
    assert {item["workspaceId"] for item in pending["items"]} <= ({*WORKSPACES} if "*" in grants else {*grants})


@pytest.mark.parametrize("grants", GRANTS)
async def test_execution_lanes_show_only_granted_workspaces(execute, token, grants) -> None:
    expected = union(RUNS, grants)

    lanes = (await execute(d.LANES, {"input": {"limit": 100}}, bearer=token(workspaces=grants)))["executionLanes"]
    first = (await execute(d.LANES, {"input": {"limit": 1}}, bearer=token(workspaces=grants)))["executionLanes"]

    assert {item["runId"] for item in lanes["items"]} == expected
    assert lanes["total"] == len(expected) == first["total"]


async def test_seeded_totals_with_every_workspace(execute, token) -> None:
    """The numbers the tests above split by workspace."""
    bearer = token()
    executions = (await execute(d.EXECUTIONS, {"input": {"limit": 1}}, bearer=bearer))["executions"]
    pending = (await execute(d.PENDING_APPROVALS, {"input": {"limit": 1}}, bearer=bearer))["pendingApprovals"]
    lanes = (await execute(d.LANES, {"input": {"limit": 1}}, bearer=bearer))["executionLanes"]

    assert (executions["total"], pending["total"], lanes["total"]) == (20, 7, 18)


@pytest.mark.parametrize("document", [d.EXECUTIONS, d.PENDING_APPROVALS], ids=["executions", "pendingApprovals"])
@pytest.mark.parametrize("workspace", ["ws-globex", "ws-nowhere"])
async def test_filtering_by_an_ungranted_workspace_finds_nothing(execute, token, document, workspace) -> None:
    data = await execute(document, {"input": {"workspaceId": workspace}}, bearer=token(workspaces=("ws-acme",)))

    (answer,) = data.values()
    assert answer == {"total": 0, "items": []}


async def test_filtering_by_a_granted_workspace_narrows_the_grants(execute, token) -> None:
    bearer = token(workspaces=("ws-acme", "ws-globex"))

    data = await execute(d.EXECUTIONS, {"input": {"workspaceId": "ws-globex", "limit": 100}}, bearer=bearer)

    assert {item["executionId"] for item in data["executions"]["items"]} == EXECUTIONS["ws-globex"]


@pytest.mark.parametrize(
    ("document", "variables"),
    [
        pytest.param(d.EXECUTIONS, {"input": {}}, id="executions"),
        pytest.param(d.EXECUTIONS, {"input": {"workspaceId": "ws-acme"}}, id="executions-of-ws-acme"),
        pytest.param(d.PENDING_APPROVALS, {"input": {}}, id="pendingApprovals"),
        pytest.param(d.PENDING_APPROVALS, {"input": {"workspaceId": "ws-acme"}}, id="pendingApprovals-of-ws-acme"),
        pytest.param(d.LANES, {"input": {}}, id="executionLanes"),
        pytest.param(d.LANES, {"input": {"laneKey": "review"}}, id="executionLanes-in-review"),
    ],
)
async def test_a_token_without_grants_sees_nothing(execute, token, claimless, document, variables) -> None:
    for bearer in (claimless(), token(workspaces=())):
        data = await execute(document, variables, bearer=bearer)

        (answer,) = data.values()
        assert answer == {"total": 0, "items": []}


# --- reads by id -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lookup:
    name: str
    document: str
    values: dict[str, Any]
    target: str
    """The id the caller must not learn about (it is in `values`); swapped for a missing one below."""
    workspace: str

    def variables(self, replace: str | None = None) -> dict[str, Any]:
        values = {key: (replace if value == self.target and replace else value) for key, value in self.values.items()}
        return {"input": values}


READS = [
    Lookup("execution", d.EXECUTION, {"executionId": "exec-acme-deploy-42"}, "exec-acme-deploy-42", "ws-acme"),
    Lookup("trace", d.TRACE, {"executionId": "exec-globex-migrate-9"}, "exec-globex-migrate-9", "ws-globex"),
    Lookup(
        "policyExplanation",
        d.EXPLAIN,
        {"executionId": "exec-initech-payout-2", "stepId": "step-initech-payout-2-2"},
        "exec-initech-payout-2",
        "ws-initech",
    ),
    Lookup("executionLane", d.LANE, {"runId": "run-acme-report-12-1"}, "run-acme-report-12-1", "ws-acme"),
    Lookup("evidenceBundle", d.BUNDLE, {"runId": "run-acme-digest-8-1"}, "run-acme-digest-8-1", "ws-acme"),
]
MISSING = "id-that-names-nothing"


def by_name(cases: list[Any]) -> list[Any]:
    return [pytest.param(case, id=case.name) for case in cases]


@pytest.mark.parametrize("lookup", by_name(READS))
async def test_a_read_of_another_workspace_is_not_found_like_a_missing_id(execute, database, token, lookup) -> None:
    outsider = token(workspaces=others(lookup.workspace))

    foreign = await failing(execute, database, lookup.document, lookup.variables(), bearer=outsider)
    missing = await failing(execute, database, lookup.document, lookup.variables(MISSING), bearer=outsider)

    assert foreign["extensions"]["code"] == "NOT_FOUND"
    assert swapped(foreign, lookup.target, MISSING) == swapped(missing, lookup.target, MISSING)
    assert lookup.workspace not in json.dumps(foreign)


@pytest.mark.parametrize("lookup", by_name(READS))
async def test_a_read_of_another_workspace_is_not_found_without_grants(execute, token, claimless, lookup) -> None:
    for bearer in (claimless(), token(workspaces=())):
        error = await refused(execute, lookup.document, lookup.variables(), bearer)
        assert error["extensions"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize("lookup", by_name(READS))
async def test_the_same_read_with_the_grant_answers(execute, token, lookup) -> None:
    data = await execute(lookup.document, lookup.variables(), bearer=token(workspaces=(lookup.workspace,)))

    assert data[lookup.name]


async def test_an_evidence_bundle_named_by_id_in_another_workspace_is_not_found(execute, database, token) -> None:
    bundle = (await execute(d.BUNDLE, {"input": {"runId": "run-acme-digest-8-1"}}))["evidenceBundle"]
    outsider = token(workspaces=("ws-globex",))
    variables = {"input": {"runId": "run-acme-digest-8-1", "bundleId": bundle["bundleId"]}}

    foreign = await failing(execute, database, d.BUNDLE, variables, bearer=outsider)
    missing = await failing(
        execute, database, d.BUNDLE, {"input": {"runId": MISSING, "bundleId": bundle["bundleId"]}}, bearer=outsider
    )

    assert foreign["extensions"]["code"] == "NOT_FOUND"
    assert swapped(foreign, "run-acme-digest-8-1", MISSING) == swapped(missing, "run-acme-digest-8-1", MISSING)


# --- commands by id --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Command(Lookup):
    role: str = "admin"
    ok: bool = True
    """With the grant the call succeeds (False: it gets through the grant check to a domain refusal)."""
    changes: bool = True
    """A success writes something (False: the call repeats what the seeds did, an idempotent no-op)."""


def acting(field: str, name: str = "dana", **values: Any) -> dict[str, Any]:
    return {**values, field: name}


REPORT_12 = {"runId": "run-acme-report-12-1", "stepId": "step-acme-report-12-2"}
BACKFILL = {"runId": "run-globex-backfill-5-2", "stepId": "step-globex-backfill-5-2"}
COMMANDS = [
    Command(
        "approveExecutionStep",
        d.APPROVE,
        acting("approvedBy", **DEPLOY),
        DEPLOY["executionId"],
        "ws-acme",
    ),
    Command(
        "rejectExecutionStep",
        d.REJECT,
        acting("rejectedBy", reason="Not during the sale.", **MIGRATE_SCHEMA),
        MIGRATE_SCHEMA["executionId"],
        "ws-globex",
    ),
    Command(
        "cancelExecution",
        d.CANCEL,
        acting("cancelledBy", executionId="exec-acme-intake-11"),
        "exec-acme-intake-11",
        "ws-acme",
    ),
    Command(
        "pauseExecution",
        d.PAUSE,
        acting("pausedBy", runId="run-acme-report-12-1"),
        "run-acme-report-12-1",
        "ws-acme",
    ),
    Command(
        "resumeExecution",
        d.RESUME,
        acting("resumedBy", runId="run-globex-scale-4-1"),
        "run-globex-scale-4-1",
        "ws-globex",
    ),
    Command(
        "abortExecution",
        d.ABORT,
        acting("abortedBy", runId="run-globex-backfill-5-2", reason="Wrong quarter."),
        "run-globex-backfill-5-2",
        "ws-globex",
    ),
    Command(
        "shutdownExecution",
        d.SHUTDOWN,
        acting("shutdownBy", runId="run-acme-report-12-1"),
        "run-acme-report-12-1",
        "ws-acme",
    ),
    Command(
        "retryExecution",
        d.RETRY,
        acting("retriedBy", runId="run-globex-sync-6-1"),
        "run-globex-sync-6-1",
        "ws-globex",
    ),
    Command(
        "exportExecutionEvidence",
        d.EXPORT,
        acting("exportedBy", runId="run-acme-digest-8-1"),
        "run-acme-digest-8-1",
        "ws-acme",
    ),
    Command("reportStepStarted", d.STEP_STARTED, REPORT_12, REPORT_12["runId"], "ws-acme", "runner", changes=False),
    Command(
        "reportStepCompleted",
        d.STEP_COMPLETED,
        REPORT_12 | {"output": {"rows": 3}},
        REPORT_12["runId"],
        "ws-acme",
        "runner",
    ),
    Command(
        "reportStepFailed",
        d.STEP_FAILED,
        BACKFILL | {"errorCode": "TIMEOUT", "message": "The warehouse did not answer."},
        BACKFILL["runId"],
        "ws-globex",
        "runner",
    ),
    Command(
        "compilePlan",
        d.COMPILE,
        {"executionId": "exec-acme-intake-11", "intentId": "int-acme-intake-11"},
        "exec-acme-intake-11",
        "ws-acme",
    ),
    Command(
        "verifyPlan",
        d.VERIFY,
        {"executionId": "exec-initech-rotate-8", "planId": "plan-initech-rotate-8"},
        "exec-initech-rotate-8",
        "ws-initech",
    ),
    Command(
        "startExecution",
        d.START,
        {"executionId": "exec-initech-cleanup-1", "planId": "plan-initech-cleanup-1"},
        "exec-initech-cleanup-1",
        "ws-initech",
        ok=False,
    ),
]


@pytest.mark.parametrize("command", by_name(COMMANDS))
async def test_a_command_on_another_workspace_is_not_found_and_changes_nothing(
    execute, database, token, command
) -> None:
    outsider = token("dana", command.role, workspaces=others(command.workspace))

    foreign = await failing(execute, database, command.document, command.variables(), bearer=outsider)
    missing = await failing(execute, database, command.document, command.variables(MISSING), bearer=outsider)

    assert foreign["extensions"]["code"] == "NOT_FOUND", foreign
    assert swapped(foreign, command.target, MISSING) == swapped(missing, command.target, MISSING)
    assert command.workspace not in json.dumps(foreign)


@pytest.mark.parametrize("command", by_name(COMMANDS))
async def test_a_command_without_grants_is_not_found_and_changes_nothing(
    execute, database, token, claimless, command
) -> None:
    for bearer in (claimless("dana", (command.role,)), token("dana", command.role, workspaces=())):
        error = await failing(execute, database, command.document, command.variables(), bearer=bearer)
        assert error["extensions"]["code"] == "NOT_FOUND", error


@pytest.mark.parametrize("command", by_name(COMMANDS))
async def test_the_same_command_with_the_grant_gets_through(execute, database, token, command) -> None:
    insider = token("dana", command.role, workspaces=(command.workspace,))
    before = await snapshot(database)

    if command.ok:
        data = await execute(command.document, command.variables(), bearer=insider)
        assert data[command.name]
        assert (await snapshot(database) != before) is command.changes
    else:
        error = await failing(execute, database, command.document, command.variables(), bearer=insider)
        assert error["extensions"]["code"] not in GRANT_REFUSALS, error


# An object whose state the grant holder would be told about (CONFLICT, with its current status): the
# outsider must not learn that state either.
SETTLED = [
    Command(
        "rejectExecutionStep",
        d.REJECT,
        acting("rejectedBy", executionId="exec-initech-payout-2", stepId="step-initech-payout-2-2", reason="No."),
        "exec-initech-payout-2",
        "ws-initech",
    ),
    Command(
        "approveExecutionStep",
        d.APPROVE,
        acting("approvedBy", executionId="exec-initech-payout-2", stepId="step-initech-payout-2-2"),
        "exec-initech-payout-2",
        "ws-initech",
    ),
    Command(
        "cancelExecution",
        d.CANCEL,
        acting("cancelledBy", executionId="exec-initech-cleanup-1"),
        "exec-initech-cleanup-1",
        "ws-initech",
    ),
    Command(
        "retryExecution", d.RETRY, acting("retriedBy", runId="run-acme-crawl-3-1"), "run-acme-crawl-3-1", "ws-acme"
    ),
    Command(
        "reportStepCompleted",
        d.STEP_COMPLETED,
        {"runId": "run-acme-digest-8-1", "stepId": "step-acme-digest-8-2", "output": {"other": True}},
        "run-acme-digest-8-1",
        "ws-acme",
        "runner",
    ),
]


@pytest.mark.parametrize("command", by_name(SETTLED))
async def test_the_state_of_another_workspaces_object_does_not_leak(execute, database, token, command) -> None:
    insider = token("dana", command.role, workspaces=(command.workspace,))
    outsider = token("dana", command.role, workspaces=others(command.workspace))

    inside = await failing(execute, database, command.document, command.variables(), bearer=insider)
    outside = await failing(execute, database, command.document, command.variables(), bearer=outsider)
    missing = await failing(execute, database, command.document, command.variables(MISSING), bearer=outsider)

    assert inside["extensions"]["code"] == "CONFLICT", inside
    assert outside["extensions"]["code"] == "NOT_FOUND", outside
    assert "currentStatus" not in outside["extensions"]
    assert swapped(outside, command.target, MISSING) == swapped(missing, command.target, MISSING)


# --- submitIntent ----------------------------------------------------------------------------------


@pytest.mark.parametrize("workspace", ["ws-globex", "ws-new"])
async def test_submitting_into_an_ungranted_workspace_is_forbidden(execute, database, token, workspace) -> None:
    variables = {"input": {"workspaceId": workspace, "text": "Ship release 43."}}

    error = await failing(execute, database, d.SUBMIT, variables, bearer=token("bob", "user", workspaces=("ws-acme",)))

    assert error["extensions"]["code"] == "FORBIDDEN"
    assert workspace in error["message"]


async def test_submitting_without_grants_is_forbidden(execute, database, claimless) -> None:
    variables = {"input": {"workspaceId": "ws-acme", "text": "Ship release 43."}}

    error = await failing(execute, database, d.SUBMIT, variables, bearer=claimless("bob", ("user",)))

    assert error["extensions"]["code"] == "FORBIDDEN"


async def test_submitting_into_a_granted_workspace_works(execute, token) -> None:
    user = token("bob", "user", workspaces=("ws-acme", "ws-globex"))

    submitted = await execute(d.SUBMIT, {"input": {"workspaceId": "ws-globex", "text": "Ship it."}}, bearer=user)
    execution_id = submitted["submitIntent"]["executionId"]
    mine = token(workspaces=("ws-globex",))
    seen = await execute(d.EXECUTIONS, {"input": {"workspaceId": "ws-globex", "limit": 100}}, bearer=mine)
    hidden = await execute(d.EXECUTIONS, {"input": {"limit": 100}}, bearer=token(workspaces=("ws-acme",)))

    assert submitted["submitIntent"]["status"] == "pending"
    assert execution_id in {item["executionId"] for item in seen["executions"]["items"]}
    assert execution_id not in {item["executionId"] for item in hidden["executions"]["items"]}


async def test_a_star_token_submits_into_any_workspace(execute, token) -> None:
    variables = {"input": {"workspaceId": "ws-brand-new", "text": "Set up the workspace."}}

    data = await execute(d.SUBMIT, variables, bearer=token("bob", "user"))

    assert data["submitIntent"]["status"] == "pending"


# --- the skill registry ----------------------------------------------------------------------------


def install_variables() -> dict[str, Any]:
    manifest = signed()
    return {
        "input": {"skillKey": SKILL_KEY, "version": VERSION, "artifactDigest": ARTIFACT_DIGEST, "manifest": manifest}
    }


DISABLE_VARIABLES = {"input": {"skillKey": SKILL_KEY, "version": VERSION, "disabledBy": "dana", "reason": "Old."}}


@pytest.mark.parametrize("grants", [("ws-acme",), WORKSPACES, ()], ids=["one", "every-by-name", "none"])
async def test_installing_or_disabling_a_skill_needs_every_workspace(execute, database, token, grants) -> None:
    await execute(d.INSTALL_SKILL, install_variables(), bearer=token())  # installed, so disabling could work
    admin = token("dana", workspaces=grants)

    install = await failing(execute, database, d.INSTALL_SKILL, install_variables(), bearer=admin)
    disable = await failing(execute, database, d.DISABLE_SKILL, DISABLE_VARIABLES, bearer=admin)

    assert install["extensions"]["code"] == disable["extensions"]["code"] == "FORBIDDEN"
    assert "'*'" in install["message"]


async def test_an_admin_of_every_workspace_installs_and_disables(execute, token) -> None:
    admin = token("dana", workspaces=("*",))

    installed = (await execute(d.INSTALL_SKILL, install_variables(), bearer=admin))["installSkill"]
    disabled = (await execute(d.DISABLE_SKILL, DISABLE_VARIABLES, bearer=admin))["disableSkill"]

    assert (installed["status"], disabled["status"]) == ("installed", "disabled")


async def test_a_workspace_admin_still_reads_the_registry(execute, token) -> None:
    await execute(d.INSTALL_SKILL, install_variables(), bearer=token())
    admin = token("dana", workspaces=("ws-acme",))
    verify_input = install_variables()

    skills = (await execute(d.SKILLS, {"input": {}}, bearer=admin))["skills"]
    verification = (await execute(d.SKILL_VERIFICATION, verify_input, bearer=admin))["skillVerification"]

    assert [item["skillKey"] for item in skills["items"]] == [SKILL_KEY]
    assert verification["verified"] is True


# --- /metrics --------------------------------------------------------------------------------------


@pytest.fixture
async def metrics_app(tmp_path: Path, database_url: str):
    application = create_app(
        make_settings(tmp_path, database_url, metrics_bearer_token=METRICS_TOKEN), migrate_on_start=False
    )
    yield application
    await application.state.services.database.dispose()


async def scrape(application, headers: dict[str, str]) -> httpx.Response:
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.get("/metrics", headers=headers)


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-token"),
        pytest.param({"Authorization": "Bearer wrong-" + "m" * 32}, id="wrong-token"),
        pytest.param({"Authorization": METRICS_TOKEN}, id="no-scheme"),
        pytest.param({"Authorization": f"Basic {METRICS_TOKEN}"}, id="other-scheme"),
    ],
)
async def test_metrics_with_a_bearer_token_refuse_other_scrapes(metrics_app, headers) -> None:
    response = await scrape(metrics_app, headers)

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert METRICS_TOKEN not in response.text


async def test_metrics_with_the_bearer_token_answer(metrics_app) -> None:
    response = await scrape(metrics_app, {"Authorization": f"Bearer {METRICS_TOKEN}"})

    assert response.status_code == 200
    assert "# TYPE" in response.text


async def test_metrics_without_the_setting_stay_open(app) -> None:
    response = await scrape(app, {})

    assert response.status_code == 200
