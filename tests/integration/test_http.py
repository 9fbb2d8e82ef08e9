"""GraphQL over HTTP (graphql-over-http spec): media types, status codes, methods, content types and the
request body limit. After each refused request the server still answers the next normal one."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.testing.documents import PENDING_TOTAL, REJECT
from tests.conftest import HttpClient, MintToken, snapshot
from tests.integration.helpers import DEPLOY, SEEDED_AWAITING
from tests.integration.observed import GQL, media_type

JSON = "application/json"
MIB = 1024 * 1024


async def post(
    http: HttpClient, token: MintToken, body: Any = None, *, headers: dict[str, str] | None = None, **kwargs: Any
) -> httpx.Response:
    async with http({"Authorization": f"Bearer {token()}", **(headers or {})}) as client:
        if body is not None:
            kwargs["json"] = body
        return await client.post("/graphql", **kwargs)


async def assert_still_serving(http: HttpClient, token: MintToken) -> None:
    """The next normal request answers correctly."""
    response = await post(http, token, {"query": PENDING_TOTAL}, headers={"Accept": GQL})
    assert response.status_code == 200, response.text
    assert media_type(response) == GQL
    assert response.json() == {"data": {"pendingApprovals": {"total": SEEDED_AWAITING}}}


def the_error(response: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any]
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    return error


# --- media type negotiation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (GQL, GQL),
        (JSON, JSON),
        ("*/*", JSON),
        ("application/*", JSON),
        (f"{GQL}, {JSON};q=0.9", GQL),
        (f"{JSON}, {GQL}", JSON),
        (f"{JSON};q=0.5, {GQL}", GQL),
        (f"{GQL};charset=utf-8", GQL),
        (f"text/html, {GQL};q=0.1", GQL),
    ],
)
async def test_response_media_type_follows_accept(http, token, accept, expected):
    response = await post(http, token, {"query": PENDING_TOTAL}, headers={"Accept": accept})

    assert response.status_code == 200
    assert media_type(response) == expected
    assert response.json() == {"data": {"pendingApprovals": {"total": SEEDED_AWAITING}}}


async def test_no_accept_header_is_a_legacy_client_answered_with_json(http, token):
    async with http({"Authorization": f"Bearer {token()}"}) as client:
        request = client.build_request("POST", "/graphql", json={"query": PENDING_TOTAL})
        del request.headers["accept"]
        response = await client.send(request)

    assert response.status_code == 200
    assert media_type(response) == JSON


@pytest.mark.parametrize("accept", ["text/html", "application/xml", f"{GQL};charset=latin-1", f"{GQL};q=0", "text/*"])
async def test_unacceptable_accept_is_406(http, token, accept):
    response = await post(http, token, {"query": PENDING_TOTAL}, headers={"Accept": accept})

    assert response.status_code == 406
    assert "Not acceptable" in the_error(response)["message"]
    await assert_still_serving(http, token)


# --- request errors: 400 with graphql-response+json, 200 with legacy json ----------------------------

REQUEST_ERRORS = [
    pytest.param({"query": "{ pendingApprovals(input: {}) { total "}, "Syntax Error", id="unparsable"),
    pytest.param({"query": "{ nope }"}, "Cannot query field 'nope'", id="invalid"),
    pytest.param(
        {"query": "query Q($n: Int!) { executions(input: {limit: $n}) { total } }", "variables": {"n": "ten"}},
        "Int cannot represent",
        id="variables",
    ),
]


@pytest.mark.parametrize(("body", "message"), REQUEST_ERRORS)
async def test_request_errors_are_400_with_graphql_response_json(http, token, body, message):
    response = await post(http, token, body, headers={"Accept": GQL})

    assert response.status_code == 400
    assert media_type(response) == GQL
    assert "data" not in response.json()
    assert message in the_error(response)["message"]
    await assert_still_serving(http, token)


@pytest.mark.parametrize(("body", "message"), REQUEST_ERRORS)
async def test_request_errors_stay_200_for_legacy_json_clients(http, token, body, message):
    response = await post(http, token, body, headers={"Accept": JSON})

    assert response.status_code == 200
    assert media_type(response) == JSON
    assert message in the_error(response)["message"]


async def test_field_errors_are_200_with_data_null(http):
    """An error during execution (here no token) is not a request error: data is present, status 200."""
    async with http({"Accept": GQL}) as client:
        response = await client.post("/graphql", json={"query": PENDING_TOTAL})

    assert response.status_code == 200
    assert media_type(response) == GQL
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


# --- methods --------------------------------------------------------------------------------------


async def test_get_runs_queries(http, token):
    async with http({"Authorization": f"Bearer {token()}", "Accept": GQL}) as client:
        response = await client.get("/graphql", params={"query": PENDING_TOTAL})

    assert response.status_code == 200
    assert media_type(response) == GQL
    assert response.json() == {"data": {"pendingApprovals": {"total": SEEDED_AWAITING}}}


@pytest.mark.parametrize("accept", [GQL, JSON])
async def test_mutation_over_get_is_405_and_runs_nothing(http, token, database, accept):
    before = await snapshot(database)
    variables = {"input": {**DEPLOY, "rejectedBy": "dana", "reason": "Freeze."}}
    async with http({"Authorization": f"Bearer {token()}", "Accept": accept}) as client:
        response = await client.get("/graphql", params={"query": REJECT, "variables": json.dumps(variables)})

    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert "send mutations with POST" in the_error(response)["message"]
    assert await snapshot(database) == before
    await assert_still_serving(http, token)


async def test_get_from_a_browser_still_serves_graphiql(http):
    async with http({"Accept": "text/html"}) as client:
        response = await client.get("/graphql")

    assert response.status_code == 200
    assert media_type(response) == "text/html"


# --- content types and bodies ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/graphql",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/json; charset=latin-1",
        None,
    ],
)
async def test_unsupported_content_type_is_415(http, token, content_type):
    headers = {"Accept": GQL} | ({"Content-Type": content_type} if content_type else {})
    response = await post(http, token, headers=headers, content=json.dumps({"query": PENDING_TOTAL}).encode())

    assert response.status_code == 415
    assert media_type(response) == GQL
    assert "Unsupported content type" in the_error(response)["message"]
    await assert_still_serving(http, token)


async def test_json_with_utf8_charset_is_accepted(http, token):
    headers = {"Accept": GQL, "Content-Type": "application/json; charset=utf-8"}
    response = await post(http, token, headers=headers, content=json.dumps({"query": PENDING_TOTAL}).encode())

    assert response.status_code == 200
    assert response.json() == {"data": {"pendingApprovals": {"total": SEEDED_AWAITING}}}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(b"{not json", "Unable to parse request body as JSON", id="not-json"),
        pytest.param(b'"a string"', "must be a JSON object", id="string"),
        pytest.param(b"{}", "No GraphQL query found", id="no-query"),
        pytest.param(b'{"query": 42}', "`query` must be a string", id="query-not-string"),
        pytest.param(b'{"query": "{ __typename }", "variables": [1]}', "`variables` must be an object", id="variables"),
        pytest.param(
            json.dumps([{"query": PENDING_TOTAL}, {"query": PENDING_TOTAL}]).encode(),
            "Batched requests are not supported",
            id="batch",
        ),
    ],
)
@pytest.mark.parametrize("accept", [GQL, JSON])
async def test_malformed_requests_are_400(http, token, content, message, accept):
    headers = {"Accept": accept, "Content-Type": JSON}
    response = await post(http, token, headers=headers, content=content)

    assert response.status_code == 400
    assert media_type(response) == accept
    assert message in the_error(response)["message"]
    await assert_still_serving(http, token)


# --- request body limit ---------------------------------------------------------------------------


async def test_declared_body_over_the_limit_is_413(http, token):
    response = await post(http, token, headers={"Content-Type": JSON}, content=b" " * (2 * MIB))

    assert response.status_code == 413
    assert "MAX_REQUEST_BYTES" in the_error(response)["message"]
    await assert_still_serving(http, token)


class Chunks:
    """A 2 MiB body in 64 KiB chunks that fails the test if read much past the 1 MiB limit."""

    size = 64 * 1024

    def __init__(self, total: int = 2 * MIB, allowed: int = MIB + 64 * 1024) -> None:
        self.total = total
        self.allowed = allowed
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.sent < self.total:
            if self.sent >= self.allowed:
                raise AssertionError(f"the server read {self.sent} bytes, past the limit")
            self.sent += self.size
            yield b" " * self.size


async def test_streamed_body_over_the_limit_is_413_before_it_is_all_read(http, token):
    chunks = Chunks()
    response = await post(http, token, headers={"Content-Type": JSON}, content=chunks)

    assert response.status_code == 413
    assert "MAX_REQUEST_BYTES" in the_error(response)["message"]
    assert MIB < chunks.sent <= MIB + Chunks.size
    await assert_still_serving(http, token)


async def test_declared_length_over_the_limit_is_refused_before_reading_any_byte(http, token):
    chunks = Chunks(allowed=0)
    headers = {"Content-Type": JSON, "Content-Length": str(2 * MIB)}
    response = await post(http, token, headers=headers, content=chunks)

    assert response.status_code == 413
    assert chunks.sent == 0
    await assert_still_serving(http, token)


async def test_body_just_under_the_limit_is_served(http, token):
    body: dict[str, Any] = {"query": PENDING_TOTAL, "variables": {"padding": ""}}
    body["variables"]["padding"] = "x" * (MIB - len(json.dumps(body)))
    content = json.dumps(body).encode()
    assert len(content) == MIB

    response = await post(http, token, headers={"Content-Type": JSON, "Accept": GQL}, content=content)

    assert response.status_code == 200
    assert response.json() == {"data": {"pendingApprovals": {"total": SEEDED_AWAITING}}}
