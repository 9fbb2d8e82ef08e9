"""GraphiQL over HTTP: a browser's GET /graphql gets our own page, whose scripts and styles all come
from this server (vendored from pinned npm packages); the development page carries the admin token,
the production page never does; with GraphiQL off, browsers get what they got before (no page)."""

from __future__ import annotations

import hashlib
import json
from base64 import b64encode
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from app.graphql.graphiql import (
    ASSETS_URL,
    CONTENT_SECURITY_POLICY,
    content_security_policy,
    render_page,
    websocket_origin,
)
from app.settings import Settings
from scripts import vendor_graphiql
from tests.integration.observed import build_app, client, media_type

__all__ = ["build_app"]  # the fixture (tests/integration/observed.py)

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.graphiql-test-token"
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


class Page(HTMLParser):
    """Every URL the page refers to (src, href, action, ...), its tags, and its JSON configuration."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.urls: list[tuple[str, str, str]] = []  # (tag, attribute, url)
        self.scripts: list[dict[str, str]] = []
        self.stylesheets: list[dict[str, str]] = []
        self._in_config = False
        self._config = ""
        self.feed(html)
        self.config: dict[str, Any] = json.loads(self._config)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        for name in ("src", "href", "action", "data", "poster", "srcset", "formaction"):
            if name in attributes:
                self.urls.append((tag, name, attributes[name]))
        if tag == "script" and "src" in attributes:
            self.scripts.append(attributes)
        if tag == "link" and attributes.get("rel") == "stylesheet":
            self.stylesheets.append(attributes)
        self._in_config = tag == "script" and attributes.get("id") == "graphiql-config"

    def handle_endtag(self, tag: str) -> None:
        self._in_config = False

    def handle_data(self, data: str) -> None:
        if self._in_config:
            self._config += data


def same_origin(url: str) -> bool:
    """A path on this server ("/..."), not a protocol-relative ("//host") or absolute URL; data: for the icon."""
    return (url.startswith("/") and not url.startswith("//")) or url == "data:,"


async def get(application: Starlette, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    async with client(application, headers) as http:
        return await http.get(path)


# --- the page ---------------------------------------------------------------------------------------------


async def test_browser_get_serves_the_page_with_same_origin_assets_only(build_app):
    response = await get(build_app(graphiql_token=TOKEN), "/graphql", BROWSER)

    assert response.status_code == 200
    assert media_type(response) == "text/html"
    page = Page(response.text)
    assert page.urls, "the page loads its scripts and styles"
    assert [url for _, _, url in page.urls if not same_origin(url)] == []
    # No CDN or other host named anywhere in the page, not even in inline code.
    assert "http://" not in response.text
    assert "https://" not in response.text
    assert "unpkg" not in response.text
    assert "jsdelivr" not in response.text
    scripts = [script["src"].split("?")[0] for script in page.scripts]
    assert scripts == [
        f"{ASSETS_URL}/vendor/react-18.3.1/react.production.min.js",
        f"{ASSETS_URL}/vendor/react-dom-18.3.1/react-dom.production.min.js",
        f"{ASSETS_URL}/vendor/graphql-ws-6.4.2/graphql-ws.min.js",
        f"{ASSETS_URL}/vendor/graphiql-3.8.3/graphiql.min.js",
        f"{ASSETS_URL}/start.js",
    ]
    assert [sheet["href"] for sheet in page.stylesheets] == [f"{ASSETS_URL}/vendor/graphiql-3.8.3/graphiql.min.css"]
    # The browser refuses anything from elsewhere; the page (it may hold a token) is never cached.
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "script-src 'self';" in policy
    assert "connect-src 'self' ws://" in policy  # subscriptions: the page's own origin as ws://
    assert response.headers["cache-control"] == "no-store"
    assert page.config["endpoint"] == "/graphql"
    assert "pendingApprovals" in page.config["defaultQuery"]


async def test_assets_are_served_with_their_content_types_and_integrity(build_app):
    application = build_app()
    page = Page((await get(application, "/graphql", BROWSER)).text)
    expected = {".js": "text/javascript", ".css": "text/css"}

    for tag in [*page.scripts, *page.stylesheets]:
        url = tag.get("src") or tag["href"]
        response = await get(application, url)
        assert response.status_code == 200, url
        assert media_type(response) == expected[Path(url.split("?")[0]).suffix], url
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "immutable" in response.headers["cache-control"]
        # The integrity attribute the browser checks is the file's own sha384.
        assert tag["integrity"] == "sha384-" + b64encode(hashlib.sha384(response.content).digest()).decode()

    licence = await get(application, f"{ASSETS_URL}/vendor/graphiql-3.8.3/LICENSE")
    assert licence.status_code == 200
    assert media_type(licence) == "text/plain"
    assert "MIT License" in licence.text
    assert (await get(application, f"{ASSETS_URL}/vendor/../../graphql/graphiql.py")).status_code == 404


def test_vendored_assets_match_the_pinned_packages():
    assert vendor_graphiql.check() == []
    manifest = json.loads((vendor_graphiql.VENDOR_DIR / "manifest.json").read_text())
    pinned = {entry["name"]: (entry["version"], entry["license"]) for entry in manifest["packages"]}
    assert pinned == {
        "react": ("18.3.1", "MIT"),
        "react-dom": ("18.3.1", "MIT"),
        "graphql-ws": ("6.4.2", "MIT"),
        "graphiql": ("3.8.3", "MIT"),
    }
    for entry in manifest["packages"]:
        assert entry["integrity"].startswith("sha512-")
        assert any(file["kind"] == "licence" for file in entry["files"]), entry["name"]


def test_the_policy_names_only_the_pages_own_websocket_origin():
    assert websocket_origin("http", "127.0.0.1:8000") == "ws://127.0.0.1:8000"
    assert websocket_origin("https", "cp.example.com") == "wss://cp.example.com"
    assert websocket_origin("https", "[::1]:8443") == "wss://[::1]:8443"
    # A Host header that is not a plain host[:port] never gets into the policy.
    for host in ("evil.example; script-src *", "a b", "", "x:99999999"):
        assert websocket_origin("http", host) is None, host
    assert content_security_policy(None) == CONTENT_SECURITY_POLICY
    assert "connect-src 'self' wss://cp.example.com;" in content_security_policy("wss://cp.example.com")


# --- the token --------------------------------------------------------------------------------------------


async def test_development_page_prefills_the_admin_token(build_app):
    response = await get(build_app(graphiql_token=TOKEN), "/graphql", BROWSER)

    config = Page(response.text).config
    assert json.loads(config["headers"]) == {"Authorization": f"Bearer {TOKEN}"}


async def test_development_page_without_a_token_has_no_headers(build_app):
    response = await get(build_app(), "/graphql", BROWSER)

    assert response.status_code == 200
    assert "headers" not in Page(response.text).config
    assert "Bearer" not in response.text


async def test_production_page_never_embeds_a_token(build_app):
    response = await get(build_app(app_env="production", graphiql=True, graphiql_token=TOKEN), "/graphql", BROWSER)

    assert response.status_code == 200
    assert media_type(response) == "text/html"
    assert TOKEN not in response.text
    assert "Bearer" not in response.text
    assert "headers" not in Page(response.text).config


def test_the_token_reaches_settings_through_the_environment(monkeypatch):
    monkeypatch.setenv("GRAPHIQL_TOKEN", TOKEN)

    settings = Settings(_env_file=None)
    assert settings.graphiql_prefilled_token == TOKEN
    assert TOKEN not in repr(settings)  # a secret: never shown in logs or tracebacks

    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("GRAPHIQL", "1")
    assert Settings(_env_file=None).graphiql_prefilled_token is None


def test_the_embedded_json_cannot_end_its_script_element():
    html = render_page(token="</script><script>alert(1)</script>").html

    assert "</script><script>alert(1)" not in html
    assert html.count("</script>") == html.count("<script")


# --- GraphiQL off -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [{"graphiql": False}, {"app_env": "production"}, {"app_env": "production", "graphiql_token": TOKEN}],
    ids=["GRAPHIQL=0", "production", "production-with-token"],
)
async def test_without_graphiql_browsers_get_no_page_and_no_assets(build_app, overrides):
    application = build_app(**overrides)

    response = await get(application, "/graphql", BROWSER)
    assert response.status_code == 404
    assert media_type(response) == "application/json"
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "<html" not in response.text
    assert (await get(application, f"{ASSETS_URL}/start.js")).status_code == 404
    assert (await get(application, f"{ASSETS_URL}/vendor/graphiql-3.8.3/graphiql.min.js")).status_code == 404
