"""The auth matrix: every operation of the registry × every kind of caller, one test per cell.

The operations come from `build_registry().operations`, so a new contract joins the matrix by itself; its
GraphQL document is generated from the spec (field name, kind, input type, selecting `__typename`, and
`total`, the items' `executionId` and each item's result where the output has them), and its input comes
from SAMPLES below, keyed by contract key: `test_every_operation_has_a_sample_input` names every operation
that has none yet.

Matrix size today: 40 operations × 11 token kinds = 440 cells (on each database).

The expected answer of a cell is computed, never listed: a broken token (none, bad signature, expired,
wrong audience, wrong issuer, `alg: none`) is UNAUTHENTICATED unless the contract is anonymous; below the
contract's auth level (anonymous < user < runner < admin) it is FORBIDDEN; then the workspace rule by the
sample's scope: the samples target ws-acme objects of the seeds, so for a caller without a ws-acme grant an
id-addressed operation is NOT_FOUND, a list answers without them (empty when filtered on ws-acme),
submitIntent into ws-acme is FORBIDDEN, decideExecutionSteps answers with every item NOT_FOUND (each item
is decided on its own), and the registry-wide skill commands are FORBIDDEN to anyone without `*`.
Everything else gets through: it succeeds, or fails for a domain reason (CONFLICT: an earlier cell already
moved the object), never UNAUTHENTICATED, FORBIDDEN, NOT_FOUND or an internal error.

Every refused cell leaves the database exactly as it was (snapshot before and after). The module shares one
app and database (the fixtures override conftest's per-test ones), so cells that get through change data
the later ones see; no expectation depends on the order of the cells.
"""

from __future__ import annotations

import json
import time
import typing
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import httpx
import jwt
import pytest
import pytest_asyncio
from gql.transport.exceptions import TransportQueryError
from sqlalchemy import insert, select

from app.auth import AuthLevel, Principal
from app.contracts.control_plane import build_registry
from app.contracts.model import Kind, OperationSpec
from app.db.database import Database
from app.db.tables import execution_table, webhook_delivery_table
from app.server import create_app
from app.services.kernel.clock import replayed_as
from app.testing import documents as d
from tests.conftest import error_of, make_settings, snapshot
from tests.integration.helpers import fetch
from tests.skill_fixtures import ARTIFACT_DIGEST, SKILL_KEY, VERSION, policy_document, signed

pytestmark = pytest.mark.asyncio(loop_scope="module")

ISSUER = "https://idp.example.test/realms/control-plane"
AUDIENCE = "control-plane-api"
SUB = "dana"
"""Every valid token names the same subject, so the actor fields of the samples are the caller's own."""
OTHER_SECRET = "another-secret-" + "y" * 40


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def database_url(backend, seeded_template, tmp_path_factory):
    url = await backend.copy(seeded_template, tmp_path_factory.mktemp("auth-matrix-db"))
    yield url
    await backend.drop(url)


@pytest.fixture(scope="module")
def settings(tmp_path_factory, database_url):
    """Issuer and audience are configured (so tokens with the wrong ones are refused) and the registry
    trusts publisher `acme`, so the sample skill installs."""
    return make_settings(
        tmp_path_factory.mktemp("auth-matrix"),
        database_url,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        skill_trust_policy=json.dumps(policy_document()),
        webhook_allow_http=True,
        webhook_allow_private_networks=True,
    )


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def app(settings):
    application = create_app(settings, migrate_on_start=False)
    await _install_the_sample_skill(application)
    await _create_the_sample_webhook(application)
    yield application
    await application.state.services.database.dispose()


async def _install_the_sample_skill(application) -> None:
    """So that disableSkill has something to disable (NOT_FOUND otherwise, for a domain reason)."""
    bearer = application.state.services.tokens.mint(SUB, ["admin"], ["*"], 600)
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.post(
            "/graphql",
            json={"query": d.INSTALL_SKILL, "variables": INSTALL},
            headers={"Authorization": f"Bearer {bearer}"},
        )
    assert response.json()["data"]["installSkill"]["status"] == "installed", response.text


WEBHOOK_ID, DELIVERY_ID = "whk_acme_sample", "msg_acme_sample"


