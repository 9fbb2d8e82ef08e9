"""Schema-driven fuzzing of the GraphQL API with schemathesis (issue 6, "Fuzzing").

Every query and mutation of `schema.graphql` gets a fixed budget of generated documents (297 in
all), derandomized so that every run sends the same documents in the same order, with an admin
token, to the ASGI app in process (schemathesis's ASGI transport, on the seeded database of the
test). A request may be refused in any way the API documents; it may never answer 5xx nor carry an
INTERNAL_SERVER_ERROR. A failure is reported with its operation and its smallest reproduction
(Hypothesis shrinks the failing document).

Beyond what schemathesis generates by default, the documents reach the service layer: id arguments
usually name the seeded data of one scenario and actor arguments the caller (otherwise nearly every
command would stop at NOT_FOUND or FORBIDDEN), mutations run in lifecycle order, `JSON` values
include plan drafts, huge, non-finite and over-long numbers, NUL characters and deep nesting, and
`String` values odd unicode.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import graphql
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.core.errors import InvalidSchema
from schemathesis.core.result import Err, Ok
from schemathesis.generation.case import Case
from schemathesis.graphql import nodes
from schemathesis.python import asgi
from schemathesis.schemas import APIOperation
from schemathesis.specs.graphql import scalars
from schemathesis.specs.graphql.schemas import GraphQLOperationDefinition
from starlette.applications import Starlette

from app.seeding.player import default_dataset
from app.services.lifecycle.policy import POLICY_VERSION
from tests.conftest import MintToken

pytestmark = pytest.mark.fuzz

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schema.graphql"
ENDPOINT = f"http://{asgi.HOST}/graphql"
EXAMPLES = {"Query": 9, "Mutation": 11}
"""Generated documents per operation: 11 queries and 18 mutations, 297 in all."""
MAX_SHRINK_CALLS = 100
"""Requests spent shrinking one operation's failing document, at most, before reporting the smallest so far."""
ACTOR = "dana"
MUTATION_ORDER = (
    "submitIntent",
    "compilePlan",
    "verifyPlan",
    "startExecution",
    "reportStepStarted",
    "reportStepCompleted",
    "approveExecutionStep",
    "rejectExecutionStep",
    "reportStepFailed",
    "retryExecution",
    "pauseExecution",
    "resumeExecution",
    "exportExecutionEvidence",
    "installSkill",
    "disableSkill",
    "shutdownExecution",
    "cancelExecution",
    "abortExecution",
)
"""Mutations in lifecycle order, so that the destructive ones come last (queries come first)."""

# --- ids: most documents name the seeded data of one scenario (see seeds/demo.toml) -----------------

SCENARIOS = default_dataset().scenarios
WORKSPACES = sorted({scenario.workspace for scenario in SCENARIOS})
NOT_STARTED = [scenario for scenario in SCENARIOS if all(isinstance(a, str) and a != "start" for a in scenario.actions)]
PLANNING = ("Mutation.compilePlan", "Mutation.verifyPlan", "Mutation.startExecution")
"""Operations aimed at executions that have not started: the others are past planning."""
ACTOR_ARGUMENTS = frozenset(
    {
        "abortedBy",
        "approvedBy",
        "cancelledBy",
        "disabledBy",
        "exportedBy",
        "pausedBy",
        "rejectedBy",
        "resumedBy",
        "retriedBy",
        "shutdownBy",
    }
)
AIMED = 0.8
"""How often an id argument is replaced by a seeded id (an argument with a format by a valid value), and
an actor argument by the caller's id."""
DIGEST = "sha256:" + "ab" * 32


