"""Abuse limits (depth 10, aliases 15, tokens 2,000, directives 50, list `limit` <= 200): each abuse is
refused with BAD_USER_INPUT before execution, again when repeated (the parser and validation caches do
not let it through), and the server answers the next normal request quickly."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from gql.transport.exceptions import TransportQueryError
from starlette.applications import Starlette

from app.server import create_app
from app.testing.documents import REJECT
from tests.conftest import HttpClient, MintToken, make_settings, snapshot
from tests.integration.helpers import DEPLOY, SEEDED_AWAITING, failing

GQL = "application/graphql-response+json"
PENDING = "{ pendingApprovals(input: {}) { total } }"


def nested(depth: int) -> str:
    """`pendingApprovals { items { ... } }` with `depth` nested selection sets (the schema is shallower, so
    the fields below `items` are invalid; the depth rule reports regardless)."""
    inner = "leaf"
    for _ in range(depth - 2):
        inner = f"deeper {{ {inner} }}"
    return f"{{ pendingApprovals(input: {{}}) {{ items {{ {inner} }} }} }}"


async def test_depth_counts_nested_selection_sets(http, token):
    """Depth is the nesting of selection sets: `{ a { b } }` is 1 deep, so 10 allows 11 levels of fields."""
    at_limit = (await send(http, token, nested(10))).json()["errors"]
    over = (await send(http, token, nested(11))).json()["errors"]

    assert not any("maximum operation depth" in error["message"] for error in at_limit)
    assert any("exceeds maximum operation depth of 10" in error["message"] for error in over)


def aliases(count: int) -> str:
    return "{ " + " ".join(f"a{i}: __typename" for i in range(count)) + " }"


def directives(count: int) -> str:
    return "{ " + "__typename @include(if: true) " * count + "}"


def tokens(count: int) -> str:
    """`{`, `}` and count - 2 `__typename` names: exactly `count` tokens."""
    return "{ " + "__typename " * (count - 2) + "}"


ABUSES = [
    pytest.param(nested(11), "exceeds maximum operation depth of 10", id="depth"),
    pytest.param(aliases(16), "16 aliases found. Allowed: 15", id="aliases"),
    pytest.param(tokens(2001), "Document contains more than 2000 tokens", id="tokens"),
    pytest.param("# comment\n" * 2001 + "{ __typename }", "Document contains more than 2000 tokens", id="comments"),
    pytest.param(directives(51), "51 directives found. Allowed: 50", id="directives"),
]


async def send(
    http: HttpClient, token: MintToken, query: str, variables: dict[str, Any] | None = None
) -> httpx.Response:
    async with http({"Authorization": f"Bearer {token()}", "Accept": GQL}) as client:
        return await client.post("/graphql", json={"query": query, "variables": variables})


async def assert_answers_quickly(http: HttpClient, token: MintToken) -> None:
    started = time.perf_counter()
    response = await send(http, token, PENDING)
    # A generous bound on a shared, noisy machine: it catches a server left stuck by the abuse, not slowness.
    assert time.perf_counter() - started < 10.0
    assert response.status_code == 200
    assert response.json() == {"data": {"pendingApprovals": {"total": SEEDED_AWAITING}}}


@pytest.mark.parametrize(("document", "message"), ABUSES)
async def test_each_abuse_is_refused_every_time_and_the_server_answers_the_next_request(http, token, document, message):
    for _ in range(2):  # the second time the parser and validation caches are warm
        response = await send(http, token, document)

        assert response.status_code == 400
        body = response.json()
        assert "data" not in body
        assert any(message in error["message"] for error in body["errors"]), body
        assert {error["extensions"]["code"] for error in body["errors"]} == {"BAD_USER_INPUT"}
        await assert_answers_quickly(http, token)


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(aliases(15), id="aliases"),
        pytest.param("# comment\n" * 1997 + "{ __typename }", id="tokens"),
        pytest.param(directives(50), id="directives"),
    ],
)
async def test_documents_at_the_limits_run(http, token, document):
    for _ in range(2):
        response = await send(http, token, document)

        assert response.status_code == 200, response.text
        assert "errors" not in response.json()


async def test_abuses_through_the_gql_client_are_bad_user_input(execute, database):
    # (gql sends the document as it printed it, without comments, so the comment flood cannot be sent that way)
    for document, message in ((param.values[0], param.values[1]) for param in ABUSES if param.id != "comments"):
        with pytest.raises(TransportQueryError) as excinfo:
            await execute(document)
        errors = excinfo.value.errors or []
        assert any(message in error["message"] for error in errors)
        assert {error["extensions"]["code"] for error in errors} == {"BAD_USER_INPUT"}
    assert (await execute(PENDING))["pendingApprovals"]["total"] == SEEDED_AWAITING


async def test_a_refused_mutation_changes_nothing(execute, database):
    """The limits apply before execution: 16 aliased rejections run none of them."""
    fields = " ".join(f"r{i}: rejectExecutionStep(input: $input) {{ status }}" for i in range(16))
    document = f"mutation Many($input: ControlPlaneExecutionRejectInput!) {{ {fields} }}"
    variables = {"input": {**DEPLOY, "rejectedBy": "dana", "reason": "Freeze."}}

    error = await failing(execute, database, document, variables)

    assert error["message"] == "16 aliases found. Allowed: 15"
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    result = await execute(REJECT, variables)
    assert result["rejectExecutionStep"]["status"] == "rejected"


@pytest.mark.parametrize(
    ("field", "input_type"),
    [
        ("pendingApprovals", "ControlPlaneApprovalListInput"),
        ("executions", "ControlPlaneExecutionListInput"),
        ("skills", "ControlPlaneSkillListInput"),
    ],
)
async def test_list_limit_arguments_are_at_most_200(execute, database, field, input_type):
    document = f"query L($input: {input_type}!) {{ {field}(input: $input) {{ total }} }}"

    error = await failing(execute, database, document, {"input": {"limit": 201}})

    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert set(error["extensions"]["fields"]) == {"limit"}
    assert "total" in (await execute(document, {"input": {"limit": 200}}))[field]


@pytest.fixture
async def strict_app(tmp_path, database_url) -> AsyncIterator[Starlette]:
    settings = make_settings(
        tmp_path,
        database_url,
        graphql_max_depth=1,
        graphql_max_aliases=1,
        graphql_max_tokens=20,
        graphql_max_directives=1,
        max_request_bytes=400,
    )
    application = create_app(settings, migrate_on_start=False)
    yield application
    await application.state.services.database.dispose()


@pytest.mark.parametrize(
    ("document", "status", "message"),
    [
        ("{ pendingApprovals(input: {}) { items { stepId } } }", 400, "exceeds maximum operation depth of 1"),
        ("{ a: __typename b: __typename }", 400, "2 aliases found. Allowed: 1"),
        ("{ " + "__typename " * 20 + "}", 400, "more than 20 tokens"),
        ("{ __typename @include(if: true) __typename @skip(if: false) }", 400, "2 directives found. Allowed: 1"),
        ("{ __typename }" + " " * 400, 413, "the limit is 400 bytes"),
    ],
)
async def test_limits_are_configurable(strict_app, token, database, document, status, message):
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=strict_app),
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {token()}", "Accept": GQL},
    ) as client:
        before = await snapshot(database)
        refused = await client.post("/graphql", json={"query": document})
        normal = await client.post("/graphql", json={"query": PENDING})

    assert refused.status_code == status
    assert message in refused.json()["errors"][0]["message"]
    assert refused.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert await snapshot(database) == before
    assert normal.json() == {"data": {"pendingApprovals": {"total": SEEDED_AWAITING}}}
