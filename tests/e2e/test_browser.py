"""GraphiQL in a real browser: headless Chromium (Debian's /usr/bin/chromium, driven by Playwright)
opens the page of a real `python -m app serve`, with every request to another origin blocked and
recorded, runs `pendingApprovals` and then `rejectExecutionStep` from the editor, and reads the
results in the result pane; then subscribes to `approvalQueue` (a WebSocket to the same origin) and sees
a decision made by another client appear. A screenshot is stored under test-artifacts/.

Without Chromium (or Playwright) the test skips, saying why; with REQUIRE_BROWSER=1 (set by .ci/run)
it fails instead. CHROMIUM=/path/to/chromium picks another binary."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import jwt
import pytest

from tests.e2e.conftest import REPO_ROOT, ServerProcess

if TYPE_CHECKING:
    from playwright.sync_api import ConsoleMessage, Page, Route, WebSocket

pytestmark = pytest.mark.e2e

REQUIRE_BROWSER = os.environ.get("REQUIRE_BROWSER", "0") == "1"
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS_DIR", REPO_ROOT / "test-artifacts"))
TIMEOUT_MS = 60_000  # a cold start of Chromium and a 3.5 MB bundle on a busy 2-core machine

DEPLOY = {"executionId": "exec-acme-deploy-42", "stepId": "step-acme-deploy-42-3"}
REASON = "Deploy freeze until Monday (rejected from GraphiQL)."
QUERY_EDITOR = "document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror"
RESULT_PANE = "document.querySelector('.graphiql-response .CodeMirror').CodeMirror"
# Typed into GraphiQL as a person would: literal arguments, no variables, only what the test reads
# (the shared documents of app/testing/documents.py take $input).
PENDING = """query Pending {
  pendingApprovals(input: {}) {
    total
    items { executionId stepId key riskTier }
  }
}"""


# A subscription, as a person would type it: each message replaces the result pane.
QUEUE = """subscription Queue {
  approvalQueue(input: {}) {
    kind cursor
    item { executionId stepId key viewerCanDecide }
  }
}"""
HTTP_REJECT = """mutation Reject($input: ControlPlaneExecutionRejectInput!) {
  rejectExecutionStep(input: $input) { status }
}"""


def reject_document(actor: str) -> str:
    return f"""mutation Reject {{
  rejectExecutionStep(input: {{
    executionId: "{DEPLOY["executionId"]}", stepId: "{DEPLOY["stepId"]}",
    rejectedBy: "{actor}", reason: "{REASON}"
  }}) {{ executionId stepId status rejectedAt }}
}}"""


def _unavailable(reason: str) -> None:
    if REQUIRE_BROWSER:
        pytest.fail(f"{reason}; REQUIRE_BROWSER=1, so the browser test must run", pytrace=False)
    pytest.skip(f"{reason} (apt-get install chromium; see README, Tests)")


@pytest.fixture(scope="session")
def chromium() -> str:
    """The Chromium binary, or skip (fail under REQUIRE_BROWSER=1) when there is none."""
    chosen = os.environ.get("CHROMIUM")
    candidates = [chosen] if chosen else ["/usr/bin/chromium", shutil.which("chromium")]
    path = next((c for c in candidates if c and Path(c).is_file() and os.access(c, os.X_OK)), None)
    if path is None:
        _unavailable(f"no Chromium found (looked at {', '.join(c for c in candidates if c) or 'chromium on PATH'})")
    try:
        import playwright.sync_api  # noqa: F401, PLC0415 - only asks whether the optional driver is installed
    except ImportError:
        _unavailable("the Playwright driver is not installed (pip install -e '.[test]')")
    assert path is not None
    return path


class Browser:
    """One page on a fresh browser context; requests to any origin but the server's are aborted and recorded."""

    def __init__(self, page: Page, origin: str) -> None:
        self.page = page
        self.origin = origin
        self.blocked: list[str] = []
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # (method, url, headers)
        self.errors: list[str] = []
        page.context.route("**/*", self._route)
        page.on("request", lambda request: self.requests.append((request.method, request.url, request.headers)))
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        page.on("console", self._console)
        self.sockets: list[str] = []  # WebSocket URLs the page opened (subscriptions)
        self.frames_sent: list[str] = []
        page.on("websocket", self._websocket)

    def _websocket(self, socket: WebSocket) -> None:
        """Routing does not see WebSockets: one to another origin than the page's (ws:// for http://) is
        recorded as blocked, which fails the tests that assert nothing was."""
        self.sockets.append(socket.url)
        parts = urlsplit(socket.url)
        if f"{parts.scheme.replace('ws', 'http', 1)}://{parts.netloc}" != self.origin:
            self.blocked.append(socket.url)
        socket.on("framesent", lambda payload: self.frames_sent.append(str(payload)))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text}")

    def _route(self, route: Route) -> None:
        url = route.request.url
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}" == self.origin:
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort("blockedbyclient")

    def set_query(self, document: str, operation: str) -> None:
        """Replaces the query editor's text by typing it (CodeMirror's own input handling), then waits
        until GraphiQL has parsed it: it picks the operation to run 100 ms after the last keystroke."""
        editor = self.page.locator(".graphiql-query-editor .CodeMirror")
        editor.click()
        self.page.keyboard.press("Control+A")
        self.page.keyboard.press("Delete")
        self.page.keyboard.insert_text(document)
        typed = self.page.evaluate(f"() => {QUERY_EDITOR}.getValue()")
        assert typed == document, typed
        self.page.wait_for_function(f"name => {QUERY_EDITOR}.operationName === name", arg=operation)

    def run(self, field: str) -> dict[str, Any]:
        """Clicks ▶ and returns the JSON shown in the result pane once it shows `field`."""
        self.page.get_by_role("button", name="Execute query (Ctrl-Enter)").click()
        return self.result(field)

    def result(self, field: str) -> dict[str, Any]:
        """The JSON shown in the result pane once it shows `field`."""
        pane = self.page.locator(".graphiql-response")
        pane.get_by_text(f'"{field}"').first.wait_for(timeout=TIMEOUT_MS)
        text = self.page.evaluate(f"() => {RESULT_PANE}.getValue()")
        result: dict[str, Any] = json.loads(text)
        return result

    def graphql_posts(self) -> list[dict[str, str]]:
        return [headers for method, url, headers in self.requests if method == "POST" and url.endswith("/graphql")]


