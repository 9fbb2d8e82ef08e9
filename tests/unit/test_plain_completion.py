"""PlainCompletion (app/graphql/completion.py) answers exactly what graphql-core answers: the same data, the same
errors with the same paths and the same null propagation, with graphql-core's field machinery skipped for the
plain fields of contract models."""

from collections.abc import AsyncGenerator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import strawberry
from graphql import ExecutionResult as CoreResult
from strawberry.extensions import ParserCache
from strawberry.types import ExecutionResult

from app.contracts.types import ID, ContractModel, JSONObject, Timestamp
from app.graphql.completion import PlainCompletion
from app.graphql.types import TypeBuilder


class Part(ContractModel):
    name: str
    size: int | None = None


class Sample(ContractModel):
    ident: ID
    maybe_ident: ID | None = None
    at: Timestamp
    tags: list[str]
    parts: list[Part]
    part: Part | None = None
    extra: JSONObject | None = None
    count: int = 3
    ratio: float = 0.5
    flag: bool = True


def _sample(**changes: Any) -> Sample:
    base = Sample(
        ident="s-1",
        at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        tags=["a", "b"],
        parts=[Part(name="p1", size=1), Part(name="p2")],
        part=Part(name="solo", size=7),
        extra={"k": [1, 2, {"x": None}]},
    )
    # model_construct: values a handler could never validate, to reach graphql-core's error paths
    return Sample.model_construct(**{**base.__dict__, **changes})


def _part(**values: Any) -> Part:
    return Part.model_construct(**values)


class Counting(PlainCompletion):
    fields_executed = 0
    events = 0
    plans_compiled = 0

    def _object_plan(self, *args: Any, **kwargs: Any) -> Any:
        Counting.plans_compiled += 1
        return super()._object_plan(*args, **kwargs)

    def build_per_event_executor(self, payload: Any) -> PlainCompletion:
        Counting.events += 1
        return super().build_per_event_executor(payload)

    def execute_field(self, *args: Any, **kwargs: Any) -> Any:
        Counting.fields_executed += 1
        return super().execute_field(*args, **kwargs)


def _schemas(value: Sample, *, parser_cache: bool = False) -> tuple[strawberry.Schema, strawberry.Schema]:
    output = TypeBuilder().output_type(Sample)

    @strawberry.type
    class Query:
        @strawberry.field
        def probe(self) -> output:  # type: ignore[valid-type]
            return value

        @strawberry.field
        def maybe(self) -> output | None:  # type: ignore[valid-type]
            return value

        @strawberry.field
        async def later(self) -> output:  # type: ignore[valid-type]
            return value

    extensions = [lambda: ParserCache(maxsize=16)] if parser_cache else []
    return (
        strawberry.Schema(query=Query),
        strawberry.Schema(query=Query, execution_context_class=Counting, extensions=extensions),
    )


def _plain(result: ExecutionResult | CoreResult) -> dict[str, Any]:
    return {"data": result.data, "errors": [error.formatted for error in result.errors or []]}


ALL = "ident maybeIdent at tags parts { name size __typename } part { name size } extra count ratio flag __typename"
QUERIES = [
    f"{{ probe {{ {ALL} }} }}",
    f"{{ maybe {{ {ALL} }} }}",
    f"{{ later {{ {ALL} }} }}",
    "{ a: probe { x: ident ident parts { n: name name } } b: probe { count } }",
    "{ probe { ...F parts { ... on Part { name } } } } fragment F on Sample { ident tags }",
    "{ probe { ident tags @include(if: false) parts { name @skip(if: true) size } } }",
    "query Q($on: Boolean!) { probe { ident parts @include(if: $on) { name } } }",
    f"{{ probe {{ {ALL} }} maybe {{ ident part {{ name }} }} }}",
]
BROKEN: dict[str, Callable[[], dict[str, Any]]] = {
    "a null in a non-null leaf": lambda: {"ident": None},
    "a null in a non-null list item": lambda: {"tags": ["a", None]},
    "a null object in a non-null list": lambda: {"parts": [Part(name="p1"), None]},
    "a null in a nested non-null leaf": lambda: {"parts": [_part(name=None, size=1)]},
    "an Int beyond 32 bits": lambda: {"count": 2**40},
    "a String that is no string": lambda: {"parts": [_part(name=["x"], size=1)]},
    "a list that is a tuple": lambda: {"tags": ("a", "b")},
    "a list that is a string": lambda: {"tags": "ab"},
    "a list that is a generator": lambda: {"tags": (tag for tag in ("a", "b"))},
    "an object without the attribute": lambda: {"part": object()},
    "an exception as a value": lambda: {"part": ValueError("boom")},
    "a bad float": lambda: {"ratio": float("nan")},
    "a Boolean that is a string": lambda: {"flag": "yes"},
}


@pytest.mark.parametrize("query", QUERIES)
async def test_same_answer_as_graphql_core(query):
    core, plain = _schemas(_sample())
    variables = {"on": True}
    expected = await core.execute(query, variable_values=variables)
    assert not expected.errors
    assert _plain(await plain.execute(query, variable_values=variables)) == _plain(expected)