async def _create_the_sample_webhook(application) -> None:
    """A ws-acme endpoint (it is never delivered to: no dispatcher runs here) and one succeeded delivery, with
    known ids, so that the webhook commands have something to change (NOT_FOUND otherwise)."""
    services = application.state.services
    principal = Principal.of(SUB, ["admin"], ["*"])
    create = build_registry().get("controlPlane.webhook.create")
    values = {"url": "http://127.0.0.1:9/hook", "event_keys": ["*"], "workspace_id": "ws-acme", "created_by": SUB}

    async def authenticate() -> Principal:
        return principal

    with replayed_as(lambda: datetime.now(UTC), lambda prefix: WEBHOOK_ID if prefix == "whk" else None):
        await services.executor.execute(create, values, authenticate)
    now = datetime.now(UTC)
    async with services.database.unit_of_work(write=True) as session:
        await session.execute(
            insert(webhook_delivery_table).values(
                id=DELIVERY_ID,
                endpoint_id=WEBHOOK_ID,
                event_position=1,
                event_cursor="1",
                event_key="controlPlane.intent.received",
                occurred_at=now,
                body="{}",
                status="succeeded",
                attempts=1,
                last_status_code=200,
                created_at=now,
                updated_at=now,
            )
        )


# --- the operations and their documents ------------------------------------------------------------

OPERATIONS: tuple[OperationSpec, ...] = tuple(build_registry().operations)


def document_of(spec: OperationSpec) -> str:
    """The operation's GraphQL document, from the spec alone."""
    operation = "mutation" if spec.kind is Kind.COMMAND else "query"
    selection = "__typename total" if "total" in spec.output.model_fields else "__typename"
    if "results" in spec.output.model_fields:
        selection += " results { ok code }"
    items = spec.output.model_fields.get("items")
    if items is not None:
        (item,) = typing.get_args(items.annotation)  # list[Item]
        selection += " items { executionId }" if "execution_id" in item.model_fields else " items { __typename }"
    if not spec.input.model_fields:
        return f"{operation} {{ {spec.field_name} {{ {selection} }} }}"
    return f"{operation} Cell($input: {spec.input.__name__}!) {{ {spec.field_name}(input: $input) {{ {selection} }} }}"


class Scope(Enum):
    """How the workspace rule applies to an operation called with its sample input."""

    ADDRESSED = "addressed"
    """Names an object of ws-acme by id: NOT_FOUND without a ws-acme grant."""
    LISTED = "listed"
    """Lists ws-acme objects: without a ws-acme grant, none of them (an empty answer, total 0, when the sample
    filters on ws-acme; a list without a workspace filter shows only the granted workspaces' objects)."""
    SUBMITTED = "submitted"
    """Names ws-acme as the workspace to create in: FORBIDDEN without a ws-acme grant."""
    ITEMIZED = "itemized"
    """Names ws-acme objects item by item, each answered on its own: without a ws-acme grant the request
    answers, every item NOT_FOUND."""
    REGISTRY = "registry"
    """Changes what every workspace sees: FORBIDDEN without `*`."""
    GLOBAL = "global"
    """Reads no workspace data: grants do not matter."""


@dataclass(frozen=True)
class Sample:
    scope: Scope
    input: dict[str, Any]


def by(field: str, **values: Any) -> dict[str, Any]:
    """Input with the actor field `field` naming the caller."""
    return {**values, field: SUB}


