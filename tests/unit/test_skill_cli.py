"""python -m app skill keygen / sign / verify: the publisher's path to a signed manifest."""

from __future__ import annotations

import json
import stat

import pytest
from typer.testing import CliRunner

from app.__main__ import cli
from app.errors import ConfigurationError
from app.services.skills import verification as sv
from app.services.skills.registry import load_trust_policy, server_facts
from app.services.skills.trust import TrustPolicy
from tests.conftest import make_settings
from tests.skill_fixtures import NOW, policy_document, unsigned_manifest

runner = CliRunner()


def test_keygen_sign_verify(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(cli, ["skill", "keygen", "--out", "acme.pem"])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE((tmp_path / "acme.pem").stat().st_mode) == 0o600
    public = (tmp_path / "acme.pub.pem").read_text()
    assert runner.invoke(cli, ["skill", "keygen", "--out", "acme.pem"]).exit_code == 2  # no silent overwrite

    (tmp_path / "manifest.json").write_text(json.dumps(unsigned_manifest()))
    result = runner.invoke(
        cli, ["skill", "sign", "manifest.json", "--key", "acme.pem", "--key-id", "acme-1", "--expires-in-days", "30"]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    signature = document["signature"]
    assert (signature["algorithm"], signature["keyId"], signature["publicKey"]) == ("ed25519", "acme-1", public)
    assert signature["issuedAt"].endswith("Z")
    assert len(signature["issuedAt"]) == len("2026-01-01T00:00:00.000Z")

    trust = TrustPolicy.parse(json.dumps({"trustedPublishers": [{"id": "acme", "publicKeys": [public]}]}))
    report = sv.verify_manifest(
        document,
        skill_key="acme.summarize",
        version="1.2.0",
        artifact_digest=document["artifact"]["digest"],
        policy=trust,
        server=server_facts(),
        now=NOW,
    )
    assert report.verified, report.issues

    (tmp_path / "signed.json").write_text(json.dumps(document))
    monkeypatch.setenv(
        "SKILL_TRUST_POLICY", json.dumps({"trustedPublishers": [{"id": "acme", "publicKeys": [public]}]})
    )
    result = runner.invoke(cli, ["skill", "verify", "signed.json"])
    assert result.exit_code == 0, result.output
    assert "verified" in result.stdout
    monkeypatch.delenv("SKILL_TRUST_POLICY")
    result = runner.invoke(cli, ["skill", "verify", "signed.json"])
    assert result.exit_code == 1
    assert "PUBLISHER_UNTRUSTED" in result.stdout


def test_rsa_keys_and_bad_inputs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(cli, ["skill", "keygen", "--out", "k.pem", "--algorithm", "rsa-pss-sha256"]).exit_code == 0
    (tmp_path / "manifest.json").write_text(json.dumps(unsigned_manifest()))
    result = runner.invoke(cli, ["skill", "sign", "manifest.json", "--key", "k.pem", "--output", "out.json"])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "out.json").read_text())["signature"]["algorithm"] == "rsa-pss-sha256"
    assert runner.invoke(cli, ["skill", "keygen", "--out", "x.pem", "--algorithm", "dsa"]).exit_code == 2
    assert runner.invoke(cli, ["skill", "sign", "missing.json", "--key", "k.pem"]).exit_code == 2
    assert runner.invoke(cli, ["skill", "sign", "manifest.json", "--key", "manifest.json"]).exit_code == 2
    (tmp_path / "list.json").write_text("[]")
    assert runner.invoke(cli, ["skill", "sign", "list.json", "--key", "k.pem"]).exit_code == 2


def test_trust_policy_from_settings(tmp_path):
    document = json.dumps(policy_document())
    assert load_trust_policy(make_settings(tmp_path)) == TrustPolicy()
    from_env = load_trust_policy(make_settings(tmp_path, skill_trust_policy=document))
    assert [publisher.id for publisher in from_env.trusted_publishers] == ["acme"]
    (tmp_path / "trust.json").write_text(document)
    assert load_trust_policy(make_settings(tmp_path, skill_trust_policy_file=tmp_path / "trust.json")) == from_env
    for overrides, message in (
        ({"skill_trust_policy": document, "skill_trust_policy_file": tmp_path / "trust.json"}, "not both"),
        ({"skill_trust_policy_file": tmp_path / "missing.json"}, "cannot read"),
        ({"skill_trust_policy": '{"trustedPublishers": [{"id": "x"}]}'}, "must pin at least one public key"),
    ):
        with pytest.raises(ConfigurationError, match=message):
            load_trust_policy(make_settings(tmp_path, **overrides))
