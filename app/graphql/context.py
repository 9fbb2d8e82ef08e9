"""The typed request context every resolver receives."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from app.auth import Principal, TokenService
from app.contracts.executor import Executor
from app.contracts.model import OperationSpec
from app.errors import AppError, Unauthenticated
from app.observability.context import OK, RequestRecord, current_request


@dataclass(slots=True)
class Context:
    request: Request | WebSocket
    response: Response | None
    executor: Executor[Any]
    tokens: TokenService
    _principal: Principal | None = field(default=None, repr=False)
    record: RequestRecord | None = field(default_factory=current_request, repr=False)
    """The request's observability record (None outside the HTTP middleware): what it ran, for whom, how."""
    connection_params: dict[str, object] | None = field(default=None, repr=False)
    """graphql-transport-ws: the payload of `connection_init` (Strawberry sets it)."""
    expires_at: float | None = field(default=None, repr=False)
    """A WebSocket's principal, authenticated at `connection_init`, is valid until then (epoch seconds)."""

    def accept(self, principal: Principal, expires_at: float | None) -> None:
        """A WebSocket connection's caller, authenticated from `connection_init`'s payload."""
        self._principal = principal
        self.expires_at = expires_at

    async def authenticate(self) -> Principal:
        """The caller, from the bearer token; verified once per request, on first need. Over a WebSocket,
        the caller of `connection_init`, as long as its token has not expired."""
        if isinstance(self.request, WebSocket):
            if self._principal is None or (self.expires_at is not None and time.time() >= self.expires_at):
                raise Unauthenticated("The bearer token has expired; request a new one.")
            return self._principal
        if self._principal is None:
            self._principal = await self.tokens.authenticate(self.request.headers.get("authorization"))
            if self.record is not None:
                self.record.principal_id = self._principal.id
                self.record.workspace_grants = self._principal.grant_count
        return self._principal

    async def run(self, spec: OperationSpec, raw: Mapping[str, Any]) -> BaseModel:
        """One contract through the executor, noted in the request record with its outcome."""
        record = self.record
        if record is None:
            return await self.executor.execute(spec, raw, self.authenticate)
        try:
            result = await self.executor.execute(spec, raw, self.authenticate)
        except AppError as error:
            record.note_call(spec.key, error.code)
            raise
        record.note_call(spec.key, OK)
        return result

    async def subscribe(self, spec: OperationSpec, raw: Mapping[str, Any]) -> AsyncIterator[BaseModel]:
        """One subscription contract through the executor (guarded now, then streamed)."""
        return await self.executor.subscribe(spec, raw, self.authenticate)
