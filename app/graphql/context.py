"""The typed request context every resolver receives."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from app.auth import Principal, TokenService
from app.contracts.executor import Executor


@dataclass(slots=True)
class Context:
    request: Request | WebSocket
    response: Response | None
    executor: Executor
    tokens: TokenService
    _principal: Principal | None = field(default=None, repr=False)

    def authenticate(self) -> Principal:
        """The caller, from the bearer token; decoded once per request, on first need."""
        if self._principal is None:
            self._principal = self.tokens.authenticate(self.request.headers.get("authorization"))
        return self._principal