INSTALL = {
    "input": {"skillKey": SKILL_KEY, "version": VERSION, "artifactDigest": ARTIFACT_DIGEST, "manifest": signed()}
}
A, L, S, R, G = Scope.ADDRESSED, Scope.LISTED, Scope.SUBMITTED, Scope.REGISTRY, Scope.GLOBAL
EACH = Scope.ITEMIZED
REPORT = {"runId": "run-acme-report-12-1", "stepId": "step-acme-report-12-2"}
SAMPLES: dict[str, Sample] = {
    "controlPlane.execution.approve": Sample(
        A, by("approvedBy", executionId="exec-acme-deploy-42", stepId="step-acme-deploy-42-3")
    ),
    "controlPlane.execution.reject": Sample(
        A, by("rejectedBy", executionId="exec-acme-refund-7", stepId="step-acme-refund-7-2", reason="Duplicate.")
    ),
    "controlPlane.execution.evidence.export": Sample(A, by("exportedBy", runId="run-acme-digest-8-1")),
    "controlPlane.execution.abort": Sample(A, by("abortedBy", runId="run-acme-archive-6-1", reason="Not tonight.")),
    "controlPlane.execution.cancel": Sample(A, by("cancelledBy", executionId="exec-acme-intake-11")),
    "controlPlane.execution.pause": Sample(A, by("pausedBy", runId="run-acme-report-12-1")),
    "controlPlane.execution.resume": Sample(A, by("resumedBy", runId="run-acme-report-12-1")),
    "controlPlane.execution.retry": Sample(A, by("retriedBy", runId="run-acme-crawl-3-1")),
    "controlPlane.execution.shutdown": Sample(A, by("shutdownBy", runId="run-acme-report-12-1")),
    "controlPlane.execution.start": Sample(A, {"executionId": "exec-acme-deploy-42", "planId": "plan-acme-deploy-42"}),
    "controlPlane.intent.submit": Sample(S, {"workspaceId": "ws-acme", "text": "Rotate the API keys."}),
    "controlPlane.plan.compile": Sample(A, {"executionId": "exec-acme-intake-11", "intentId": "int-acme-intake-11"}),
    "controlPlane.plan.verify": Sample(A, {"executionId": "exec-acme-deploy-42", "planId": "plan-acme-deploy-42"}),
    "controlPlane.skill.disable": Sample(R, by("disabledBy", skillKey=SKILL_KEY, version=VERSION)),
    "controlPlane.skill.install": Sample(R, INSTALL["input"]),
    "controlPlane.runner.stepStarted": Sample(A, REPORT),
    "controlPlane.runner.stepCompleted": Sample(A, REPORT | {"output": {"rows": 12}}),
    "controlPlane.runner.stepFailed": Sample(A, REPORT | {"errorCode": "TIMEOUT", "message": "No answer."}),
    "controlPlane.approval.decideMany": Sample(
        EACH,
        by(
            "decidedBy",
            decisions=[
                {"executionId": "exec-acme-deploy-42", "stepId": "step-acme-deploy-42-3", "decision": "approve"},
            ],
        ),
    ),
    "controlPlane.approval.list": Sample(L, {"workspaceId": "ws-acme"}),
    "controlPlane.approval.get": Sample(A, {"executionId": "exec-acme-deploy-42", "stepId": "step-acme-deploy-42-3"}),
    "controlPlane.approval.policy": Sample(G, {}),
    "controlPlane.contract.list": Sample(G, {}),
    "controlPlane.event.list": Sample(L, {"workspaceId": "ws-acme", "limit": 5}),
    "controlPlane.execution.evidence.get": Sample(A, {"runId": "run-acme-digest-8-1"}),
    "controlPlane.execution.get": Sample(A, {"executionId": "exec-acme-deploy-42"}),
    "controlPlane.execution.list": Sample(L, {"workspaceId": "ws-acme"}),
    "controlPlane.execution.lane.get": Sample(A, {"runId": "run-acme-deploy-42-1"}),
    # The lane list has no workspace filter: ws-acme (digest-8) and ws-globex (rollout-3) have a lane complete
    # and done, and a caller sees only its own workspaces' lanes.
    "controlPlane.execution.lane.list": Sample(L, {"laneKey": "complete", "laneStatus": "done"}),
    "controlPlane.policy.explain": Sample(A, {"executionId": "exec-acme-deploy-42"}),
    "controlPlane.skill.list": Sample(G, {"includeDisabled": True}),
    "controlPlane.skill.verify": Sample(G, INSTALL["input"]),
    "controlPlane.trace.get": Sample(A, {"executionId": "exec-acme-deploy-42"}),
    "controlPlane.identity.viewer": Sample(G, {}),
    "controlPlane.webhook.create": Sample(
        S, by("createdBy", url="http://127.0.0.1:9/hook", eventKeys=["*"], workspaceId="ws-acme")
    ),
    "controlPlane.webhook.disable": Sample(A, by("disabledBy", endpointId=WEBHOOK_ID)),
    "controlPlane.webhook.rotateSecret": Sample(A, by("rotatedBy", endpointId=WEBHOOK_ID)),
    "controlPlane.webhook.redeliver": Sample(A, by("requestedBy", deliveryId=DELIVERY_ID)),
    "controlPlane.webhook.list": Sample(L, {"workspaceId": "ws-acme"}),
    "controlPlane.webhook.deliveries": Sample(A, {"endpointId": WEBHOOK_ID}),
}


