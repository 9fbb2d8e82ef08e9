"""Abuse limits checked before execution: tokens while parsing; depth, aliases and directives while validating
(and introspection, when it is turned off).

The validation rules are built once per schema, so the validation cache (keyed by document and rules)
keeps hitting, and a refused document is refused again every time: its errors are what is cached."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from graphql import (
    ASTValidationRule,
    DirectiveNode,
    DocumentNode,
    FieldNode,
    GraphQLError,
    ValidationContext,
    ValidationRule,
    get_named_type,
    is_introspection_type,
)
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import SchemaExtension
from strawberry.extensions.max_aliases import create_validator as max_aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as max_depth_rule


@dataclass(frozen=True, slots=True)
class QueryLimits:
    max_depth: int = 10
    max_aliases: int = 15
    max_tokens: int = 2000
    max_directives: int = 50
    introspection: bool = True
    """False refuses `__schema` and `__type` (GRAPHQL_INTROSPECTION); `__typename` stays allowed."""


def max_directives_rule(max_directives: int) -> type[ValidationRule]:
    """Refuses a document that writes more than `max_directives` directives (`@include`, `@skip`, ...)."""

    class MaxDirectivesRule(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self.count = 0

        def enter_directive(self, node: DirectiveNode, *_args: Any) -> None:
            self.count += 1

        def leave_document(self, node: DocumentNode, *_args: Any) -> None:
            if self.count > max_directives:
                self.report_error(GraphQLError(f"{self.count} directives found. Allowed: {max_directives}"))

    return MaxDirectivesRule


class NoIntrospection(NoSchemaIntrospectionCustomRule):
    """graphql-core's rule, with a message that tells the caller why and which setting changes it."""

    def enter_field(self, node: FieldNode, *_args: Any) -> None:
        named = get_named_type(self.context.get_type())
        if named is not None and is_introspection_type(named):
            self.report_error(
                GraphQLError(
                    f"GraphQL introspection is disabled on this server: '{node.name.value}' cannot be queried "
                    "(GRAPHQL_INTROSPECTION).",
                    node,
                )
            )


class _Limits(SchemaExtension):
    """Strawberry's MaxTokensLimiter and AddValidationRules in one: a subscription keeps its extensions (and
    their suspended `on_operation`) for as long as it runs, so each extension costs every open subscription."""

    def __init__(self, max_tokens: int, rules: tuple[type[ASTValidationRule], ...]) -> None:
        self.max_tokens = max_tokens
        self.rules = rules

    def on_operation(self) -> Iterator[None]:
        self.execution_context.parse_options["max_tokens"] = self.max_tokens
        self.execution_context.validation_rules = self.execution_context.validation_rules + self.rules
        yield


def limit_extensions(limits: QueryLimits) -> list[Callable[[], SchemaExtension]]:
    """Extension factories for Schema(extensions=...): a fresh instance per request, shared rule classes."""
    rules: list[type[ASTValidationRule]] = [
        max_depth_rule(limits.max_depth, None),
        max_aliases_rule(limits.max_aliases),
        max_directives_rule(limits.max_directives),
    ]
    if not limits.introspection:
        rules.append(NoIntrospection)
    shared = tuple(rules)

    def extension() -> SchemaExtension:
        return _Limits(limits.max_tokens, shared)

    return [extension]


__all__ = ["NoIntrospection", "QueryLimits", "limit_extensions", "max_directives_rule"]
