"""Every error leaves with an `extensions.code` of DESIGN.md; unexpected ones are masked and logged."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from app.errors import AppError

logger = logging.getLogger("app.graphql")

MASKED_MESSAGE = "Internal server error."


def is_request_error(error: GraphQLError) -> bool:
    """Parse, validation and variable coercion errors: the request itself is wrong.
    (graphql-core 3.3 chains a GraphQLError as the original of variable errors.)"""
    return error.original_error is None or isinstance(error.original_error, GraphQLError)


def tag_request_error(error: GraphQLError) -> None:
    if is_request_error(error) and not (error.extensions or {}).get("code"):
        error.extensions = {**(error.extensions or {}), "code": "BAD_USER_INPUT"}


def _translate(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    if isinstance(original, AppError):
        return error
    if is_request_error(error):
        tag_request_error(error)
        return error
    logger.error("unexpected error at %s", error.path, exc_info=original)
    return GraphQLError(
        MASKED_MESSAGE,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={"code": "INTERNAL_SERVER_ERROR"},
    )


class ErrorCodes(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is not None and result.errors:
            result.errors = [_translate(error) for error in result.errors]
