"""Every error leaves with an `extensions.code` of DESIGN.md; unexpected ones are masked and logged,
with the request id in `extensions.requestId` (the same id is on every log line of that request)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from app.errors import AppError
from app.observability.context import INTERNAL, current_request, current_request_id

logger = logging.getLogger("app.graphql")

MASKED_MESSAGE = "Internal server error."


def is_request_error(error: GraphQLError) -> bool:
    """Parse, validation and variable coercion errors: the request itself is wrong.
    (graphql-core 3.3 chains a GraphQLError as the original of variable errors.)"""
    return error.original_error is None or isinstance(error.original_error, GraphQLError)


def tag_request_error(error: GraphQLError) -> None:
    if is_request_error(error) and not (error.extensions or {}).get("code"):
        error.extensions = {**(error.extensions or {}), "code": "BAD_USER_INPUT"}


def tag_request_errors(errors: Iterable[GraphQLError]) -> None:
    """Codes for the request errors among `errors`, noted in the request record too: a syntax error
    ends the request before ErrorCodes sees a result."""
    record = current_request()
    for error in errors:
        tag_request_error(error)
        if record is not None and is_request_error(error):
            record.note_error(str((error.extensions or {}).get("code", "BAD_USER_INPUT")))


def _translate(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    if isinstance(original, AppError):
        if original.code == INTERNAL:  # masked by the executor, which logged it
            error.extensions = _with_request_id(original.extensions)
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
        extensions=_with_request_id({"code": INTERNAL}),
    )


def _with_request_id(extensions: dict[str, Any]) -> dict[str, Any]:
    """`requestId` on a masked error: the operator finds the details in the log lines of that request."""
    request_id = current_request_id()
    return extensions if request_id is None else {**extensions, "requestId": request_id}


class ErrorCodes(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is not None and result.errors:
            result.errors = [_translate(error) for error in result.errors]
        record = current_request()
        if record is not None:
            name = self.execution_context.operation_name
            record.operation_name = name[:200] if name else None
            for error in result.errors if result is not None and result.errors else ():
                record.note_error(str((error.extensions or {}).get("code", INTERNAL)))