@pytest.fixture
def browser(chromium: str, server: ServerProcess) -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - optional: the test skips without it

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=chromium, headless=True)
        try:
            context = instance.new_context(viewport={"width": 1440, "height": 900})
            context.set_default_timeout(TIMEOUT_MS)
            yield Browser(context.new_page(), server.base_url)
        finally:
            instance.close()


def screenshot(page: Page, name: str, capsys: pytest.CaptureFixture[str]) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    with capsys.disabled():
        print(f"\n  screenshot: {path}")  # noqa: T201 - tells the developer where the screenshot is
    return path


def test_graphiql_runs_pending_approvals_and_a_reject_offline(
    browser: Browser, server: ServerProcess, capsys: pytest.CaptureFixture[str], request: pytest.FixtureRequest
) -> None:
    page = browser.page
    actor = jwt.decode(server.admin_token, options={"verify_signature": False})["sub"]
    assert actor == "admin", "serve prints an admin token whose sub is 'admin'"

    page.goto(server.graphql_url)
    page.locator(".graphiql-query-editor .CodeMirror").wait_for()
    assert page.title() == "Control plane · GraphiQL"

    # The headers editor holds the token `serve` printed.
    headers = page.evaluate(
        "() => Array.from(document.querySelectorAll('.graphiql-editor-tool .CodeMirror'))"
        ".map(element => element.CodeMirror.getValue())"
    )
    assert any(f"Bearer {server.admin_token}" in text for text in headers), headers

    # What waits for a decision, run from the editor and rendered in the result pane.
    browser.set_query(PENDING, "Pending")
    pending = browser.run("pendingApprovals")
    assert "errors" not in pending, pending
    assert pending["data"]["pendingApprovals"]["total"] == 7  # the seeds' steps awaiting a decision
    items = pending["data"]["pendingApprovals"]["items"]
    assert {"executionId": DEPLOY["executionId"], "stepId": DEPLOY["stepId"]} in [
        {"executionId": item["executionId"], "stepId": item["stepId"]} for item in items
    ]
    assert page.locator(".graphiql-response").get_by_text(DEPLOY["stepId"]).count() >= 1

    # The Docs pane shows the operation's contract words (from the field description).
    page.get_by_role("button", name="Show Documentation Explorer").click()
    docs = page.locator(".graphiql-doc-explorer")
    docs.get_by_role("link", name="Mutation").first.click()
    docs.get_by_role("link", name="rejectExecutionStep").first.click()
    docs.get_by_text("Goal: Allow operators to block unsafe or undesired actions.").wait_for()
    assert "controlPlane.execution.reject" in docs.inner_text()

    # Reject the seeded deploy step as the token's own principal.
    browser.set_query(reject_document(actor), "Reject")
    rejected = browser.run("rejectExecutionStep")
    assert "errors" not in rejected, rejected
    outcome = rejected["data"]["rejectExecutionStep"]
    assert {key: outcome[key] for key in ("executionId", "stepId", "status")} == {**DEPLOY, "status": "rejected"}
    assert outcome["rejectedAt"]
    assert page.locator(".graphiql-response").get_by_text('"rejected"').count() >= 1

    backend = request.getfixturevalue("backend").name
    shot = screenshot(page, f"graphiql-{backend}.png", capsys)
    assert shot.stat().st_size > 10_000

    # The server recorded the decision the browser sent, by the token's principal.
    assert server.query("SELECT status, decided_by FROM execution_step WHERE id = ?", (DEPLOY["stepId"],)) == [
        ("rejected", "admin")
    ]
    # Every request went to the server itself, with the prefilled token on the GraphQL ones.
    assert browser.blocked == [], f"requests to other origins were attempted: {browser.blocked}"
    assert all(urlsplit(url).netloc == urlsplit(server.base_url).netloc for _, url, _ in browser.requests)
    posts = browser.graphql_posts()
    assert posts, "GraphiQL sent no request"
    assert all(headers.get("authorization") == f"Bearer {server.admin_token}" for headers in posts)
    assert browser.errors == []


