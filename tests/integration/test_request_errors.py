"""Errors the request itself causes, before any contract runs, still carry a code of DESIGN.md."""

import pytest


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("{ pendingApprovals(input: {}) { total ", "Syntax Error"),
        ("{ nope }", "Cannot query field 'nope'"),
        ("{ pendingApprovals { total } }", "is required, but it was not provided"),
        ('{ executions(input: {limit: "ten"}) { total } }', "Int cannot represent"),
    ],
)
async def test_parse_and_validation_errors_are_bad_user_input(http, token, document, message):
    async with http({"Authorization": f"Bearer {token()}"}) as client:
        response = await client.post("/graphql", json={"query": document})
    (error,) = response.json()["errors"]
    assert message in error["message"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
