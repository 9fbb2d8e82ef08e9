"""The operator console (/console) in a real browser: Debian's Chromium driven by Playwright opens the
pages of a real `python -m app serve` (started as tests/e2e/conftest.py does), with every request to
another origin blocked and recorded, host names other than the server's unresolvable, and every
WebSocket checked to go to the server itself. Two browser contexts are two operators: the
development admin (signed in by the page, as `make serve` prefills it) and dana, another admin who
pastes her token.

Each page is checked with axe-core (vendored for tests only: scripts/vendor_axe.py), injected by
the test as an init script (the page's own CSP would refuse it, as it should), for no serious or
critical violation; a screenshot of each page goes to test-artifacts/.

Without Chromium (or Playwright) the tests skip, saying why; REQUIRE_BROWSER=1 fails instead."""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import pytest

from app.services.kernel.canonical import canonical_bytes
from scripts.vendor_axe import script_path
from tests.e2e.conftest import Serve, ServerProcess, run_cli
from tests.e2e.test_browser import TIMEOUT_MS, chromium, screenshot

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Locator, Page, Playwright, Route, WebSocket

__all__ = ["chromium"]  # the fixture, shared with the GraphiQL test

pytestmark = pytest.mark.e2e

DROP_WITHIN_MS = 2_000
DEPLOY = ("exec-acme-deploy-42", "step-acme-deploy-42-3")
REFUND = ("exec-acme-refund-7", "step-acme-refund-7-2")
ROLLOUT = ("exec-acme-rollout-7", "step-acme-rollout-7-2")
BULK = (
    ("exec-globex-cleanup-3", "step-globex-cleanup-3-2"),
    ("exec-globex-migrate-9", "step-globex-migrate-9-2"),
    ("exec-initech-email-5", "step-initech-email-5-2"),
)
STALE = "This changed since you opened it."
PRODUCTION_SECRET = "console-production-test-secret-0123456789abcdef"


class Tab:
    """One console page on a fresh browser context (one operator); requests to any origin but the
    server's are aborted and recorded, and so are WebSockets to another origin."""

    def __init__(self, browser: Browser, origin: str) -> None:
        self.origin = origin
        self.blocked: list[str] = []
        self.requests: list[tuple[str, str, str | None]] = []  # (method, url, operation name)
        self.sockets: list[str] = []
        self.errors: list[str] = []
        context = browser.new_context(viewport={"width": 1440, "height": 900}, accept_downloads=True)
        context.set_default_timeout(TIMEOUT_MS)
        context.add_init_script(path=str(script_path()))  # axe-core, for the accessibility checks
        context.route("**/*", self._route)
        self.page: Page = context.new_page()
        self.page.on("request", self._request)
        self.page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        self.page.on("console", self._console)
        self.page.on("websocket", self._socket)

    def _request(self, request: Any) -> None:
        operation = None
        if request.method == "POST" and request.url.endswith("/graphql"):
            operation = (request.post_data_json or {}).get("operationName")
        self.requests.append((request.method, request.url, operation))

    def _socket(self, socket: WebSocket) -> None:
        self.sockets.append(socket.url)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text}")

    def _route(self, route: Route) -> None:
        parts = urlsplit(route.request.url)
        if f"{parts.scheme}://{parts.netloc}" == self.origin:
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort("blockedbyclient")

    def open(self, fragment: str = "#/inbox") -> None:
        self.page.goto(f"{self.origin}/console/{fragment}")
        self.page.get_by_test_id("viewer").wait_for()

    def go(self, fragment: str) -> None:
        self.page.evaluate("fragment => { window.location.hash = fragment; }", fragment)

    def row(self, step_id: str) -> Locator:
        return self.page.locator(f'table.inbox tbody tr[data-step-id="{step_id}"]')

    def operations(self) -> list[str | None]:
        return [operation for _, _, operation in self.requests if operation]

    def sign_in(self, token: str) -> None:
        """Another token than the development one: paste it."""
        self.page.get_by_role("button", name="Use another token").click()
        self.sign_in_form(token)

    def sign_in_form(self, token: str) -> None:
        self.page.get_by_label("Bearer token").fill(token)
        self.page.get_by_role("button", name="Sign in").click()

    def axe(self, name: str) -> None:
        """No serious or critical violation of axe-core's rules on the page as it is now."""
        result = self.page.evaluate("() => axe.run(document, { resultTypes: ['violations'] })")
        bad = [
            f"{violation['id']} ({violation['impact']}): {violation['help']} at "
            + ", ".join(str(node["target"]) for node in violation["nodes"][:3])
            for violation in result["violations"]
            if violation["impact"] in ("serious", "critical")
        ]
        assert bad == [], f"{name}: {bad}"

    def assert_clean(self, *, live: bool = True) -> None:
        """Nothing left the server's origin, no error was logged; `live`: the inbox's WebSocket was opened."""
        assert self.blocked == [], f"requests to other origins were attempted: {self.blocked}"
        netloc = urlsplit(self.origin).netloc
        assert all(urlsplit(url).netloc == netloc for _, url, _ in self.requests), self.requests
        assert bool(self.sockets) == live, f"WebSockets: {self.sockets}"
        assert all(url == f"ws://{netloc}/graphql" for url in self.sockets), self.sockets
        assert self.errors == [], self.errors