@st.composite
def aimed(draw: st.DrawFn, document: graphql.DocumentNode, label: str) -> graphql.DocumentNode:
    scenario = draw(st.sampled_from(NOT_STARTED if label in PLANNING else SCENARIOS))
    name = scenario.name
    aims = {
        "executionId": f"exec-{name}",
        "intentId": f"int-{name}",
        "planId": f"plan-{name}",
        "runId": f"run-{name}-{draw(st.sampled_from([1, 1, 2]))}",
        "stepId": f"step-{name}-{draw(st.integers(1, len(scenario.steps or [None])))}",
        "workspaceId": draw(st.sampled_from(WORKSPACES)),
        # arguments whose format the contracts check
        "skillKey": "acme.summarize",
        "version": "1.2.0",
        "schemaVersion": "1.0.0",
        "artifactDigest": DIGEST,
        "digest": DIGEST,
        "mode": draw(st.sampled_from(["live", "dry_run"])),
        "errorCode": "TIMEOUT",
        "policyVersion": POLICY_VERSION,
    }

    class Aim(graphql.Visitor):
        def enter_object_field(self, node: graphql.ObjectFieldNode, *_: Any) -> graphql.ObjectFieldNode | None:
            value = ACTOR if node.name.value in ACTOR_ARGUMENTS else aims.get(node.name.value)
            if value is None or draw(st.floats(0, 1)) >= AIMED:
                return None
            return graphql.ObjectFieldNode(name=node.name, value=nodes.String(value))

    result: graphql.DocumentNode = graphql.visit(document, Aim())
    return result


def aim_ids(context: Any, strategy: st.SearchStrategy[graphql.DocumentNode]) -> st.SearchStrategy[Any]:
    """schemathesis `before_generate_body` hook: the generated document, aimed at the seeded data."""
    label = context.operation.label
    return strategy.flatmap(lambda document: aimed(document, label))


# --- scalars ----------------------------------------------------------------------------------------

ODD_TEXT = st.sampled_from(
    [
        "\x00",
        "nul\x00inside",
        "\u200b",
        "\ufeff",
        "\U0010ffff",
        "\U0001f600" * 3,
        "e\u0301",
        "\u202eoverride",
        "\n\t\r",
        " ",
        "x" * 10_001,
    ]
)
TEXT = st.one_of(st.text(), ODD_TEXT)
KEYS = st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_]{0,8}\Z")
"""Object keys of JSON literals: GraphQL names (other keys can only come in variables)."""
STEP_WORDS = ("deploy", "build", "drop", "notify", "read", "payout", "unknown")


def literal(value: Any) -> graphql.ValueNode:  # noqa: PLR0911 - one return per JSON type
    """The GraphQL literal of a JSON value (what the JSON scalar parses back into that value)."""
    if value is None:
        return nodes.Null
    if isinstance(value, bool):
        return nodes.Boolean(value)
    if isinstance(value, int):
        return nodes.Int(value)
    if isinstance(value, float):
        return nodes.Float(value)
    if isinstance(value, str):
        return nodes.String(value)
    if isinstance(value, list):
        return nodes.List([literal(item) for item in value])
    if isinstance(value, graphql.ValueNode):
        return value
    return nodes.Object(
        [graphql.ObjectFieldNode(name=graphql.NameNode(value=key), value=literal(item)) for key, item in value.items()]
    )


EXTREME_NUMBERS = st.sampled_from(
    [
        graphql.FloatValueNode(value="1e400"),  # infinity
        graphql.FloatValueNode(value="-1e400"),
        graphql.IntValueNode(value="9" * 4400),  # too long to convert: NaN
    ]
)
JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**53 - 2, max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    TEXT,
    EXTREME_NUMBERS,
)
JSON_VALUES = st.recursive(
    JSON_SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3)
)
JSON_OBJECTS = st.one_of(st.dictionaries(KEYS, JSON_VALUES, max_size=4), EXTREME_NUMBERS.map(lambda n: {"n": n}))
DRAFTS = st.fixed_dictionaries(
    {
        "steps": st.lists(
            st.fixed_dictionaries(
                {"key": st.one_of(st.sampled_from(STEP_WORDS).map(lambda word: f"{word}.thing"), TEXT)},
                optional={
                    "input": JSON_OBJECTS,
                    "riskTier": st.one_of(st.sampled_from(["low", "medium", "high", "critical"]), TEXT),
                },
            ),
            max_size=4,
        )
    }
)
# GraphQL documents nest at most 200 levels (graphql-core), so deeper values are refused by the parser.
DEEP = st.integers(min_value=20, max_value=250).map(lambda depth: {"deep": json.loads("[" * depth + "]" * depth)})
CUSTOM_SCALARS: dict[str, st.SearchStrategy[graphql.ValueNode]] = {
    "ID": st.one_of(st.sampled_from([ACTOR, "sam", "runner-1"]), TEXT).map(nodes.String),
    "String": TEXT.map(nodes.String),
    "JSON": st.one_of(JSON_OBJECTS, DRAFTS, DEEP).map(literal),
}


