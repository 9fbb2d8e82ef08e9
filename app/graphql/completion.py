"""Value completion without per-field machinery for the plain parts of a result.

graphql-core completes every field of a result on its own: a path, a resolve info, Strawberry's default
resolver, `complete_value`'s type dispatch, the leaf's coercion — about 10 µs a field, ~600 fields for a
50-item page, where the SQL of that page is a small share of the request. Every output type here is built
from a contract model (app/graphql/types.py): its fields have no resolver, no arguments and no extension,
so completing one is reading an attribute and coercing it.

`PlainCompletion` is the execution context of the schema. Where a selection set contains only such fields
(leaves, lists, objects of such fields, `__typename`), it is compiled into a plan, and each source object of
it is completed by the plan: attribute reads and the type's own output coercion, in the order graphql-core
would give; the plans of an operation without directives are kept for its next requests (the parser cache
hands them the same nodes). Whatever the plan does not cover (a resolver, arguments, a directive on a field,
an abstract type, a type with `is_type_of`, resolver middleware) goes through graphql-core as before. The
plan never reports an error: when it meets anything unexpected (a null in a non-null field, a value its
scalar refuses, a list that is not a list), it gives up on that object and graphql-core completes the object
again from the start, so errors, their paths and null propagation are exactly graphql-core's.
Reading an attribute of an output model has no side effect, so completing it twice changes nothing.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, Sequence
from operator import attrgetter
from typing import Any

from graphql import (
    BREAK,
    FieldNode,
    GraphQLBoolean,
    GraphQLID,
    GraphQLInt,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLString,
    OperationDefinitionNode,
    Undefined,
    Visitor,
    is_enum_type,
    visit,
)
from graphql.execution.collect_fields import FieldDetailsList, FragmentDetails, GroupedFieldSet
from graphql.pyutils import AwaitableOrValue, Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

Complete = Callable[[Any], Any]
"""Completes one value of a field of a given type; raises `_GiveUp` for what graphql-core must do itself."""

_Step = tuple[str, Callable[[Any], Any], type, Complete]
"""(response name, read the value from the source, the type whose values are final as they are, complete others)"""

_TYPENAME = "__typename"
_MIN_INT, _MAX_INT = -(2**31), 2**31 - 1


class _GiveUp(Exception):
    pass


class PlainCompletion(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context, completing plain selection sets by compiled plans (module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        manager = self.middleware_manager
        self._plain = manager is None or not manager.middlewares
        self._plans: dict[int, tuple[GroupedFieldSet, Complete | None]] = {}
        """id(grouped field set) -> (that set, kept alive so that its id stays its own; its plan or None)."""
        self._shared_plans = _operation_plans(self.schema, self.operation, self.fragments)
        """The plans of this operation's earlier requests (None when its document has directives)."""

    def build_per_event_executor(self, payload: Any) -> PlainCompletion:
        """A subscription event's executor (a shallow copy) gets plans of its own: each event collects its
        fields anew, and plans shared across events would grow with the subscription."""
        executor = super().build_per_event_executor(payload)
        assert isinstance(executor, PlainCompletion)
        executor._plans = {}  # noqa: SLF001 - its own instance attribute, on a copy of this class
        return executor

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> AwaitableOrValue[dict[str, Any]]:
        if self._plain and position_context is None:
            plan = self._plan(parent_type, grouped_field_set)
            if plan is not None:
                try:
                    return plan(source_value)  # type: ignore[no-any-return]
                except Exception:  # noqa: BLE001, S110 - _GiveUp, or an attribute read or coercion that failed: graphql-core says how
                    pass
        return super().execute_fields(parent_type, source_value, path, grouped_field_set, position_context)

    def _plan(self, parent_type: GraphQLObjectType, grouped_field_set: GroupedFieldSet) -> Complete | None:
        known = self._plans.get(id(grouped_field_set))
        if known is not None:
            return known[1]
        shared, key = self._shared_plans, None
        if shared is not None:
            key = (parent_type.name, *((name, *map(id, details)) for name, details in _nodes(grouped_field_set)))
            if key in shared:
                plan = shared[key]
                self._plans[id(grouped_field_set)] = (grouped_field_set, plan)
                return plan
        plan = self._object_plan(parent_type, grouped_field_set)
        self._plans[id(grouped_field_set)] = (grouped_field_set, plan)
        if key is not None:
            shared[key] = plan  # type: ignore[index]  # not None when key is set
        return plan

    def _object_plan(self, parent_type: GraphQLObjectType, grouped_field_set: GroupedFieldSet) -> Complete | None:
        if parent_type.is_type_of is not None:
            return None
        steps: list[_Step] = []
        for response_name, details in grouped_field_set.items():
            node = details[0].node
            if node.directives or node.arguments:
                return None
            if node.name.value == _TYPENAME:
                steps.append((response_name, _constant(parent_type.name), str, _unreachable))
                continue
            attribute = _attribute(parent_type, node.name.value)
            if attribute is None:
                return None
            type_ = parent_type.fields[node.name.value].type
            complete = self._complete(type_, details)
            if complete is None:
                return None
            steps.append((response_name, attrgetter(attribute), _final_type(type_), complete))
        return _run_steps(tuple(steps))

    def _complete(self, type_: GraphQLOutputType, details: FieldDetailsList) -> Complete | None:
        if isinstance(type_, GraphQLNonNull):
            inner = self._complete(type_.of_type, details)
            return None if inner is None else _non_null(inner)
        if isinstance(type_, GraphQLList):
            item = self._complete(type_.of_type, details)
            return None if item is None else _list(item)
        if isinstance(type_, GraphQLScalarType) or is_enum_type(type_):
            return _leaf(type_)
        if isinstance(type_, GraphQLObjectType):
            grouped, defer_usages, _forbidden = self.collect_subfields(type_, details)
            if defer_usages:
                return None
            plan = self._plan(type_, grouped)
            return None if plan is None else _object(plan)
        return None  # interfaces and unions: graphql-core resolves the runtime type