# --- the callers -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenKind:
    name: str
    level: AuthLevel | None
    """None: the token is not accepted at all."""
    grants: tuple[str, ...] = ()
    mint: Callable[[Any], str | None] | None = None
    """(services) -> the bearer credential; None for the valid tokens conftest's `token` mints."""


def claims(services, **changes: Any) -> dict[str, Any]:
    """The claims of a valid admin token granted every workspace, with `changes` (None drops a claim)."""
    now = int(time.time())
    values: dict[str, Any] = {
        "sub": SUB,
        "iat": now,
        "exp": now + 600,
        "iss": services.tokens.issuer,
        "aud": services.tokens.audience,
        "roles": ["admin"],
        "workspaces": ["*"],
    }
    values.update(changes)
    return {key: value for key, value in values.items() if value is not None}


def signed_token(services, **changes: Any) -> str:
    return jwt.encode(claims(services, **changes), services.tokens._signing_key, algorithm="HS256")


def unsigned_token(services) -> str:
    """`alg: none`: pyjwt writes no signature at all."""
    return jwt.encode(claims(services), "", algorithm="none")


KINDS = [
    TokenKind("no-token", None, mint=lambda _services: None),
    TokenKind("bad-signature", None, mint=lambda s: jwt.encode(claims(s), OTHER_SECRET, algorithm="HS256")),
    TokenKind("expired", None, mint=lambda s: signed_token(s, iat=int(time.time()) - 120, exp=int(time.time()) - 60)),
    TokenKind("wrong-audience", None, mint=lambda s: signed_token(s, aud="someone-else")),
    TokenKind("wrong-issuer", None, mint=lambda s: signed_token(s, iss="https://idp.example.test/realms/other")),
    TokenKind("alg-none", None, mint=unsigned_token),
    TokenKind("user-acme", AuthLevel.USER, ("ws-acme",)),
    TokenKind("runner-acme", AuthLevel.RUNNER, ("ws-acme",)),
    TokenKind("admin-globex", AuthLevel.ADMIN, ("ws-globex",)),
    TokenKind("admin-acme", AuthLevel.ADMIN, ("ws-acme",)),
    TokenKind("admin-all", AuthLevel.ADMIN, ("*",)),
]
KIND_BY_NAME = {kind.name: kind for kind in KINDS}
assert len(KIND_BY_NAME) == len(KINDS)


def bearer_of(kind: TokenKind, services, token) -> str | None:
    if kind.mint is not None:
        return kind.mint(services)
    assert kind.level is not None
    return str(token(SUB, kind.level.label, workspaces=kind.grants))


# --- the expected answer of a cell -----------------------------------------------------------------


async def workspaces_of(database: Database, execution_ids: set[str]) -> set[str]:
    rows = await fetch(database, select(execution_table.c.workspace_id).where(execution_table.c.id.in_(execution_ids)))
    assert len(rows) == len(execution_ids) or not execution_ids
    return {row["workspace_id"] for row in rows}


THROUGH = "gets through"
EMPTY = "empty"
ITEMS_NOT_FOUND = "every item NOT_FOUND"
REFUSALS = frozenset({"UNAUTHENTICATED", "FORBIDDEN", "NOT_FOUND"})
DOMAIN_ERRORS = frozenset({"CONFLICT"})
"""What a call that got through may still answer: its object was already moved by an earlier cell."""


def expected(spec: OperationSpec, scope: Scope, kind: TokenKind) -> str:
    """THROUGH, EMPTY, or the error code the cell must answer."""
    level, grants = kind.level, kind.grants
    if level is None:
        if spec.auth is not AuthLevel.ANONYMOUS:
            return "UNAUTHENTICATED"
        level, grants = AuthLevel.ANONYMOUS, ()  # an anonymous call holds no grant
    if level < spec.auth:
        return "FORBIDDEN"
    if scope is Scope.GLOBAL:
        return THROUGH
    if scope is Scope.REGISTRY:
        return THROUGH if "*" in grants else "FORBIDDEN"
    if "*" in grants or "ws-acme" in grants:
        return THROUGH
    return {
        Scope.ADDRESSED: "NOT_FOUND",
        Scope.LISTED: EMPTY,
        Scope.SUBMITTED: "FORBIDDEN",
        Scope.ITEMIZED: ITEMS_NOT_FOUND,
    }[scope]


