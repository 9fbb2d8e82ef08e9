"""The operator console's page and modules as the server sends them: a strict CSP with no inline
script or style, only same-origin URLs, the development token embedded in development only, and
the modules and GraphQL documents served with their types."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from app.console import ASSETS_URL, CONTENT_SECURITY_POLICY, content_security_policy, render_console
from tests.integration.observed import build_app, client, media_type

__all__ = ["build_app"]  # the fixture (tests/integration/observed.py)

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.console-test-token"


class Page(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.scripts: list[dict[str, str]] = []
        self.inline_styles = 0
        self._in_config = False
        self._config = ""
        self.feed(html)
        self.config: dict[str, Any] = json.loads(self._config)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        self.urls += [attributes[name] for name in ("src", "href", "action") if name in attributes]
        self.inline_styles += tag == "style" or "style" in attributes
        if tag == "script":
            self.scripts.append(attributes)
        self._in_config = tag == "script" and attributes.get("id") == "console-config"

    def handle_endtag(self, tag: str) -> None:
        self._in_config = False

    def handle_data(self, data: str) -> None:
        if self._in_config:
            self._config += data


async def get(application: Starlette, path: str) -> httpx.Response:
    async with client(application) as http:
        return await http.get(path)


async def test_the_page_is_same_origin_with_a_strict_csp_and_the_development_token(build_app):
    response = await get(build_app(graphiql_token=TOKEN), "/console/")

    assert response.status_code == 200
    assert media_type(response) == "text/html"
    assert response.headers["content-security-policy"] == content_security_policy("ws://testserver")
    assert "connect-src 'self' ws://testserver;" in response.headers["content-security-policy"]
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
    assert "'unsafe-eval'" not in CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY
    assert response.headers["cache-control"] == "no-store"
    page = Page(response.text)
    assert page.config == {"endpoint": "/graphql", "assets": ASSETS_URL, "token": TOKEN}
    assert all(
        (url.startswith("/") and not url.startswith("//")) or url.startswith("#") or url == "data:,"
        for url in page.urls
    )
    # No inline script: the only script without src is the JSON configuration (not executed).
    assert [script.get("type") for script in page.scripts if "src" not in script] == ["application/json"]
    assert [script["type"] for script in page.scripts if "src" in script] == ["module"]
    assert page.inline_styles == 0


async def test_production_never_embeds_a_token(build_app):
    response = await get(build_app(app_env="production", graphiql_token=TOKEN), "/console/")

    assert response.status_code == 200
    assert TOKEN not in response.text
    assert Page(response.text).config["token"] is None


async def test_console_redirects_to_its_page_and_can_be_turned_off(build_app):
    response = await get(build_app(), "/console")
    assert response.status_code == 308
    assert response.headers["location"] == "/console/"
    application = build_app(console=False)
    assert (await get(application, "/console/")).status_code == 404
    assert (await get(application, f"{ASSETS_URL}/app.js")).status_code == 404


@pytest.mark.parametrize(
    ("path", "media"),
    [
        ("app.js", "text/javascript"),
        ("inbox.js", "text/javascript"),
        ("styles.css", "text/css"),
        ("documents/ApprovalQueue.graphql", "text/plain"),
    ],
)
async def test_modules_and_documents_are_served_with_their_types(build_app, path, media):
    response = await get(build_app(), f"{ASSETS_URL}/{path}")

    assert response.status_code == 200
    assert media_type(response) == media
    assert response.headers["x-content-type-options"] == "nosniff"


def test_the_modules_import_only_each_other():
    """No module reaches another origin: every import is a relative path to a file of the console."""
    from app.console import ASSETS_DIR  # noqa: PLC0415

    for module in ASSETS_DIR.glob("*.js"):
        imports = re.findall(r"""^import .* from ["']([^"']+)["'];$""", module.read_text(), re.MULTILINE)
        assert all(target.startswith("./") and (ASSETS_DIR / target).is_file() for target in imports), (module, imports)


async def test_a_malformed_host_never_reaches_the_policy(build_app):
    async with client(build_app(), {"Host": "evil.example; script-src *"}) as http:
        response = await http.get("/console/")
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY


def test_the_embedded_json_cannot_end_its_script_element():
    html = render_console(token="</script><script>alert(1)</script>").html

    assert "</script><script>alert(1)" not in html
