"""Regression tests for what fuzzing the GraphQL API found (test_fuzz.py, and by hand next to it): input
no database can store is refused with BAD_USER_INPUT naming the field (`extensions.fields`) and the
database is unchanged, instead of INTERNAL_SERVER_ERROR, on SQLite and PostgreSQL alike (see
app/contracts/storable.py); a request body the JSON decoder cannot read is a 400, not a 500."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from app.contracts.storable import MAX_JSON_DEPTH
from app.db.database import Database
from app.testing.documents import COMPILE, DISABLE_SKILL, PAUSE, REJECT, SUBMIT
from tests.conftest import snapshot

# Seeded: a step awaiting a decision, a running run, and an execution submitted without a plan.
DEPLOY_STEP = {"executionId": "exec-acme-deploy-42", "stepId": "step-acme-deploy-42-3"}
RUNNING_RUN = "run-initech-email-5-1"
PENDING = {"executionId": "exec-acme-intake-11", "intentId": "int-acme-intake-11"}

Post = Callable[[str | dict[str, Any]], Awaitable[tuple[int, dict[str, Any]]]]


def raw_body(document: str, input_json: str) -> str:
    """A request body with `input_json` as written: literals like `1e400` and escapes like `\\ud800`
    reach the server's JSON decoder unchanged."""
    return f'{{"query": {json.dumps(document)}, "variables": {{"input": {input_json}}}}}'


def submit_document(metadata_literal: str) -> str:
    return (
        f'mutation {{ submitIntent(input: {{workspaceId: "ws-acme", text: "x", metadata: {metadata_literal}}}) '
        "{ executionId } }"
    )


@pytest.fixture
def post(http: Callable[[dict[str, str]], httpx.AsyncClient], token: Callable[..., str]) -> Post:
    """Sends a request body (a string is sent as it is); returns the HTTP status and the answer."""

    async def send(body: str | dict[str, Any]) -> tuple[int, dict[str, Any]]:
        content = body if isinstance(body, str) else json.dumps(body)
        headers = {"Authorization": f"Bearer {token('dana')}", "Content-Type": "application/json"}
        async with http(headers) as client:
            response = await client.post("/graphql", content=content.encode())
        return response.status_code, response.json()

    return send