@pytest.fixture
def custom_scalars() -> Iterator[None]:
    saved = dict(scalars.CUSTOM_SCALARS)
    scalars.CUSTOM_SCALARS.update(CUSTOM_SCALARS)
    yield
    scalars.CUSTOM_SCALARS.clear()
    scalars.CUSTOM_SCALARS.update(saved)


# --- the run ----------------------------------------------------------------------------------------


def failure_of(status: int, body: Any) -> str | None:
    if status >= 500:
        return f"HTTP {status}"
    errors = body.get("errors") if isinstance(body, dict) else None
    for error in errors or []:
        if (error.get("extensions") or {}).get("code") == "INTERNAL_SERVER_ERROR":
            return f"INTERNAL_SERVER_ERROR at {error.get('path')}"
    return None


Operation = APIOperation[Any, Any, Any, Any]


def definition_of(operation: Operation) -> GraphQLOperationDefinition:
    definition = operation.definition
    assert isinstance(definition, GraphQLOperationDefinition), definition
    return definition


def examples_of(operation: Operation) -> int:
    """The operation's budget of generated documents (by its root type, Query or Mutation)."""
    root = definition_of(operation).type_
    assert isinstance(root, graphql.GraphQLObjectType), root
    return EXAMPLES[root.name]


def operation_of(result: Ok[Operation] | Err[InvalidSchema]) -> Operation:
    assert isinstance(result, Ok), result.err()
    return result.ok()


def operation_order(operation: Operation) -> tuple[int, int]:
    definition = definition_of(operation)
    if definition.is_query:
        return 0, 0
    name = definition.field_name
    return 1, MUTATION_ORDER.index(name) if name in MUTATION_ORDER else len(MUTATION_ORDER)


class Fuzzer:
    def __init__(self, app: Starlette, bearer: str) -> None:
        self.app = app
        self.headers = {"Authorization": f"Bearer {bearer}"}
        self.cases = 0
        self.failures: list[str] = []

    def send(self, case: Case[Operation]) -> str | None:
        response = case.call(base_url=ENDPOINT, app=self.app, headers=self.headers)
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text
        return failure_of(response.status_code, body)

    def fuzz(self, operation: Operation) -> None:
        """Runs the operation's budget. At the first failure Hypothesis shrinks the document (on the
        database as it is then) and the operation stops there; the smallest failure is recorded."""
        smallest: tuple[Case[Operation], str] | None = None
        shrink_calls = 0

        @settings(
            max_examples=examples_of(operation),
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.generate, Phase.shrink],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def check(case: Case[Operation]) -> None:
            nonlocal smallest, shrink_calls
            if smallest is not None:
                shrink_calls += 1
                if shrink_calls > MAX_SHRINK_CALLS:
                    return  # enough: report the smallest failure so far
            else:
                self.cases += 1
            reason = self.send(case)
            if reason is not None:
                smallest = (case, reason)
                raise AssertionError(reason)

        try:
            check()
        except Exception:
            if smallest is None:
                raise
        if smallest is not None:
            case, reason = smallest
            query = json.dumps({"query": case.body})
            self.failures.append(f"{operation.label}: {reason}; reproduce (with an admin token) with:\n{query}")


@pytest.mark.usefixtures("custom_scalars")
def test_fuzz_graphql_api(app: Starlette, token: MintToken) -> None:
    schema = schemathesis.graphql.from_path(SCHEMA_PATH)
    schema.hooks.register_hook_with_name(aim_ids, "before_generate_body")
    operations = sorted((operation_of(result) for result in schema.get_all_operations()), key=operation_order)
    fuzzer = Fuzzer(app, token(ACTOR, "admin", ttl=3600))
    started = time.monotonic()
    try:
        for operation in operations:
            fuzzer.fuzz(operation)
    finally:
        # The app's lifespan ran on schemathesis's event loop thread: end it there (disposes the engine).
        asgi.shutdown_lifespans()
    print(f"fuzz: {fuzzer.cases} cases over {len(operations)} operations in {time.monotonic() - started:.1f} s")  # noqa: T201 - the run's summary (shown with -s)
    assert not fuzzer.failures, "\n\n".join(fuzzer.failures)
    assert fuzzer.cases == sum(examples_of(operation) for operation in operations)
