"""Request bodies and answers of the reject benchmarks (shared by their pre-flight checks and the load
generators). The seeded executions and their awaiting steps are app.seeding.bulk's, by index."""

from __future__ import annotations

import json

from bench.kit.server import SUBJECT

REASON = "Rejected by bench/reject.py."
DISTINCT_TARGETS = ("reject", "bare")  # each request consumes one pre-seeded step
MUTATION = (
    "mutation Reject($input: ControlPlaneExecutionRejectInput!) "
    "{ rejectExecutionStep(input: $input) { executionId stepId status rejectedAt } }"
)
TYPENAME_BODY = b'{"query":"{ __typename }"}'


def execution_id(index: int) -> str:
    """app.seeding.bulk.execution_id, without importing the app into the load generators."""
    return f"exec-bx-{index:06d}"


def step_id(index: int) -> str:
    """app.seeding.bulk.step_id: the one step of the awaiting-approval shape."""
    return f"step-bx-{index:06d}-1"


def graphql_reject_body(index: int) -> bytes:
    variables = {
        "input": {"executionId": execution_id(index), "stepId": step_id(index), "rejectedBy": SUBJECT, "reason": REASON}
    }
    return json.dumps({"query": MUTATION, "variables": variables}, separators=(",", ":")).encode()


def bare_reject_body(index: int) -> bytes:
    body = {"execution_id": execution_id(index), "step_id": step_id(index), "rejected_by": SUBJECT, "reason": REASON}
    return json.dumps(body, separators=(",", ":")).encode()


def target_path(target: str) -> str:
    return "/bench/reject" if target == "bare" else "/graphql"


REPLAYED = 0
"""The step the pre-flight rejects: `replay` repeats that very request (a client retrying)."""


def target_bodies(target: str, first: int, last: int) -> list[bytes]:
    if target == "replay":
        return [graphql_reject_body(REPLAYED)]
    if target == "reject":
        return [graphql_reject_body(i) for i in range(first, last)]
    if target == "bare":
        return [bare_reject_body(i) for i in range(first, last)]
    return [TYPENAME_BODY]


def response_error(target: str, status: int, content: bytes) -> str | None:
    """None when the response is a success, else a short description."""
    if status != 200:
        return f"HTTP {status}: {content[:200]!r}"
    try:
        document = json.loads(content)
    except ValueError:
        return f"not JSON: {content[:200]!r}"
    key = "error" if target == "bare" else "errors"
    if not isinstance(document, dict) or key in document:
        return f"{key}: {json.dumps(document)[:300]}"
    return None


def answer_problem(target: str, status: int, content: bytes, expected: str) -> str | None:
    """response_error, and the answer must contain `expected` (spaces ignored)."""
    problem = response_error(target, status, content)
    if problem is None and expected not in content.decode(errors="replace").replace(" ", ""):
        problem = f"unexpected answer: {content[:300]!r}"
    return problem