CELLS = [pytest.param(spec, kind, id=f"{spec.field_name}-{kind.name}") for spec in OPERATIONS for kind in KINDS]


async def test_every_operation_has_a_sample_input() -> None:
    missing = sorted(f"{spec.key} ({spec.field_name})" for spec in OPERATIONS if spec.key not in SAMPLES)
    assert not missing, f"operations without a sample input in SAMPLES: {', '.join(missing)}"
    stale = sorted(set(SAMPLES) - {spec.key for spec in OPERATIONS})
    assert not stale, f"SAMPLES names contracts the registry does not have: {', '.join(stale)}"


async def test_the_module_docstring_states_the_matrix_size(record_property) -> None:
    """A new contract adds a row: this test (with the sample one) asks for the docstring to say so."""
    size = f"{len(OPERATIONS)} operations × {len(KINDS)} token kinds = {len(CELLS)} cells"
    record_property("auth_matrix", size)
    assert len(CELLS) == len(OPERATIONS) * len(KINDS)
    assert len({spec.field_name for spec in OPERATIONS}) == len(OPERATIONS)
    assert __doc__ is not None
    assert size in __doc__, f"update the module docstring: {size}"


@pytest.mark.parametrize(("spec", "kind"), CELLS)
async def test_cell(execute, database, services, token, spec: OperationSpec, kind: TokenKind) -> None:
    sample = SAMPLES.get(spec.key)
    if sample is None:
        pytest.fail(f"{spec.key} ({spec.field_name}) has no sample input in SAMPLES")
    document = document_of(spec)
    variables = {"input": sample.input} if spec.input.model_fields else None
    want = expected(spec, sample.scope, kind)
    bearer = bearer_of(kind, services, token)

    before = await snapshot(database)
    try:
        data = await execute(document, variables, bearer=bearer)
    except TransportQueryError as failure:
        error = error_of(pytest.ExceptionInfo.from_exception(failure))
        code = error["extensions"]["code"]
        assert error["extensions"].get("contract", {}).get("key") == spec.key, error
        if want == THROUGH:
            assert code in DOMAIN_ERRORS, f"{spec.field_name} as {kind.name}: expected to get through, got {error}"
            return
        assert code == want, f"{spec.field_name} as {kind.name}: expected {want}, got {error}"
        assert await snapshot(database) == before, f"{spec.field_name} as {kind.name} was refused but wrote"
        if code == "FORBIDDEN" and kind.level is not None and kind.level < spec.auth:
            assert f"needs the {spec.auth.label} role" in error["message"], error
        return
    answer = data[spec.field_name]
    assert answer["__typename"], answer
    if want == EMPTY:
        listed = {item["executionId"] for item in answer.get("items", []) if item.get("executionId")}
        seen = await workspaces_of(database, listed)
        assert seen <= set(kind.grants), f"{spec.field_name} as {kind.name} sees another workspace: {seen}"
        if sample.input.get("workspaceId") == "ws-acme":
            assert answer.get("total", 0) == 0, f"{spec.field_name} as {kind.name} sees ws-acme: {answer}"
            assert not answer.get("items"), f"{spec.field_name} as {kind.name} sees ws-acme: {answer}"
        assert await snapshot(database) == before
        return
    if want == ITEMS_NOT_FOUND:
        assert answer["results"], answer
        assert all(item == {"ok": False, "code": "NOT_FOUND"} for item in answer["results"]), answer
        assert await snapshot(database) == before, f"{spec.field_name} as {kind.name} was refused but wrote"
        return
    assert want == THROUGH, f"{spec.field_name} as {kind.name}: expected {want}, got {answer}"
    for item in answer.get("results", []):
        assert item["ok"] or item["code"] in DOMAIN_ERRORS, f"{spec.field_name} as {kind.name}: {item}"
    if spec.kind is Kind.QUERY:
        assert await snapshot(database) == before, f"the query {spec.field_name} wrote"
