"""The operator console at /console: plain ES modules and web components under app/static/console/,
served by this server with a strict Content-Security-Policy (no inline script or style, nothing from
another origin). The page speaks only the public GraphQL API (HTTP for queries and mutations,
graphql-transport-ws for the live inbox); its GraphQL documents are files of their own under
documents/, validated against schema.graphql by tests/unit/test_console_documents.py.

In development the page carries the token `serve` printed (as GraphiQL's does); in production an
operator pastes one, kept in the tab's sessionStorage only."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from string import Template

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import Scope

from app.graphql.graphiql import AssetFiles, websocket_origin

CONSOLE_URL = "/console"
ASSETS_URL = "/console-assets"
ASSETS_DIR = Path(__file__).resolve().parent / "static" / "console"
TEMPLATE = ASSETS_DIR / "console.html"
ENTRY = "app.js"

_DIRECTIVES = (
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",  # no inline style: the console sets classes and `hidden`, never style attributes
    "img-src 'self' data:",
    "connect-src 'self'",  # HTTP POSTs to /graphql, + the page's own ws(s) origin (the live inbox)
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
)
CONTENT_SECURITY_POLICY = "; ".join(_DIRECTIVES)
"""The policy without a WebSocket origin (when the page's own origin is unknown or malformed)."""


def content_security_policy(socket_origin: str | None = None) -> str:
    """As GraphiQL's (app/graphql/graphiql.py): CSP 3 lets 'self' match the page's own ws(s) origin,
    older browsers only one named explicitly, so connect-src names it too."""
    if socket_origin is None:
        return CONTENT_SECURITY_POLICY
    return "; ".join(
        f"{directive} {socket_origin}" if directive == "connect-src 'self'" else directive for directive in _DIRECTIVES
    )


class ConsoleAssets(AssetFiles):
    """Like GraphiQL's assets, but revalidated: the console's own modules change with the code and
    their URLs (imports between modules) carry no version."""

    def file_response(
        self, full_path: str | os.PathLike[str], stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        if Path(full_path).suffix == ".graphql":
            response.headers["content-type"] = "text/plain; charset=utf-8"
        response.headers["cache-control"] = "no-cache"
        return response


def assets_app() -> ConsoleAssets:
    return ConsoleAssets(directory=ASSETS_DIR)


def _json_for_html(value: object) -> str:
    text = json.dumps(value, ensure_ascii=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


@dataclass(frozen=True, slots=True)
class ConsolePage:
    html: str

    async def endpoint(self, request: Request) -> Response:
        if request.url.path != CONSOLE_URL + "/":
            return RedirectResponse(CONSOLE_URL + "/", status_code=308)
        return HTMLResponse(
            self.html,
            headers={
                "Cache-Control": "no-store",  # it may carry a development token
                "Content-Security-Policy": content_security_policy(
                    websocket_origin(request.url.scheme, request.headers.get("host", ""))
                ),
                "Referrer-Policy": "no-referrer",
                "X-Content-Type-Options": "nosniff",
            },
        )


def render_console(*, endpoint: str = "/graphql", token: str | None = None) -> ConsolePage:
    """The page; `token` (development only) signs the operator in without pasting one."""
    entry = (ASSETS_DIR / ENTRY).read_bytes()
    version = hashlib.sha256(entry).hexdigest()[:16]
    config: dict[str, object] = {"endpoint": endpoint, "assets": ASSETS_URL, "token": token or None}
    html = Template(TEMPLATE.read_text()).substitute(
        assets=ASSETS_URL, entry=f"{ASSETS_URL}/{ENTRY}?v={version}", config=_json_for_html(config)
    )
    return ConsolePage(html)


__all__ = [
    "ASSETS_URL",
    "CONSOLE_URL",
    "CONTENT_SECURITY_POLICY",
    "ConsolePage",
    "assets_app",
    "content_security_policy",
    "render_console",
]
