"""The record of one HTTP request, reachable from anywhere in the request's task through a context variable."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar, Token
from dataclasses import dataclass, field

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
INTERNAL = "INTERNAL_SERVER_ERROR"
OK = "ok"


def request_id_from(header: bytes | None) -> str:
    """The caller's request id when it is 1-128 characters of `[A-Za-z0-9._:-]`, else a new one."""
    if header is not None:
        try:
            candidate = header.decode("ascii")
        except UnicodeDecodeError:
            candidate = ""
        if _VALID_REQUEST_ID.fullmatch(candidate):
            return candidate
    return uuid.uuid4().hex


@dataclass(slots=True)
class RequestRecord:
    """What the transport learned about one request. Mutable and shared: child tasks (root fields
    resolved concurrently) see the same object, since a context copy keeps the reference."""

    request_id: str
    method: str
    path: str
    operation_name: str | None = None
    principal_id: str | None = None
    workspace_grants: int | None = None
    """How many workspaces the caller is granted (None: all, or not known); never the token or the ids."""
    calls: list[tuple[str, str]] = field(default_factory=list)
    """(contract key, outcome code) per contract the request ran, in completion order."""
    error_codes: list[str] = field(default_factory=list)
    """`extensions.code` of every error the GraphQL response carries."""

    def note_call(self, contract: str, outcome: str) -> None:
        self.calls.append((contract, outcome))

    def note_error(self, code: str) -> None:
        if code not in self.error_codes:
            self.error_codes.append(code)

    @property
    def contracts(self) -> list[str]:
        keys: list[str] = []
        for key, _ in self.calls:
            if key not in keys:
                keys.append(key)
        return keys

    def outcome(self, status: int) -> str:
        """`ok`, or the code of the failure: an internal error wins, then the first GraphQL error,
        then the HTTP status (refusals before GraphQL ran: 405, 406, 413, 415 ...)."""
        if INTERNAL in self.error_codes or status >= 500:
            return INTERNAL
        if self.error_codes:
            return self.error_codes[0]
        if status >= 400:
            return _STATUS_CODES.get(status, "BAD_USER_INPUT")
        return OK


_STATUS_CODES = {401: "UNAUTHENTICATED", 403: "FORBIDDEN", 404: "NOT_FOUND", 409: "CONFLICT"}

_current: ContextVar[RequestRecord | None] = ContextVar("control_plane_request", default=None)


def current_request() -> RequestRecord | None:
    """The record of the request being served, or None outside a request (CLI, seeding, tests)."""
    return _current.get()


def open_request(record: RequestRecord) -> Token[RequestRecord | None]:
    return _current.set(record)


def close_request(token: Token[RequestRecord | None]) -> None:
    _current.reset(token)


def current_request_id() -> str | None:
    record = _current.get()
    return record.request_id if record is not None else None


__all__ = [
    "INTERNAL",
    "OK",
    "REQUEST_ID_HEADER",
    "RequestRecord",
    "close_request",
    "current_request",
    "current_request_id",
    "open_request",
    "request_id_from",
]