_SHARED_OPERATIONS = 512
"""Operations whose plans are kept across requests (as many as the parser cache keeps documents)."""
_Plans = dict[Hashable, Complete | None]
_operations: OrderedDict[tuple[int, int], tuple[GraphQLSchema, OperationDefinitionNode, _Plans | None]] = OrderedDict()
"""(id(schema), id(operation)) -> (both, kept alive so that their ids stay their own; the plans, or None)."""


def _operation_plans(
    schema: GraphQLSchema, operation: OperationDefinitionNode, fragments: dict[str, FragmentDetails]
) -> _Plans | None:
    """The plans of one parsed operation, shared by its requests (the parser cache hands each request of the same
    document the same nodes). A plan depends on the operation's nodes only, except where a directive decides what
    is collected (`@include(if: $var)`, `@defer`): an operation with any directive shares nothing. Keyed by parent
    type and the nodes of the grouped field set, so a plan is the one its request would have compiled. Per schema:
    Strawberry's parser cache is shared by every schema, and a plan holds one schema's attribute names and scalars."""
    key = (id(schema), id(operation))
    known = _operations.get(key)
    if known is not None:
        _operations.move_to_end(key)
        return known[2]
    plans: _Plans | None = None if _has_directives(operation, fragments) else {}
    _operations[key] = (schema, operation, plans)
    if len(_operations) > _SHARED_OPERATIONS:
        _operations.popitem(last=False)
    return plans


def _has_directives(operation: OperationDefinitionNode, fragments: dict[str, FragmentDetails]) -> bool:
    found = False

    class _Finder(Visitor):
        def enter_directive(self, *_: Any) -> Any:
            nonlocal found
            found = True
            return BREAK

    for node in (operation, *(fragment.definition for fragment in fragments.values())):
        visit(node, _Finder())
    return found


def _nodes(grouped_field_set: GroupedFieldSet) -> Iterator[tuple[str, Iterator[FieldNode]]]:
    for name, details in grouped_field_set.items():
        yield name, (detail.node for detail in details)


def _attribute(parent_type: GraphQLObjectType, name: str) -> str | None:
    """The Python attribute a field reads, when the field is Strawberry's plain attribute read; else None."""
    field_def = parent_type.fields.get(name)
    if field_def is None or field_def.args:
        return None
    resolve = field_def.resolve
    if resolve is None or not getattr(resolve, "_is_default", False):
        return None
    definition = (field_def.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if not isinstance(definition, StrawberryField) or not definition.is_basic_field:
        return None
    if definition.default_resolver is not getattr:
        return None
    return definition.python_name


def _final_type(type_: GraphQLOutputType) -> type:
    """The Python type whose values a leaf field passes on as they are (what its coercion would return)."""
    named = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
    if named is GraphQLString or named is GraphQLID:
        return str
    if named is GraphQLBoolean:
        return bool
    return _Never


class _Never:
    """No value is of this type: the field's completion always runs."""


def _run_steps(steps: Sequence[_Step]) -> Complete:
    def run(source: Any) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for response_name, get, final, complete in steps:
            value = get(source)
            result[response_name] = value if type(value) is final else complete(value)
        return result

    return run


def _constant(value: str) -> Complete:
    return lambda _source: value


def _unreachable(value: Any) -> Any:
    raise _GiveUp


def _non_null(inner: Complete) -> Complete:
    def complete(value: Any) -> Any:
        completed = inner(value)
        if completed is None:
            raise _GiveUp  # graphql-core reports the null and propagates it
        return completed

    return complete


def _list(item: Complete) -> Complete:
    def complete(value: Any) -> Any:
        if value is None:
            return None
        if type(value) is not list and type(value) is not tuple:
            raise _GiveUp  # other iterables (and what is none): graphql-core decides
        return [item(element) for element in value]

    return complete


def _leaf(type_: GraphQLLeafType) -> Complete:
    coerce = type_.coerce_output_value
    is_int = type_ is GraphQLInt

    def complete(value: Any) -> Any:
        if value is None:
            return None
        if is_int and type(value) is int and _MIN_INT <= value <= _MAX_INT:
            return value  # what Int's coercion returns for an int in range
        if isinstance(value, Exception):
            raise _GiveUp
        coerced = coerce(value)
        if coerced is None or coerced is Undefined:
            raise _GiveUp
        return coerced

    return complete


def _object(plan: Complete) -> Complete:
    def complete(value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, Exception):
            raise _GiveUp
        return plan(value)

    return complete


__all__ = ["PlainCompletion"]
