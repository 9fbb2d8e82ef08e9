"""GraphiQL served entirely by this server: the page (graphiql.html), our start script and the
vendored React/GraphiQL/graphql-ws builds under app/static/graphiql/ (scripts/vendor_graphiql.py
writes `vendor/` from pinned npm packages). Subscriptions go over a WebSocket to the same origin's
/graphql. Nothing the page loads comes from another origin, and its Content-Security-Policy would
refuse it if something tried."""

from __future__ import annotations

import hashlib
import json
import os
import re
from base64 import b64encode
from dataclasses import dataclass
from html import escape
from pathlib import Path
from string import Template
from typing import Any

from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

ASSETS_URL = "/graphiql-assets"
ASSETS_DIR = Path(__file__).resolve().parents[1] / "static" / "graphiql"
MANIFEST = ASSETS_DIR / "vendor" / "manifest.json"
TEMPLATE = Path(__file__).resolve().parent / "graphiql.html"
START_SCRIPT = "start.js"

DEFAULT_QUERY = """# Steps waiting for a decision: run with ▶ (Ctrl-Enter).
# Docs (the book, top left): each operation's contract.
query PendingApprovals {
  pendingApprovals(input: {}) {
    total
    items { executionId stepId key riskTier awaitingSince }
  }
}

# Live (over a WebSocket; ■ stops it): replace the above with
# subscription Queue { approvalQueue(input: {}) { kind cursor item { stepId key viewerCanDecide } } }
"""

_DIRECTIVES = (
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",  # GraphiQL's components set inline styles
    "font-src 'self' data:",  # the CSS embeds its fonts
    "img-src 'self' data:",
    "connect-src 'self'",  # + the page's own ws:// or wss:// origin (subscriptions), see `content_security_policy`
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
)
CONTENT_SECURITY_POLICY = "; ".join(_DIRECTIVES)
"""The policy without a WebSocket origin (when the page's own origin is unknown or malformed)."""

_HOST = re.compile(r"^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$")


def websocket_origin(scheme: str, host: str) -> str | None:
    """The page's own origin as a WebSocket origin (http -> ws, https -> wss), or None when the Host the
    request named is not a plain host[:port] (nothing a client sends gets into the policy unchecked)."""
    socket_scheme = {"http": "ws", "https": "wss"}.get(scheme)
    if socket_scheme is None or not _HOST.match(host):
        return None
    return f"{socket_scheme}://{host}"


def content_security_policy(socket_origin: str | None = None) -> str:
    """Everything from this origin only; `connect-src` also names the page's own ws:// or wss:// origin:
    CSP 3 lets 'self' match it, but older browsers only allow a WebSocket origin named explicitly."""
    if socket_origin is None:
        return CONTENT_SECURITY_POLICY
    return "; ".join(
        f"{directive} {socket_origin}" if directive == "connect-src 'self'" else directive for directive in _DIRECTIVES
    )


_CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    "": "text/plain; charset=utf-8",  # LICENSE
}


class AssetFiles(StaticFiles):
    """The assets, with fixed content types and long cache lifetimes: vendored files live under
    versioned directories and the start script's URL carries its digest, so a URL never changes meaning."""

    def file_response(
        self, full_path: str | os.PathLike[str], stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        content_type = _CONTENT_TYPES.get(Path(full_path).suffix)
        if content_type is not None:
            response.headers["content-type"] = content_type
        response.headers["cache-control"] = "public, max-age=31536000, immutable"
        response.headers["x-content-type-options"] = "nosniff"
        return response


def assets_app() -> AssetFiles:
    return AssetFiles(directory=ASSETS_DIR)


@dataclass(frozen=True, slots=True)
class GraphiQLPage:
    """The page, rendered once per process (its token, when any, is the one `serve` printed)."""

    html: str

    def response(self, socket_origin: str | None = None) -> Response:
        """`socket_origin`: the page's own origin as ws:// or wss:// (`websocket_origin`), for connect-src."""
        return HTMLResponse(
            self.html,
            headers={
                "Cache-Control": "no-store",  # it may carry a development token
                "Content-Security-Policy": content_security_policy(socket_origin),
                "Referrer-Policy": "no-referrer",
                "X-Content-Type-Options": "nosniff",
            },
        )


def _sri(data: bytes) -> str:
    return "sha384-" + b64encode(hashlib.sha384(data).digest()).decode("ascii")


def _tags() -> tuple[list[str], list[str]]:
    """<link> and <script> tags of the vendored files, in the manifest's order, each with its SRI digest."""
    manifest: dict[str, Any] = json.loads(MANIFEST.read_text())
    stylesheets, scripts = [], []
    for package in manifest["packages"]:
        for file in package["files"]:
            url = escape(f"{ASSETS_URL}/vendor/{file['path']}")
            integrity = escape(file["sri"])
            if file["kind"] == "stylesheet":
                stylesheets.append(f'<link rel="stylesheet" href="{url}" integrity="{integrity}">')
            elif file["kind"] == "script":
                scripts.append(f'<script src="{url}" integrity="{integrity}"></script>')
    start = (ASSETS_DIR / START_SCRIPT).read_bytes()
    version = hashlib.sha256(start).hexdigest()[:16]
    scripts.append(f'<script src="{ASSETS_URL}/{START_SCRIPT}?v={version}" integrity="{_sri(start)}"></script>')
    return stylesheets, scripts


def _json_for_html(value: object) -> str:
    """JSON that cannot end the <script> element holding it, nor open a comment or CDATA."""
    text = json.dumps(value, ensure_ascii=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_page(*, endpoint: str = "/graphql", token: str | None = None) -> GraphiQLPage:
    """The page; `token` prefills `Authorization: Bearer <token>` in the headers editor (development)."""
    stylesheets, scripts = _tags()
    config: dict[str, object] = {"endpoint": endpoint, "defaultQuery": DEFAULT_QUERY}
    if token:
        config["headers"] = json.dumps({"Authorization": f"Bearer {token}"}, indent=2)
    html = Template(TEMPLATE.read_text()).substitute(
        stylesheets="\n    ".join(stylesheets),
        scripts="\n    ".join(scripts),
        config=_json_for_html(config),
    )
    return GraphiQLPage(html)


__all__ = [
    "ASSETS_DIR",
    "ASSETS_URL",
    "CONTENT_SECURITY_POLICY",
    "GraphiQLPage",
    "assets_app",
    "content_security_policy",
    "render_page",
    "websocket_origin",
]
