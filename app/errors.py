"""Failures every layer may raise; the transport maps them to GraphQL error codes.

Messages are written for the person at the other end: they never carry exception
text from a library, a SQL statement, or a stack trace.
"""

from __future__ import annotations

from typing import Any, ClassVar


class AppError(Exception):
    code: ClassVar[str] = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str, **extensions: Any) -> None:
        super().__init__(message)
        self.message = message
        # GraphQL copies an exception's `extensions` into the error it reports.
        self.extensions: dict[str, Any] = {"code": self.code, **extensions}


class Unauthenticated(AppError):
    code = "UNAUTHENTICATED"


class Forbidden(AppError):
    code = "FORBIDDEN"


class BadUserInput(AppError):
    code = "BAD_USER_INPUT"

    def __init__(self, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message, fields=fields or {})


class NotFound(AppError):
    code = "NOT_FOUND"


class Conflict(AppError):
    code = "CONFLICT"

    def __init__(self, message: str, current_status: str, **extensions: Any) -> None:
        super().__init__(message, currentStatus=current_status, **extensions)


class InternalError(AppError):
    code = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str = "Internal server error.") -> None:
        super().__init__(message)


class ConfigurationError(Exception):
    """The server cannot start with the settings it was given."""