async def refused(post: Post, database: Database, body: str | dict[str, Any]) -> dict[str, str]:
    """The request is answered BAD_USER_INPUT and changes nothing; returns `extensions.fields`."""
    before = await snapshot(database)
    status, answer = await post(body)
    assert status == 200, answer
    assert answer.get("data") is None, answer
    (error,) = answer["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert await snapshot(database) == before
    fields: dict[str, str] = error["extensions"]["fields"]
    return fields


# Finding 1 (fuzzer, PostgreSQL): a NUL character in a text field reached the database, which refuses
# it in a text column ("invalid byte sequence for encoding UTF8: 0x00", even as a query parameter) and
# in a jsonb event payload ("unsupported Unicode escape sequence"): INTERNAL_SERVER_ERROR. SQLite
# stored it.
@pytest.mark.parametrize(
    ("document", "data", "field"),
    [
        (REJECT, {**DEPLOY_STEP, "rejectedBy": "dana", "reason": "Freeze\x00"}, "reason"),
        (PAUSE, {"runId": RUNNING_RUN, "pausedBy": "dana", "reason": "\x00"}, "reason"),
        (SUBMIT, {"workspaceId": "ws-acme", "text": "Deploy\x00 it"}, "text"),
        (DISABLE_SKILL, {"skillKey": "acme.summarize\x00", "disabledBy": "dana"}, "skillKey"),
    ],
    ids=["reject-reason", "pause-reason", "intent-text", "skill-key-lookup"],
)
async def test_nul_character_in_text_is_refused(post, database, document, data, field) -> None:
    fields = await refused(post, database, {"query": document, "variables": {"input": data}})
    assert fields == {field: "must not contain NUL characters"}


# Finding 2 (fuzzer, PostgreSQL): the same inside a JSON value or key (jsonb has no NUL either).
@pytest.mark.parametrize(
    ("metadata", "field", "message"),
    [
        ({"note": "a\x00b"}, "metadata.note", "must not contain NUL characters"),
        ({"tags": ["ok", "\x00"]}, "metadata.tags.1", "must not contain NUL characters"),
        ({"k\x00": 1}, "metadata", "keys must not contain NUL characters"),
    ],
    ids=["value", "list-item", "key"],
)
async def test_nul_character_in_json_is_refused(post, database, metadata, field, message) -> None:
    data = {"workspaceId": "ws-acme", "text": "Deploy it", "metadata": metadata}
    fields = await refused(post, database, {"query": SUBMIT, "variables": {"input": data}})
    assert fields == {field: message}


# Finding 3 (fuzzer, PostgreSQL): a number too large for a double (`1e400`) is infinity in a JSON
# value: jsonb refuses it, SQLite stored invalid JSON (`Infinity`), and a plan hash cannot be computed
# (compilePlan: INTERNAL_SERVER_ERROR on both databases).
@pytest.mark.parametrize(
    ("document", "input_json", "field"),
    [
        (SUBMIT, '{"workspaceId": "ws-acme", "text": "Deploy it", "metadata": {"n": 1e400}}', "metadata.n"),
        (
            COMPILE,
            json.dumps({**PENDING, "draft": {"steps": [{"key": "build.artifact", "input": {"size": 0}}]}}).replace(
                '"size": 0', '"size": -1e400'
            ),
            "draft.steps.0.input.size",
        ),
    ],
    ids=["intent-metadata", "plan-draft"],
)
async def test_non_finite_json_number_is_refused(post, database, document, input_json, field) -> None:
    fields = await refused(post, database, raw_body(document, input_json))
    assert fields == {field: "must be a finite number"}


async def test_non_finite_json_literal_in_document_is_refused(post, database) -> None:
    fields = await refused(post, database, {"query": submit_document("{n: 1e400}")})
    assert fields == {"metadata.n": "must be a finite number"}


# Finding 4 (fuzzer): an integer literal too long to convert (over 4300 digits) is NaN in a JSON
# value (graphql-core's untyped literal coercion), with the effect of finding 3.
async def test_integer_literal_too_long_is_refused(post, database) -> None:
    fields = await refused(post, database, {"query": submit_document("{n: " + "9" * 5000 + "}")})
    assert fields == {"metadata.n": "must be a finite number"}


# Found by hand next to finding 2: a lone surrogate, which a JSON string may escape (`"\\ud800"`) but
# UTF-8 cannot encode, in a JSON value or key (text fields refuse it already: pydantic's str must be
# well-formed). PostgreSQL: INTERNAL_SERVER_ERROR; SQLite stored it.
@pytest.mark.parametrize(
    ("metadata_json", "field", "message"),
    [
        ('{"s": "\\ud800"}', "metadata.s", "must be valid Unicode text (no lone surrogates)"),
        ('{"\\udfff": 1}', "metadata", "keys must be valid Unicode text (no lone surrogates)"),
    ],
    ids=["value", "key"],
)
async def test_lone_surrogate_in_json_is_refused(post, database, metadata_json, field, message) -> None:
    input_json = f'{{"workspaceId": "ws-acme", "text": "x", "metadata": {metadata_json}}}'
    fields = await refused(post, database, raw_body(SUBMIT, input_json))
    assert fields == {field: message}


# Found by hand next to finding 4: the same integer, or an array nested thousands of levels deep, in
# the request's JSON body made the JSON decoder raise ValueError / RecursionError: HTTP 500.
@pytest.mark.parametrize("value", ["9" * 5000, "[" * 5000 + "]" * 5000], ids=["long-integer", "deep-array"])
async def test_undecodable_json_body_is_a_bad_request(post, database, value) -> None:
    before = await snapshot(database)
    status, answer = await post(raw_body(SUBMIT, f'{{"workspaceId": "ws-acme", "text": "x", "metadata": {value}}}'))
    assert status == 400, answer
    assert "Unable to parse request body as JSON" in answer["errors"][0]["message"]
    assert await snapshot(database) == before


# Found by hand next to finding 3: JSON nested deeper than Python's recursion limit allows (900
# levels: GraphQL variables have no depth limit) was accepted, and hashing or storing it raised
# RecursionError (compilePlan: INTERNAL_SERVER_ERROR).
async def test_json_nested_too_deep_is_refused(post, database) -> None:
    draft = {"steps": [{"key": "build.artifact", "input": {"deep": json.loads("[" * 900 + "]" * 900)}}]}
    fields = await refused(post, database, {"query": COMPILE, "variables": {"input": {**PENDING, "draft": draft}}})
    # draft, steps, the step, input and 60 arrays: the 65th level is refused
    path = "draft.steps.0.input.deep" + ".0" * 60
    assert fields == {path: f"must not nest arrays and objects more than {MAX_JSON_DEPTH} levels deep"}


async def test_json_nested_to_the_limit_is_accepted(post) -> None:
    depth = MAX_JSON_DEPTH - 1  # the metadata object is the first level
    data = {"workspaceId": "ws-acme", "text": "x", "metadata": {"deep": json.loads("[" * depth + "]" * depth)}}
    status, answer = await post({"query": SUBMIT, "variables": {"input": data}})
    assert status == 200
    assert answer["data"]["submitIntent"]["executionId"]