@pytest.mark.parametrize("changes", BROKEN.values(), ids=BROKEN.keys())
@pytest.mark.parametrize("query", [QUERIES[0], QUERIES[1], QUERIES[7]])
async def test_same_errors_paths_and_null_propagation(query, changes):
    core, _ = _schemas(_sample(**changes()))
    expected = await core.execute(query)
    _, plain = _schemas(_sample(**changes()))  # fresh values: a generator is consumed once
    assert _plain(await plain.execute(query)) == _plain(expected)


async def test_plain_fields_skip_graphql_cores_field_execution():
    _core, plain = _schemas(_sample())
    Counting.fields_executed = 0
    result = await plain.execute(f"{{ probe {{ {ALL} }} }}")
    assert not result.errors
    assert Counting.fields_executed == 1  # the root field only: its resolver is a function


async def test_an_object_the_plan_gives_up_on_is_completed_by_graphql_core():
    _core, plain = _schemas(_sample(parts=[Part(name="p1"), _part(name=None), Part(name="p3")]))
    Counting.fields_executed = 0
    result = await plain.execute("{ maybe { ident tags parts { name } } }")
    assert [error.path for error in result.errors or []] == [["maybe", "parts", 1, "name"]]
    assert result.data == {"maybe": None}
    # maybe; its three fields again by graphql-core; the first part by its plan, the second's name by
    # graphql-core, where the error propagates (the third part is never completed)
    assert Counting.fields_executed == 1 + 3 + 1


async def test_subscription_events_complete_by_plans_of_their_own():
    output = TypeBuilder().output_type(Sample)
    values = [_sample(), _sample(ident="s-2"), _sample(tags=["a", None])]

    @strawberry.type
    class Query:
        ping: int = 1

    @strawberry.type
    class Subscription:
        @strawberry.subscription
        async def samples(self) -> AsyncGenerator[output, None]:  # type: ignore[valid-type]
            for value in values:
                yield value

    async def events(schema: strawberry.Schema) -> list[dict[str, Any]]:
        stream = await schema.subscribe("subscription { samples { ident tags parts { name } } }")
        assert not isinstance(stream, ExecutionResult)
        return [_plain(result) async for result in stream]

    core = strawberry.Schema(query=Query, subscription=Subscription)
    plain = strawberry.Schema(query=Query, subscription=Subscription, execution_context_class=Counting)
    expected = await events(core)
    assert [event["data"] for event in expected[:2]] == [
        {"samples": {"ident": ident, "tags": ["a", "b"], "parts": [{"name": "p1"}, {"name": "p2"}]}}
        for ident in ("s-1", "s-2")
    ]
    Counting.events = 0
    assert await events(plain) == expected
    assert Counting.events == len(values)


async def test_the_next_request_of_a_parsed_document_reuses_its_plans():
    """The parser cache hands every request of a document the same nodes: plans compiled by the first are the
    second's (none compiled again), with the same answer."""
    core, plain = _schemas(_sample(), parser_cache=True)
    query = f"{{ probe {{ {ALL} }} maybe {{ ident part {{ name }} }} }}"
    Counting.plans_compiled = 0
    first = await plain.execute(query)
    compiled = Counting.plans_compiled
    assert compiled >= 4  # probe, its parts and part, maybe, its part
    second = await plain.execute(query)
    assert Counting.plans_compiled == compiled
    assert _plain(second) == _plain(first) == _plain(await core.execute(query))


@pytest.mark.parametrize(
    "query",
    [QUERIES[5], QUERIES[6], "query Q($on: Boolean!) { probe { parts { name ... @include(if: $on) { size } } } }"],
)
async def test_a_document_with_directives_compiles_its_plans_per_request(query):
    """What `@include(if: $on)` collects depends on the request's variables: such a document shares no plan, so
    each request answers for its own variables."""
    core, plain = _schemas(_sample(), parser_cache=True)
    for on in (True, False, True):
        expected = await core.execute(query, variable_values={"on": on})
        Counting.plans_compiled = 0
        assert _plain(await plain.execute(query, variable_values={"on": on})) == _plain(expected)
        assert Counting.plans_compiled >= 1


async def test_schemas_sharing_a_parsed_document_keep_their_own_plans():
    """Strawberry's parser cache is shared by every schema: the same document in another schema, whose type of the
    same name completes differently, must not get the first schema's plans."""

    def schema(kind: type) -> strawberry.Schema:
        @strawberry.type(name="Thing")
        class Thing:
            label: kind  # type: ignore[valid-type]

        @strawberry.type
        class Query:
            @strawberry.field
            def thing(self) -> Thing:
                return Thing(label=7 if kind is int else "seven")

        return strawberry.Schema(
            query=Query, execution_context_class=PlainCompletion, extensions=[lambda: ParserCache(maxsize=16)]
        )

    text, number = schema(str), schema(int)
    assert (await text.execute("{ thing { label } }")).data == {"thing": {"label": "seven"}}
    assert (await number.execute("{ thing { label } }")).data == {"thing": {"label": 7}}
