"""One piece of code turns every registered operation contract into a Strawberry field."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from functools import lru_cache
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.schema.types.base_scalars import DateTimeDefinition
from strawberry.tools import create_type
from strawberry.types import ExecutionContext, Info
from strawberry.types.scalar import ScalarDefinition

from app.contracts.model import Kind, OperationSpec, Stability
from app.contracts.registry import Registry
from app.contracts.types import InstantText
from app.graphql import direct
from app.graphql.context import Context
from app.graphql.errors import ErrorCodes, tag_request_errors
from app.graphql.limits import QueryLimits, limit_extensions
from app.graphql.shared_events import SharedEventExecutor
from app.graphql.types import TypeBuilder


def field_description(spec: OperationSpec) -> str:
    meta = spec.meta
    return (
        f"{meta.description}\n\n"
        f"Goal: {meta.goal}\n\n"
        f"Context: {meta.context}\n\n"
        f"Contract `{meta.key}` v{meta.version} · capability `{spec.capability.key}` · "
        f"auth `{spec.auth.label}` · stability `{meta.stability.value}` · tags: {', '.join(meta.tags)}"
    )


def _field(spec: OperationSpec, builder: TypeBuilder) -> Any:
    """A `Query`, `Mutation` or `Subscription` field: the resolver hands the input to the executor (`run`, or
    `subscribe` for a subscription, which guards it like any operation before the stream yields an item)."""
    about = f"`{spec.key}` v{spec.version} ({spec.meta.title})"
    output_type = builder.output_type(spec.output, f"Result of {about}.")
    streams = spec.kind is Kind.SUBSCRIPTION
    returns = AsyncIterator[output_type] if streams else output_type  # type: ignore[valid-type]

    # For Query and Mutation this resolver gives the field its signature; build_schema then hands the field a direct
    # resolver (app/graphql/direct.py). Subscriptions run it.
    async def execute(context: Context, raw: dict[str, Any]) -> Any:
        return await (context.subscribe(spec, raw) if streams else context.run(spec, raw))

    if spec.input.model_fields:
        input_type = builder.input_type(spec.input, f"Input of {about}.")
        to_plain = builder.to_plain

        async def resolve(info: Info, input: Any) -> Any:  # noqa: A002 - the GraphQL argument is `input`
            return await execute(info.context, to_plain(input))

        resolve.__annotations__ = {"info": Info, "input": input_type, "return": returns}
    else:

        async def resolve(info: Info) -> Any:  # type: ignore[misc]
            return await execute(info.context, {})

        resolve.__annotations__ = {"info": Info, "return": returns}
    resolve.__name__ = spec.field_name
    deprecation = (
        f"Contract {spec.key}@{spec.version} is deprecated." if spec.meta.stability is Stability.DEPRECATED else None
    )
    make_field = strawberry.subscription if streams else strawberry.field
    return make_field(
        resolver=resolve,
        name=spec.field_name,
        description=field_description(spec),
        deprecation_reason=deprecation,
    )


def _parse_datetime(value: object) -> InstantText:
    """Strawberry's DateTime parser, keeping the text read (a signed manifest's times stay as signed)."""
    parsed = DateTimeDefinition.parse_value(value)  # type: ignore[misc] # a GraphQLError when not a DateTime
    assert isinstance(parsed, datetime)
    assert isinstance(value, str)
    return InstantText.of(parsed, value)


DATETIME = ScalarDefinition(
    name=DateTimeDefinition.name,
    description=DateTimeDefinition.description,
    specified_by_url=DateTimeDefinition.specified_by_url,
    serialize=DateTimeDefinition.serialize,
    parse_value=_parse_datetime,
    parse_literal=None,
    origin=datetime,
)
"""The `DateTime` scalar as Strawberry defines it; inputs read into `InstantText`s."""


class Schema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        """ErrorCodes logs what is unexpected; expected failures (bad input, conflicts) are not server errors.

        Syntax errors end the request before extensions see a result, so they get their code here."""
        tag_request_errors(errors)


def shared_schema(registry: Registry, *, cache_size: int = 512, limits: QueryLimits | None = None) -> strawberry.Schema:
    """The schema of these contracts, built once per process: it holds no per-app state (resolvers find
    the executor in the request context), and building it takes a few hundred milliseconds."""
    return _cached_schema((*registry.operations, *registry.subscriptions), cache_size, limits or QueryLimits())


@lru_cache(maxsize=4)
def _cached_schema(operations: tuple[OperationSpec, ...], cache_size: int, limits: QueryLimits) -> strawberry.Schema:
    registry = Registry()
    registry.register_all(operations)
    return build_schema(registry, cache_size=cache_size, limits=limits)


def build_schema(registry: Registry, *, cache_size: int = 512, limits: QueryLimits | None = None) -> strawberry.Schema:
    builder = TypeBuilder()
    fields: dict[Kind, list[Any]] = {Kind.QUERY: [], Kind.COMMAND: [], Kind.SUBSCRIPTION: []}
    for spec in sorted((*registry.operations, *registry.subscriptions), key=lambda s: s.field_name):
        fields[spec.kind].append(_field(spec, builder))
    query = create_type("Query", fields[Kind.QUERY], description="Control-plane queries, one per contract.")
    mutation = (
        create_type("Mutation", fields[Kind.COMMAND], description="Control-plane commands, one per contract.")
        if fields[Kind.COMMAND]
        else None
    )
    subscription = (
        create_type(
            "Subscription",
            fields[Kind.SUBSCRIPTION],
            description="Control-plane subscriptions, one per contract (graphql-transport-ws on /graphql; the "
            'bearer token goes in connection_init\'s payload as {"Authorization": "Bearer ..."}).',
        )
        if fields[Kind.SUBSCRIPTION]
        else None
    )
    schema = Schema(
        query=query,
        mutation=mutation,
        subscription=subscription,
        scalar_overrides={datetime: DATETIME},
        # Plain fields of contract models are completed by plans (app/graphql/completion.py), and a subscription
        # event shared by many subscribers is executed once (app/graphql/shared_events.py).
        execution_context_class=SharedEventExecutor,
        # The limits add their parse option and validation rules when the operation starts, before any
        # parsing or validation (cached or not); the caches key on those, so a refused document stays refused.
        extensions=[
            ErrorCodes,
            *limit_extensions(limits or QueryLimits()),
            lambda: ParserCache(maxsize=cache_size),
            lambda: ValidationCache(maxsize=cache_size),
        ],
    )
    # Query and Mutation fields take graphql-core's coerced input as it is (app/graphql/direct.py).
    direct.install(schema._schema, registry.operations)  # noqa: SLF001 - Strawberry's graphql-core schema, no accessor
    return schema
