"""The typed request context every resolver receives."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from app.auth import Principal, TokenService
from app.contracts.executor import Executor
from app.contracts.model import OperationSpec
from app.errors import AppError
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

    async def authenticate(self) -> Principal:
        """The caller, from the bearer token; verified once per request, on first need."""
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
