"""Operation fields resolved straight from graphql-core's coerced arguments.

Strawberry wraps every resolver it calls: an `Info` object, its arguments converted into instances of the
Strawberry input classes (which `TypeBuilder.to_plain` turned back into plain data), the field-extension and
exception-handler wrappers. An operation field has none of those (no field extension, no handler, one `input`
argument, and the resolver reads only the request context), so after the schema is built each operation field of
Query and Mutation gets a resolver that takes the `input` graphql-core has already coerced and validated (a dict
keyed by GraphQL field names) and renames its keys to the contract model's field names, recursively, through a
converter built once per input type. That was about a twentieth of a small query's server time. Subscriptions keep
Strawberry's resolver (their streams are set up once per subscription, not per event).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from graphql import (
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLResolveInfo,
    GraphQLSchema,
)
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

from app.contracts.model import Kind, OperationSpec

Convert = Callable[[Any], Any]


def install(schema: GraphQLSchema, specs: Iterable[OperationSpec]) -> None:
    """Gives each query and command field of `schema` its direct resolver (module docstring)."""
    roots = {Kind.QUERY: schema.query_type, Kind.COMMAND: schema.mutation_type}
    for spec in specs:
        root = roots.get(spec.kind)
        if root is None:
            continue
        field = root.fields[spec.field_name]
        _check_plain(spec, field)
        argument = field.args.get("input")
        convert = _converter(argument.type) if argument is not None else None
        field.resolve = _resolver(spec, convert, has_input=argument is not None)


def _check_plain(spec: OperationSpec, field: GraphQLField) -> None:
    definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if not isinstance(definition, StrawberryField):
        raise TypeError(f"{spec.field_name}: not a Strawberry field")
    if definition.extensions or definition.permission_classes or set(field.args) - {"input"}:
        raise TypeError(
            f"{spec.field_name}: has field extensions, permissions or arguments besides `input`, "
            "which a direct resolver would skip"
        )


def _resolver(spec: OperationSpec, convert: Convert | None, *, has_input: bool) -> Callable[..., Any]:
    async def resolve(_source: Any, info: GraphQLResolveInfo[Any], **arguments: Any) -> Any:
        raw = arguments.get("input") if has_input else {}
        if convert is not None:
            raw = convert(raw)
        return await info.context.run(spec, raw or {})

    return resolve


def _converter(type_: GraphQLInputType) -> Convert | None:
    """Renames the keys of a coerced input value to the contract model's field names; None: nothing to rename."""
    if isinstance(type_, GraphQLNonNull):
        return _converter(type_.of_type)
    if isinstance(type_, GraphQLList):
        item = _converter(type_.of_type)
        if item is None:
            return None
        return lambda value: None if value is None else [item(element) for element in value]
    if isinstance(type_, GraphQLInputObjectType):
        fields = {name: (_python_name(type_, name), _converter(field.type)) for name, field in type_.fields.items()}

        def convert(value: Any) -> Any:
            if value is None:
                return None
            plain = {}
            for name, item in value.items():
                python_name, inner = fields[name]
                plain[python_name] = item if inner is None else inner(item)
            return plain

        return convert
    return None


def _python_name(type_: GraphQLInputObjectType, name: str) -> str:
    definition = (type_.fields[name].extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if not isinstance(definition, StrawberryField) or definition.python_name is None:
        raise TypeError(f"{type_.name}.{name}: no Strawberry field behind it")
    return definition.python_name
