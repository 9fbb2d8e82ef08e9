"""Subscriptions over WebSocket: Strawberry's graphql-transport-ws handler, with this server's rules.

- The bearer token comes in `connection_init`'s payload: `{"Authorization": "Bearer <JWT>"}`. Without a
  valid one the socket is closed 4401 before anything else is sent; a token below the level every
  subscription needs is closed 4403. When the token expires, the socket is closed 4401.
- Every subscription then goes through the executor (app/contracts/executor.py `subscribe`): its guard
  refusing it closes the socket the same way (4401 / 4403); bad input is an `error` message.
- Limits: `WS_MAX_SUBSCRIPTIONS_PER_CONNECTION` operations at once (one more: an `error` message),
  `WS_MAX_CONNECTIONS_PER_PRINCIPAL` sockets per `sub` in one process (one more: closed 4429),
  `WS_MAX_MESSAGE_BYTES` per client message (uvicorn closes 1009), and `WS_SEND_TIMEOUT_SECONDS` for one
  message to be taken by the socket: a client that reads so slowly that a send waits longer is dropped
  (closed 4008) instead of making the server hold more and more for it. It reconnects and resumes from its
  last cursor.

Sending: a subscription's messages are written by its own operation task, in order, the moment they exist:
no queue and no sender task per subscription (each would cost every idle subscriber memory and every
delivery a task switch). While the socket cannot take more (uvicorn's send waits once the transport's buffer
is full), the operation stops pulling its stream, so what waits is the feed's shared batches in the
subscription's inbox, bounded by LIVE_INBOX_EVENTS (app/services/kernel/live.py), never per-message copies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jwt
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_transport_ws.types import ConnectionInitMessage, Message
from strawberry.types.execution import PreExecutionError

from app.auth import AuthLevel
from app.errors import Forbidden, Unauthenticated
from app.graphql.context import Context
from app.graphql.shared_events import encoded_next

if TYPE_CHECKING:
    from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import Operation

logger = logging.getLogger("app.graphql.ws")

CLOSE_UNAUTHORIZED = 4401
"""No, a bad, or an expired bearer token."""
CLOSE_FORBIDDEN = 4403
"""The token's role is below what the subscription needs."""
CLOSE_TOO_MANY_CONNECTIONS = 4429
"""The principal already holds WS_MAX_CONNECTIONS_PER_PRINCIPAL sockets on this server process."""
CLOSE_SLOW_CONSUMER = 4008
"""The client did not read fast enough: one message waited longer than WS_SEND_TIMEOUT_SECONDS to be sent."""
CLOSE_MESSAGE_TOO_BIG = 1009
"""A client message over WS_MAX_MESSAGE_BYTES (closed by uvicorn, `ws_max_size`)."""

_FINAL = frozenset({"error", "complete"})


@dataclass(frozen=True, slots=True)
class SocketLimits:
    max_subscriptions_per_connection: int = 20
    max_connections_per_principal: int = 50
    send_timeout: float = 10.0
    """Seconds one message may wait for the socket to take it before the client counts as too slow."""
    minimum_level: AuthLevel = AuthLevel.ADMIN
    """The lowest level any subscription contract needs: a token below it cannot use the socket at all."""


class Connections:
    """Open sockets per principal in this process."""

    def __init__(self) -> None:
        self._open: Counter[str] = Counter()

    def acquire(self, principal_id: str, limit: int) -> bool:
        if self._open[principal_id] >= limit:
            return False
        self._open[principal_id] += 1
        return True

    def release(self, principal_id: str) -> None:
        self._open[principal_id] -= 1
        if self._open[principal_id] <= 0:
            del self._open[principal_id]

    @property
    def total(self) -> int:
        return sum(self._open.values())


def _bearer(payload: dict[str, object]) -> str | None:
    for name in ("Authorization", "authorization"):
        value = payload.get(name)
        if isinstance(value, str):
            return value
    return None


def _expiry(authorization: str) -> float | None:
    """The `exp` of a token that was just verified (so reading it unverified is safe)."""
    token = authorization.partition(" ")[2].strip()
    try:
        exp = jwt.decode(token, options={"verify_signature": False}).get("exp")
    except jwt.PyJWTError:
        return None
    return float(exp) if isinstance(exp, int | float) else None


class TransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws with authentication in `connection_init`, expiry, limits and direct sends."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._principal_id: str | None = None
        self._expiry_timer: asyncio.TimerHandle | None = None
        """When the token expires: a timer, not a task sleeping for hours on every idle socket."""
        self._closing = False
        self._expiry_close: asyncio.Task[None] | None = None
        self._sending_since: float | None = None
        """Since when sends have been in progress without a pause (None: none is): what the slow-consumer check
        reads. The subscriptions of a socket share its buffers, so one that cannot send means all wait."""
        self._sends = 0
        self._slow_check: asyncio.TimerHandle | None = None
        self._drop: asyncio.Task[None] | None = None

    @property
    def _raw_socket(self) -> Any:
        """Starlette's socket under Strawberry's adapter (to send text encoded once), None when absent."""
        return getattr(self.websocket, "ws", None)

    @property
    def _limits(self) -> SocketLimits:
        limits: SocketLimits = getattr(self.view, "socket_limits", SocketLimits())
        return limits

    @property
    def _connections(self) -> Connections:
        connections: Connections = self.view.connections  # type: ignore[attr-defined]
        return connections

    async def _close(self, code: int, reason: str) -> None:
        self._closing = True
        with contextlib.suppress(Exception):
            await self.websocket.close(code=code, reason=reason)

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        if self.connection_timed_out:
            return
        if self.connection_init_timeout_task:
            self.connection_init_timeout_task.cancel()
            self.connection_init_timeout_task = None  # a finished task kept for the socket's life costs ~1 KB
        payload = message.get("payload") or {}
        if not isinstance(payload, dict):
            await self._close(4400, "Invalid connection init payload")
            return
        if self.connection_init_received:
            await self._close(4429, "Too many initialisation requests")
            return
        self.connection_init_received = True
        self.context.connection_params = payload
        authorization = _bearer(payload)
        try:
            principal = await self.context.tokens.authenticate(authorization)
        except Unauthenticated as error:
            await self._close(CLOSE_UNAUTHORIZED, f"Unauthorized: {error.message}"[:120])
            return
        if principal.level < self._limits.minimum_level:
            await self._close(
                CLOSE_FORBIDDEN, f"Forbidden: subscriptions need the {self._limits.minimum_level.label} role"
            )
            return
        if not self._connections.acquire(principal.id, self._limits.max_connections_per_principal):
            await self._close(CLOSE_TOO_MANY_CONNECTIONS, "Too many connections for this principal")
            return
        self._principal_id = principal.id
        assert authorization is not None
        expires_at = _expiry(authorization)
        self.context.accept(principal, expires_at)
        if expires_at is not None:
            loop = asyncio.get_running_loop()
            self._expiry_timer = loop.call_later(max(0.0, expires_at - time.time()), self._expired)
        await self.send_message({"type": "connection_ack"})
        self.connection_acknowledged = True
        self._schedule_slow_check()

    def _schedule_slow_check(self) -> None:
        """A timer per socket (no task): every quarter of the send timeout, look at the send in progress."""
        timeout = self._limits.send_timeout
        self._slow_check = asyncio.get_running_loop().call_later(timeout / 4, self._check_slow, timeout)

    def _check_slow(self, timeout: float) -> None:
        self._slow_check = None
        started = self._sending_since
        if self._closing:
            return
        if started is not None and time.monotonic() - started > timeout:
            logger.warning(
                "dropping a slow WebSocket consumer (principal %s): a message waited over %.1f s to be sent",
                self._principal_id,
                timeout,
            )
            self._closing = True
            self._drop = asyncio.get_running_loop().create_task(self._drop_slow_consumer())
            return
        self._schedule_slow_check()

    def _expired(self) -> None:
        self._expiry_timer = None
        self._expiry_close = asyncio.get_running_loop().create_task(
            self._close(CLOSE_UNAUTHORIZED, "Unauthorized: the bearer token has expired")
        )

    async def handle_subscribe(self, message: Any) -> None:
        if self._closing:
            return
        await super().handle_subscribe(message)

    async def _handle_pre_execution_error(self, operation: Operation[Context, None], result: PreExecutionError) -> None:
        original = result.errors[0].original_error if result.errors else None
        if isinstance(original, Unauthenticated):
            await self._close(CLOSE_UNAUTHORIZED, f"Unauthorized: {original.message}"[:120])
            return
        if isinstance(original, Forbidden):
            await self._close(CLOSE_FORBIDDEN, f"Forbidden: {original.message}"[:120])
            return
        await super()._handle_pre_execution_error(operation, result)

    async def send_message(self, message: Message) -> None:
        operation_id = message.get("id")
        if not isinstance(operation_id, str) or message["type"] not in ("next", *_FINAL):
            await super().send_message(message)
            return
        if self._closing:
            return
        text = encoded_next(message)  # type: ignore[arg-type]
        raw = self._raw_socket
        if not self._sends:
            self._sending_since = time.monotonic()
        self._sends += 1
        try:
            if text is not None and raw is not None:
                await raw.send_text(text)  # the data's JSON, encoded once for all subscribers
            else:
                await self.websocket.send_json(message)
        except Exception:  # the client is gone: nothing left to deliver; the receive loop cleans up
            logger.debug("WebSocket send failed", exc_info=True)
            self._closing = True
        finally:
            self._sends -= 1
            if not self._sends:
                self._sending_since = None

    async def _drop_slow_consumer(self) -> None:
        for operation_id in list(self.operations):
            await self.cleanup_operation(operation_id)
        await self._close(CLOSE_SLOW_CONSUMER, "Slow consumer: messages were not read fast enough")

    async def shutdown(self) -> None:
        for timer in (self._expiry_timer, self._slow_check):
            if timer is not None:
                timer.cancel()
        self._expiry_timer = self._slow_check = None
        await super().shutdown()
        if self._principal_id is not None:
            self._connections.release(self._principal_id)
            self._principal_id = None
