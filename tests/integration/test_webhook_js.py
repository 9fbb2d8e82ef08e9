"""A JavaScript receiver verifies a real delivery: the `standardwebhooks` npm package (vendored under
tests/vendor/npm, unpacked into a temporary node_modules: no network) run by `node`, on the request the
dispatcher sent to the local receiver. Skipped where node is not installed."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from app.services.webhooks.dispatcher import Dispatcher
from app.settings import Settings
from tests.conftest import make_settings
from tests.integration.test_webhooks import LOCAL, Clock, create, submit
from tests.webhook_receiver import running_receiver

VENDOR = Path(__file__).resolve().parents[1] / "vendor" / "npm"
PACKAGES = {
    "standardwebhooks-1.1.1.tgz": "standardwebhooks",
    "stablelib-base64-1.0.1.tgz": "@stablelib/base64",
    "fast-sha256-1.3.0.tgz": "fast-sha256",
}
VERIFY = """
const { Webhook } = require("standardwebhooks");
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
const results = input.secrets.map((secret) => {
  try {
    return { ok: true, payload: new Webhook(secret).verify(input.body, input.headers) };
  } catch (error) {
    return { ok: false, error: String(error.message || error) };
  }
});
process.stdout.write(JSON.stringify(results));
"""


def node_modules(root: Path) -> Path:
    modules = root / "node_modules"
    for tarball, name in PACKAGES.items():
        target = modules / name
        target.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(VENDOR / tarball) as archive:
            archive.extractall(root / "unpacked" / name, filter="data")
        shutil.move(root / "unpacked" / name / "package", target)
    return modules


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url, webhook_allow_http=True, webhook_allow_private_networks=True)


@pytest.fixture
def node() -> str:
    found = shutil.which("node")
    if found is None:
        pytest.skip("node is not installed")
    return found


async def test_the_npm_standardwebhooks_package_verifies_a_real_delivery(execute, database, tmp_path, node):
    node_modules(tmp_path)
    (tmp_path / "verify.js").write_text(VERIFY)
    with running_receiver() as receiver:
        created = await create(execute, receiver.url("/js"))
        await submit(execute, "Ship release 43.")
        dispatcher = Dispatcher(database.unit_of_work, targets=LOCAL, clock=Clock())
        try:
            await dispatcher.run_once()
        finally:
            await dispatcher.aclose()
        (request,) = receiver.received("/js")
    wrong = "whsec_" + "A" * 43 + "="
    stdin = json.dumps(
        {"secrets": [created["secret"], wrong], "body": request.body.decode(), "headers": request.headers}
    )
    result = await asyncio.to_thread(
        subprocess.run,
        [node, str(tmp_path / "verify.js")],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    good, bad = json.loads(result.stdout)
    assert good["ok"], good
    assert good["payload"]["type"] == "controlPlane.intent.received"
    assert not bad["ok"]
    assert "signature" in bad["error"].lower()
