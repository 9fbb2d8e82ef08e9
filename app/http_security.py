"""Browser-facing protections: security headers and CORS for configured origins only.

The headers are added by the request observer (app/observability/middleware.py), the outermost
middleware, so every response gets them — 404s, 413s and CORS preflights included."""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.types import Message, Send

from app.observability.context import REQUEST_ID_HEADER

Header = tuple[bytes, bytes]

SECURITY_HEADERS: tuple[Header, ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)
"""On every response, unless the response sets the header itself."""

CORS_ALLOWED_HEADERS = ("Authorization", "Content-Type", "Accept", REQUEST_ID_HEADER)
CORS_MAX_AGE = 600


def html_headers(content_security_policy: str) -> tuple[Header, ...]:
    """On text/html responses (the GraphiQL page)."""
    return ((b"content-security-policy", content_security_policy.encode("latin-1")),)


class ConfiguredOriginsCORS(CORSMiddleware):
    """Starlette's CORS middleware, except that a request from another origin gets no CORS header at
    all (Starlette would still add Access-Control-Allow-Credentials and -Expose-Headers)."""

    async def send(self, message: Message, send: Send, request_headers: Headers) -> None:
        origin = request_headers.get("origin")
        if message["type"] == "http.response.start" and origin is not None and not self.is_allowed_origin(origin):
            message.setdefault("headers", [])
            MutableHeaders(scope=message).add_vary_header("Origin")  # caches must not reuse it for another origin
            await send(message)
            return
        await super().send(message, send, request_headers)


def cors_middleware(origins: list[str]) -> Middleware | None:
    """Starlette's CORS middleware for exactly these origins (none: no middleware, no CORS headers).
    Credentials are allowed, so `*` is refused by the settings; `X-Request-ID` is readable by scripts."""
    if not origins:
        return None
    return Middleware(
        ConfiguredOriginsCORS,
        allow_origins=origins,
        allow_credentials=True,
        allow_methods=["GET", "POST"],
        allow_headers=list(CORS_ALLOWED_HEADERS),
        expose_headers=[REQUEST_ID_HEADER],
        max_age=CORS_MAX_AGE,
    )


__all__ = ["CORS_ALLOWED_HEADERS", "SECURITY_HEADERS", "cors_middleware", "html_headers"]