@pytest.fixture
def playwright(chromium: str, serve: Serve) -> Iterator[Playwright]:
    """Started after the test's database (its async fixtures need no running loop; Playwright's runs one)."""
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - optional: the tests skip without it

    with sync_playwright() as instance:
        yield instance


@pytest.fixture
def browser(playwright: Playwright, chromium: str) -> Iterator[Browser]:
    # Nothing but the loopback address resolves: a WebSocket or fetch to any host name fails.
    instance = playwright.chromium.launch(
        executable_path=chromium, headless=True, args=["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]
    )
    yield instance
    instance.close()


@pytest.fixture
def admin(browser: Browser, server: ServerProcess) -> Tab:
    return Tab(browser, server.base_url)


@pytest.fixture
def dana_token(server: ServerProcess) -> str:
    result = run_cli("token", "--sub", "dana", "--role", "admin", "--workspace", "*", env=server.env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture
def dana(browser: Browser, server: ServerProcess, dana_token: str) -> Tab:
    """Another admin, in a context of her own: the page signs in as the development admin, she pastes her token."""
    tab = Tab(browser, server.base_url)
    tab.open()
    tab.sign_in(dana_token)
    tab.page.get_by_test_id("viewer-principal").filter(has_text="dana").wait_for()
    return tab


def awaiting(server: ServerProcess) -> set[str]:
    rows = server.query("SELECT id FROM execution_step WHERE status = 'awaiting_approval'")
    return {str(row[0]) for row in rows}


def shot(tab: Tab, name: str, request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]) -> None:
    backend = request.getfixturevalue("backend").name
    path: Path = screenshot(tab.page, f"console-{name}-{backend}.png", capsys)
    assert path.stat().st_size > 10_000


def filters_and_keys(admin: Tab, seeded: set[str]) -> None:
    """The inbox's filters narrow the live list; the keyboard alone moves, selects and unselects."""
    page = admin.page
    rows = page.locator("table.inbox tbody tr")
    # Filters: the workspace, then "decidable by me" (admin holds no 'security' or 'ciso' role).
    page.get_by_label("Workspace").select_option("ws-globex")
    page.get_by_test_id("inbox-status").filter(has_text="Live: 2 steps").wait_for()
    page.get_by_label("Workspace").select_option("")
    page.get_by_label("Decidable by me").check()
    page.get_by_test_id("inbox-status").filter(has_text=f"Live: {len(seeded) - 1} steps").wait_for()
    assert admin.row("step-acme-revoke-2-1").count() == 0
    page.get_by_label("Decidable by me").uncheck()
    page.get_by_test_id("inbox-status").filter(has_text=f"Live: {len(seeded)} steps").wait_for()

    # Keyboard only: Tab reaches the rows, arrows move, Enter opens the review.
    rows.first.focus()
    page.keyboard.press("ArrowDown")
    second = rows.nth(1).get_attribute("data-step-id")
    assert page.evaluate("() => document.activeElement.dataset.stepId") == second
    page.keyboard.press("x")
    assert rows.nth(1).locator("input.select-step").is_checked()
    page.get_by_test_id("bulk-count").filter(has_text="1 selected").wait_for()
    page.keyboard.press("x")
    page.get_by_test_id("bulk-count").filter(has_text="0 selected").wait_for()
    page.keyboard.press("Enter")
    page.get_by_test_id("review-digest").wait_for()
    assert page.url.endswith(f"/{second}")
    page.go_back()
    page.get_by_test_id("inbox-status").filter(has_text=f"Live: {len(seeded)} steps").wait_for()


def test_the_inbox_lists_the_seeded_approvals_and_drops_one_decided_elsewhere(
    admin: Tab,
    browser: Browser,
    server: ServerProcess,
    dana_token: str,
    request: pytest.FixtureRequest,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seeded = awaiting(server)
    assert len(seeded) >= 5, seeded
    admin.open()
    page = admin.page
    assert page.title() == "Control plane · Operator console"
    assert page.get_by_test_id("viewer-principal").inner_text() == "admin"
    rows = page.locator("table.inbox tbody tr")
    page.get_by_test_id("inbox-status").filter(has_text=f"Live: {len(seeded)} steps").wait_for()
    assert {rows.nth(index).get_attribute("data-step-id") for index in range(rows.count())} == seeded
    # Quorum progress of the half-approved rollout, and the countdown of the escalated revocation.
    assert admin.row(ROLLOUT[1]).get_by_test_id("quorum").inner_text().startswith("1 of 2")
    assert admin.row("step-acme-revoke-2-1").locator(".deadline").inner_text().startswith(("in ", "overdue by "))

    filters_and_keys(admin, seeded)
    admin.axe("inbox")
    shot(admin, "inbox", request, capsys)

    # The escalated revocation waits for the CISO's office: the review says why the admin cannot decide.
    admin.go("#/review/exec-acme-revoke-2/step-acme-revoke-2-1")
    reasons = page.get_by_test_id("cannot-decide")
    reasons.wait_for()
    assert reasons.locator("li").count() >= 1
    assert page.get_by_role("button", name="Approve", exact=True).count() == 0
    admin.go("#/inbox")
    page.get_by_test_id("inbox-status").filter(has_text=f"Live: {len(seeded)} steps").wait_for()

    # Another admin, in her own context, signs in by pasting her token and approves the deploy step.
    dana = Tab(browser, server.base_url)
    dana.open()
    dana.page.get_by_role("button", name="Use another token").click()
    dana.page.get_by_label("Bearer token").wait_for()
    dana.axe("sign-in")
    shot(dana, "sign-in", request, capsys)
    dana.page.get_by_label("Bearer token").fill("not-a-token")
    dana.page.get_by_role("button", name="Sign in").click()
    dana.page.get_by_role("alert").filter(has_text="That token was refused").wait_for()
    dana.page.get_by_label("Bearer token").fill(dana_token)
    dana.page.get_by_role("button", name="Sign in").click()
    dana.page.get_by_test_id("viewer-principal").filter(has_text="dana").wait_for()
    dana.go(f"#/review/{DEPLOY[0]}/{DEPLOY[1]}")
    approve = dana.page.get_by_role("button", name="Approve", exact=True)
    approve.wait_for()
    decided = time.monotonic()  # from the click: the answer to dana and the change to the admin race
    approve.click()

    # The first operator's inbox drops it live, without a reload.
    from playwright.sync_api import expect  # noqa: PLC0415 - optional dependency

    expect(admin.row(DEPLOY[1])).to_have_count(0, timeout=DROP_WITHIN_MS)
    dropped_ms = (time.monotonic() - decided) * 1000
    assert dropped_ms < DROP_WITHIN_MS
    with capsys.disabled():
        print(f"\n  the inbox dropped the step {dropped_ms:.0f} ms after the other context's click")  # noqa: T201
    dana.page.get_by_test_id("outcome").get_by_text("Approved at").wait_for()
    page.get_by_test_id("inbox-status").filter(has_text=f"Live: {len(seeded) - 1} steps").wait_for()
    assert server.query("SELECT status, decided_by FROM execution_step WHERE id = ?", (DEPLOY[1],)) == [
        ("approved", "dana")
    ]
    assert "ApprovalQueue" not in admin.operations(), "the inbox is live over the WebSocket, not polled"
    admin.assert_clean()
    dana.assert_clean()


def conflict_names_who_decided(admin: Tab, server: ServerProcess, dana_token: str) -> None:
    page = admin.page
    # A conflict names who decided and when: dana approves the refund while the admin reviews it.
    admin.go(f"#/review/{REFUND[0]}/{REFUND[1]}")
    page.get_by_role("heading", name="Review: payment.refund").wait_for()
    answer = httpx.post(
        server.graphql_url,
        headers={"Authorization": f"Bearer {dana_token}"},
        json={
            "query": "mutation($i: ControlPlaneExecutionApproveInput!) { approveExecutionStep(input: $i) { status } }",
            "variables": {"i": {"executionId": REFUND[0], "stepId": REFUND[1], "approvedBy": "dana"}},
        },
        timeout=30,
    ).json()
    assert answer["data"]["approveExecutionStep"]["status"] == "approved", answer
    page.get_by_label("Reason for rejecting (required)").fill("Duplicate of another refund.")
    page.get_by_role("button", name="Reject", exact=True).click()
    conflict = page.get_by_test_id("conflict")
    conflict.wait_for()
    decided_at = server.query("SELECT decided_at FROM execution_step WHERE id = ?", (REFUND[1],))[0][0]
    assert re.search(r"Already approved by dana at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d", conflict.inner_text())
    assert str(decided_at)[:16].replace("T", " ") in conflict.inner_text()


def reject_needs_a_reason(admin: Tab) -> None:
    page = admin.page
    # Reject without a reason is impossible: the button stays disabled, also for blanks, and even a
    # forced click sends nothing.
    reject = page.get_by_role("button", name="Reject", exact=True)
    assert reject.is_disabled()
    page.get_by_label("Reason for rejecting (required)").fill("   ")
    assert reject.is_disabled()
    reject.click(force=True)
    page.wait_for_timeout(300)
    assert "RejectStep" not in admin.operations()
    page.get_by_label("Reason for rejecting (required)").fill("Not before the freeze ends.")
    assert reject.is_enabled()
    page.get_by_label("Reason for rejecting (required)").fill("")
    assert reject.is_disabled()


def test_reject_needs_a_reason_and_stale_or_decided_reviews_are_refused(
    admin: Tab,
    dana: Tab,
    server: ServerProcess,
    dana_token: str,
    request: pytest.FixtureRequest,
    capsys: pytest.CaptureFixture[str],
) -> None:
    page = admin.page
    admin.open(f"#/review/{ROLLOUT[0]}/{ROLLOUT[1]}")
    page.get_by_role("heading", name="Review: rollout.production-regions").wait_for()
    shown_digest = page.get_by_test_id("review-digest").inner_text()
    assert page.get_by_test_id("review-quorum").inner_text() == "1 of 2"
    assert "Roll out the new checkout flow" in page.get_by_test_id("intent").inner_text()
    assert "erin" in page.locator("table.votes").inner_text()

    reject_needs_a_reason(admin)
    admin.axe("review")
    shot(admin, "review", request, capsys)

    # dana edits the rollout (the rule allows edits): the diff is shown before she approves.
    dana.go(f"#/review/{ROLLOUT[0]}/{ROLLOUT[1]}")
    editor = dana.page.get_by_label("Input (JSON, editable)")
    edited = {"regions": ["eu-west-1"], "percent": 10}
    editor.fill(json.dumps(edited, indent=2))
    diff = dana.page.get_by_test_id("diff")
    diff.wait_for()
    assert '+   "percent": 10' in diff.inner_text()
    assert '-   "percent": 100' in diff.inner_text()
    dana.axe("review with an edit")
    shot(dana, "review-edit", request, capsys)
    dana.page.get_by_role("button", name="Approve with these changes").click()
    dana.page.get_by_test_id("outcome").get_by_text("Your approval is recorded: 1 of 2").wait_for()

    # The admin's page hears of it at once (the events subscription) and still shows the old request:
    # approving it anyway is refused by the server, nothing is decided.
    changed = page.get_by_test_id("changed")
    changed.wait_for(timeout=DROP_WITHIN_MS * 5)
    assert STALE in changed.inner_text()
    assert "by dana" in changed.inner_text()
    page.get_by_role("button", name="Approve", exact=True).click()
    stale = page.get_by_test_id("stale")
    stale.wait_for()
    assert STALE in stale.inner_text()
    assert page.get_by_role("button", name="Approve", exact=True).is_disabled()
    votes = server.query("SELECT actor FROM approval_vote WHERE step_id = ? ORDER BY decided_at", (ROLLOUT[1],))
    assert [row[0] for row in votes][-1] == "dana"
    assert "admin" not in [row[0] for row in votes]
    shot(admin, "review-stale", request, capsys)
    page.get_by_role("button", name="Review it again").click()
    page.get_by_test_id("review-digest").filter(has_not_text=shown_digest).wait_for()
    assert json.loads(page.get_by_label("Input (JSON, editable)").input_value()) == edited

    conflict_names_who_decided(admin, server, dana_token)
    admin.assert_clean()
    dana.assert_clean()


def test_bulk_approve_of_three_and_the_execution_timeline(
    admin: Tab,
    browser: Browser,
    server: ServerProcess,
    request: pytest.FixtureRequest,
    capsys: pytest.CaptureFixture[str],
) -> None:
    execution_id, step_id = BULK[0]
    # The execution page is open in another tab before the decision: it follows the events live.
    watcher = Tab(browser, server.base_url)
    watcher.open(f"#/execution/{execution_id}")
    watcher.page.get_by_test_id("timeline").wait_for()
    assert watcher.page.locator('[data-testid="timeline"] li[data-stage="step.approved"]').count() == 0

    page = admin.page
    admin.open()
    for _, selected in BULK:
        admin.row(selected).locator("input.select-step").check()
    page.get_by_test_id("bulk-count").filter(has_text="3 selected").wait_for()
    page.get_by_label("Note for approvals (optional)").fill("Cleared in one go.")
    assert page.get_by_role("button", name="Reject selected").is_disabled(), "no reason typed"
    page.get_by_role("button", name="Approve selected").click()
    results = page.get_by_test_id("bulk-results").locator("li")
    results.first.wait_for()
    assert results.count() == 3
    texts = [results.nth(index).inner_text() for index in range(3)]
    assert all(text.endswith(": approved") for text in texts), texts
    assert [results.nth(index).get_attribute("data-step-id") for index in range(3)] == [s for _, s in BULK]
    from playwright.sync_api import expect  # noqa: PLC0415 - optional dependency

    for _, decided in BULK:
        expect(admin.row(decided)).to_have_count(0, timeout=DROP_WITHIN_MS * 5)
    assert admin.operations().count("DecideSteps") == 1, "one request for the three"
    assert server.query(
        "SELECT id, status, decided_by FROM execution_step WHERE id IN (?, ?, ?) ORDER BY id", [s for _, s in BULK]
    ) == sorted((decided, "approved", "admin") for _, decided in BULK)
    admin.axe("inbox after a bulk approval")
    shot(admin, "bulk", request, capsys)

    # The execution page: status, steps, lane, the decision on the timeline (arrived live), evidence.
    page = watcher.page
    timeline = page.get_by_test_id("timeline")
    decision = timeline.locator('li[data-stage="step.approved"]')
    decision.wait_for(timeout=DROP_WITHIN_MS * 5)
    page.get_by_test_id("execution-live").filter(has_text="Updated live").wait_for()
    assert decision.count() == 1
    assert "by admin" in decision.inner_text()
    assert step_id in decision.inner_text()
    assert "Cleared in one go." in page.locator("table.steps").inner_text()
    page.get_by_role("button", name="Export a new evidence bundle").click()
    digest = page.get_by_test_id("bundle-digest").first
    digest.wait_for()
    shown = digest.inner_text()
    with page.expect_download() as download_info:
        page.get_by_role("button", name=re.compile(r"^Download .+\.json$")).first.click()
    downloaded = Path(download_info.value.path())
    bundle = json.loads(downloaded.read_text(encoding="utf-8"))
    assert shown == "sha256:" + hashlib.sha256(canonical_bytes(bundle)).hexdigest(), "the digest shown is the bundle's"
    watcher.axe("execution")
    shot(watcher, "execution", request, capsys)
    admin.assert_clean()
    watcher.assert_clean()


def test_in_production_the_console_asks_for_a_token(
    browser: Browser,
    serve: Serve,
    cli_env: dict[str, str],
    request: pytest.FixtureRequest,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = serve(APP_ENV="production", JWT_SECRET=PRODUCTION_SECRET)
    minted = run_cli(
        "token",
        "--sub",
        "dana",
        "--role",
        "admin",
        "--workspace",
        "*",
        env={**cli_env, "JWT_SECRET": PRODUCTION_SECRET},
    )
    assert minted.returncode == 0, minted.stderr
    tab = Tab(browser, server.base_url)
    page = tab.page
    page.goto(f"{server.base_url}/console/")
    page.get_by_role("heading", name="Sign in").wait_for()
    assert page.evaluate("() => JSON.parse(document.getElementById('console-config').textContent).token") is None
    tab.sign_in_form(minted.stdout.strip())
    page.get_by_test_id("viewer-principal").filter(has_text="dana").wait_for()
    page.get_by_text("Nothing awaits a decision here.").wait_for()  # production does not seed
    tab.axe("empty inbox")
    shot(tab, "production-empty-inbox", request, capsys)
    tab.assert_clean()