def test_graphiql_subscribes_to_the_approval_queue_and_sees_another_clients_decision(
    browser: Browser, server: ServerProcess, capsys: pytest.CaptureFixture[str], request: pytest.FixtureRequest
) -> None:
    """▶ on a subscription opens a WebSocket to the page's own origin (graphql-transport-ws, the token of
    the headers editor in connection_init); a reject sent by another client over HTTP shows up as `removed`."""
    page = browser.page
    page.goto(server.graphql_url)
    page.locator(".graphiql-query-editor .CodeMirror").wait_for()

    browser.set_query(QUEUE, "Queue")
    page.get_by_role("button", name="Execute query (Ctrl-Enter)").click()
    first = browser.result("approvalQueue")
    assert "errors" not in first, first
    assert first["data"]["approvalQueue"]["kind"] == "snapshot"
    assert browser.sockets == [f"ws://{urlsplit(server.base_url).netloc}/graphql"]

    # Another client decides over HTTP while the page is subscribed.
    response = httpx.post(
        server.graphql_url,
        json={
            "query": HTTP_REJECT,
            "variables": {"input": {**DEPLOY, "rejectedBy": "admin", "reason": "Rejected by another client."}},
        },
        headers={"Authorization": f"Bearer {server.admin_token}"},
        timeout=30,
    )
    assert response.json() == {"data": {"rejectExecutionStep": {"status": "rejected"}}}, response.text

    page.wait_for_function(
        f"""step => {{
            const text = {RESULT_PANE}.getValue();
            return text.includes('"removed"') && text.includes(step);
        }}""",
        arg=DEPLOY["stepId"],
    )
    change = browser.result("approvalQueue")["data"]["approvalQueue"]
    assert change["kind"] == "removed"
    assert {key: change["item"][key] for key in ("executionId", "stepId")} == DEPLOY
    assert change["cursor"]
    backend = request.getfixturevalue("backend").name
    screenshot(page, f"graphiql-subscription-{backend}.png", capsys)

    # Stop (■) ends the subscription; the socket carried the token in connection_init, nothing went elsewhere.
    page.get_by_role("button", name="Stop query (Ctrl-Enter)").click()
    page.get_by_role("button", name="Execute query (Ctrl-Enter)").wait_for()
    init = [json.loads(frame) for frame in browser.frames_sent if '"connection_init"' in frame]
    assert init == [{"type": "connection_init", "payload": {"Authorization": f"Bearer {server.admin_token}"}}]
    subscribes = [json.loads(frame) for frame in browser.frames_sent if '"subscribe"' in frame]
    assert [message["payload"]["operationName"] for message in subscribes] == ["Queue"]
    assert browser.blocked == [], f"requests to other origins were attempted: {browser.blocked}"
    assert all(urlsplit(url).netloc == urlsplit(server.base_url).netloc for _, url, _ in browser.requests)
    assert browser.errors == []


def test_the_blocking_catches_a_request_to_another_origin(browser: Browser, server: ServerProcess) -> None:
    """The guard of the test above works: a fetch to another host is aborted and recorded, never sent."""
    browser.page.goto(f"{server.base_url}/healthz")
    outcome = browser.page.evaluate(
        "() => fetch('https://cdn.example.invalid/graphiql.js').then(() => 'sent', () => 'failed')"
    )
    assert outcome == "failed"
    assert browser.blocked == ["https://cdn.example.invalid/graphiql.js"]
