"""The skill registry through GraphQL: skillVerification, installSkill, disableSkill, skills."""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path
from typing import Any

import pytest
from gql.transport.exceptions import TransportQueryError
from sqlalchemy import select

from app.db.tables import skill_table
from app.services.skills.signing import manifest_digest
from app.settings import Settings
from app.testing.documents import DISABLE_SKILL, INSTALL_SKILL, SKILL_VERIFICATION, SKILLS
from tests.conftest import first_error, make_settings, snapshot
from tests.integration.helpers import contract, events, failing, fetch, instant
from tests.skill_fixtures import (
    ARTIFACT_DIGEST,
    SKILL_KEY,
    VERSION,
    policy_document,
    signed,
    unsigned_manifest,
    vectors,
)

INSTALL_CONTRACT = contract("controlPlane.skill.install")
DISABLE_CONTRACT = contract("controlPlane.skill.disable")
VERIFY_CONTRACT = contract("controlPlane.skill.verify")
LIST_CONTRACT = contract("controlPlane.skill.list")
NODE_VECTORS = {vector["name"]: vector for vector in vectors()["signed"]}
NODE_VECTOR = NODE_VECTORS["ed25519"]


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """The server trusts publisher `acme` with the test keys and the key of the Node vectors."""
    trust = policy_document(public_keys=[NODE_VECTOR["publicKeyPem"], NODE_VECTORS["rsa-pss-sha256"]["publicKeyPem"]])
    return make_settings(tmp_path, database_url, skill_trust_policy=json.dumps(trust))


def manifest_of(version: str = VERSION, **changes: Any) -> dict[str, Any]:
    unsigned = unsigned_manifest(version=version)
    unsigned["skill"].update(changes)
    return signed(unsigned)


def install_input(manifest: dict[str, Any] | None = None, **overrides: Any) -> dict[str, Any]:
    manifest = manifest if manifest is not None else manifest_of()
    values = {
        "skillKey": manifest["skill"]["key"],
        "version": manifest["skill"]["version"],
        "artifactDigest": manifest["artifact"]["digest"],
        "manifest": manifest,
    }
    values.update(overrides)
    return {"input": values}


async def skill_rows(database) -> list[Any]:
    return await fetch(database, select(skill_table).order_by(skill_table.c.version))


async def skill_events(database) -> list[Any]:
    return [row for row in await events(database) if row["event_key"].startswith("controlPlane.skill.")]


# --- skillVerification ----------------------------------------------------------------------------


async def test_verification_of_a_good_manifest_changes_nothing(execute, database):
    manifest = manifest_of()
    before = await snapshot(database)
    result = (await execute(SKILL_VERIFICATION, install_input(manifest)))["skillVerification"]
    assert result["verified"] is True
    assert (result["signatureVerified"], result["publisherTrusted"], result["compatibilityVerified"]) == (
        True,
        True,
        True,
    )
    assert result["issues"] == []
    assert result["reason"] is None
    assert result["manifestDigest"] == manifest_digest(manifest)
    instant(result["verifiedAt"])
    assert await snapshot(database) == before


async def test_verification_reports_every_issue_at_once(execute, database):
    unsigned = unsigned_manifest()
    unsigned["schemaVersion"] = "0.9.0"
    unsigned["compatibility"]["requiredCapabilities"].append({"key": "control-plane.teleport", "version": "1.0.0"})
    manifest = signed(unsigned, key="mallory", expires_at="2020-01-01T00:00:00Z", issued_at=None)
    manifest["skill"]["description"] = "tampered"
    before = await snapshot(database)
    variables = install_input(manifest, artifactDigest="sha256:" + "00" * 32)
    result = (await execute(SKILL_VERIFICATION, variables))["skillVerification"]
    assert result["verified"] is False
    assert [issue["code"] for issue in result["issues"]] == [
        "SCHEMA_VERSION_INVALID",
        "ARTIFACT_DIGEST_MISMATCH",
        "CAPABILITY_MISSING",
        "SIGNATURE_INVALID",
        "SIGNATURE_EXPIRED",
        "KEY_UNTRUSTED",
    ]
    assert result["reason"].startswith("Verification failed with 6 issue(s)")
    assert await snapshot(database) == before


async def test_a_manifest_signed_by_node_installs_through_graphql(execute, database):
    """Tricky metadata keys travel through the JSON scalar, the explicit null description is kept."""
    manifest = copy.deepcopy(NODE_VECTOR["manifest"])
    assert manifest["skill"]["description"] is None
    result = (await execute(INSTALL_SKILL, install_input(manifest)))["installSkill"]
    assert result["status"] == "installed", result["issues"]
    assert result["manifestDigest"] == NODE_VECTOR["manifestDigest"]
    (row,) = await skill_rows(database)
    assert row["manifest"] == manifest
    assert row["key_id"] == "acme-ed25519-2026"


@pytest.mark.parametrize("name", ["ed25519-unicode", "rsa-pss-sha256-unicode"])
async def test_a_node_signed_manifest_with_keys_of_every_script_installs(http, token, database, name):
    """Accented, German, Greek, Cyrillic, CJK, emoji keys (and keys equal under localeCompare, in their
    order; lone surrogates, sent escaped as JSON.stringify writes them): ordered here as Node ordered
    them; the signature times are stored as they were written."""
    vector = NODE_VECTORS[name]
    manifest = copy.deepcopy(vector["manifest"])
    body = json.dumps({"query": INSTALL_SKILL, "variables": install_input(manifest)})  # ASCII: \ud800 escaped
    async with http({"Authorization": f"Bearer {token()}", "Content-Type": "application/json"}) as client:
        response = await client.post("/graphql", content=body)
    assert response.status_code == 200, response.text
    assert "errors" not in response.json(), response.json()["errors"]
    result = response.json()["data"]["installSkill"]
    assert result["status"] == "installed", result["issues"]
    assert result["manifestDigest"] == vector["manifestDigest"]
    (row,) = await skill_rows(database)
    assert row["manifest"] == manifest
    # (PostgreSQL's jsonb does not keep key order: the stored digest, not the stored document, keeps the
    # order of keys equal under localeCompare, which is insertion order)
    assert row["manifest"]["signature"]["issuedAt"] == vector["manifest"]["signature"]["issuedAt"]
    assert row["manifest_digest"] == vector["manifestDigest"]


async def test_signature_times_are_datetimes_kept_as_written(execute, database):
    manifest = signed(issued_at="2026-01-01T01:00:00.5+01:00", expires_at="2099-01-01T00:00:00Z")
    result = (await execute(INSTALL_SKILL, install_input(manifest)))["installSkill"]
    assert result["status"] == "installed", result["issues"]
    (row,) = await skill_rows(database)
    assert row["manifest"]["signature"]["issuedAt"] == "2026-01-01T01:00:00.5+01:00"
    assert row["manifest"]["signature"]["expiresAt"] == "2099-01-01T00:00:00Z"

    not_a_time = signed(expires_at="next year")
    error = await failing(execute, database, INSTALL_SKILL, install_input(not_a_time))
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "DateTime" in error["message"]

    without_offset = signed(unsigned_manifest(version="1.3.0"), expires_at="2099-01-01T00:00:00")
    report = (await execute(SKILL_VERIFICATION, install_input(without_offset)))["skillVerification"]
    assert [issue["code"] for issue in report["issues"]] == ["MANIFEST_INVALID"]
    assert "UTC offset" in report["issues"][0]["message"]


async def test_compatibility_is_required_and_a_capability_version_is_not(execute, database):
    unsigned = unsigned_manifest()
    del unsigned["compatibility"]
    error = await failing(execute, database, INSTALL_SKILL, install_input(signed(unsigned)))
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "compatibility" in error["message"]

    unsigned = unsigned_manifest()
    unsigned["compatibility"]["requiredCapabilities"] = [{"key": "control-plane.core"}]
    result = (await execute(INSTALL_SKILL, install_input(signed(unsigned))))["installSkill"]
    assert result["status"] == "installed", result["issues"]
    (row,) = await skill_rows(database)
    assert row["manifest"]["compatibility"]["requiredCapabilities"] == [{"key": "control-plane.core"}]


# --- installSkill ---------------------------------------------------------------------------------


async def test_install_stores_the_skill_and_records_the_event(execute, database, token):
    manifest = manifest_of()
    result = (await execute(INSTALL_SKILL, {"input": {**install_input(manifest)["input"], "metadata": {"ticket": 7}}}))[
        "installSkill"
    ]
    assert result["status"] == "installed"
    assert result["verified"] is True
    assert result["issues"] == []
    assert result["provenance"] == manifest["publisher"]["provenance"]
    assert result["manifestDigest"] == manifest_digest(manifest)
    installed_at = instant(result["installedAt"])
    (row,) = await skill_rows(database)
    assert row["id"] == result["installationId"]
    assert (row["skill_key"], row["version"], row["status"]) == (SKILL_KEY, VERSION, "installed")
    assert (row["publisher"], row["installed_by"], row["installed_at"]) == ("acme", "dana", installed_at)
    assert row["manifest"] == manifest
    assert row["artifact_digest"] == ARTIFACT_DIGEST
    assert row["install_metadata"] == {"ticket": 7}
    (event,) = await skill_events(database)
    assert event["event_key"] == "controlPlane.skill.installed"
    assert event["actor"] == "dana"
    assert event["payload"] == {
        "installationId": result["installationId"],
        "skillKey": SKILL_KEY,
        "version": VERSION,
        "installedAt": event["payload"]["installedAt"],
        "publisher": "acme",
        "provenance": manifest["publisher"]["provenance"],
        "manifestDigest": result["manifestDigest"],
    }
    assert instant(event["payload"]["installedAt"].replace("Z", "+00:00")) == installed_at


async def test_installing_the_same_manifest_again_is_idempotent(execute, database):
    manifest = manifest_of()
    first = (await execute(INSTALL_SKILL, install_input(manifest)))["installSkill"]
    before = await snapshot(database)
    again = (await execute(INSTALL_SKILL, install_input(manifest)))["installSkill"]
    assert again == first
    resigned = signed(unsigned_manifest(), issued_at="2026-02-01T00:00:00Z")  # same digest, new signature
    assert (await execute(INSTALL_SKILL, install_input(resigned)))["installSkill"] == first
    assert await snapshot(database) == before


async def test_another_manifest_for_the_same_version_is_a_conflict(execute, database):
    await execute(INSTALL_SKILL, install_input(manifest_of()))
    other = manifest_of(entryPoint="dist/other.js")
    error = await failing(execute, database, INSTALL_SKILL, install_input(other), expect_contract=INSTALL_CONTRACT)
    assert error["extensions"]["code"] == "CONFLICT"
    assert error["extensions"]["currentStatus"] == "installed"
    assert "already installed" in error["message"]


async def test_a_rejected_install_records_why_and_installs_nothing(execute, database):
    manifest = manifest_of()
    del manifest["signature"]
    result = (await execute(INSTALL_SKILL, install_input(manifest)))["installSkill"]
    assert result["status"] == "rejected"
    assert result["verified"] is False
    assert [issue["code"] for issue in result["issues"]] == ["SIGNATURE_MISSING"]
    assert result["installationId"].startswith("skr_")
    assert await skill_rows(database) == []
    (event,) = await skill_events(database)
    assert event["event_key"] == "controlPlane.skill.rejected"
    assert event["actor"] == "dana"
    payload = event["payload"]
    assert (payload["skillKey"], payload["version"]) == (SKILL_KEY, VERSION)
    assert payload["issues"] == [{"code": "SIGNATURE_MISSING", "message": "The manifest is not signed."}]
    assert payload["manifestDigest"] == manifest_digest(manifest)
    assert payload["reason"].startswith("Verification failed with 1 issue(s): SIGNATURE_MISSING")


async def test_a_tampered_manifest_is_rejected_even_when_that_version_is_installed(execute, database):
    manifest = manifest_of()
    await execute(INSTALL_SKILL, install_input(manifest))
    tampered = copy.deepcopy(manifest)
    tampered["artifact"]["files"][0]["size"] += 1
    result = (await execute(INSTALL_SKILL, install_input(tampered)))["installSkill"]
    assert result["status"] == "rejected"
    assert [issue["code"] for issue in result["issues"]] == ["SIGNATURE_INVALID"]
    (row,) = await skill_rows(database)
    assert row["manifest"] == manifest


async def test_untrusted_publisher_is_rejected(execute, database):
    unsigned = unsigned_manifest()
    unsigned["publisher"]["id"] = "mallory"
    result = (await execute(INSTALL_SKILL, install_input(signed(unsigned, key="mallory"))))["installSkill"]
    assert [issue["code"] for issue in result["issues"]] == ["PUBLISHER_UNTRUSTED"]
    assert result["publisherTrusted"] is False
    assert result["signatureVerified"] is True


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"skillKey": "  "}, "skillKey"),
        ({"version": ""}, "version"),
        ({"artifactDigest": "x" * 201}, "artifactDigest"),
    ],
)
async def test_bad_input_is_refused_before_verification(execute, database, change, field):
    error = await failing(
        execute,
        database,
        INSTALL_SKILL,
        {"input": {**install_input()["input"], **change}},
        expect_contract=INSTALL_CONTRACT,
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert field in error["extensions"]["fields"]


async def test_a_manifest_without_its_typed_parts_is_a_graphql_error(execute, database):
    manifest = manifest_of()
    del manifest["publisher"]
    error = await failing(execute, database, INSTALL_SKILL, install_input(manifest))
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    manifest = manifest_of()
    manifest["skill"]["license"] = "MIT"
    error = await failing(execute, database, INSTALL_SKILL, install_input(manifest))
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


# --- disableSkill and skills ----------------------------------------------------------------------


async def test_disable_one_version_and_list(execute, database):
    first = (await execute(INSTALL_SKILL, install_input(manifest_of("1.2.0"))))["installSkill"]
    second = (await execute(INSTALL_SKILL, install_input(manifest_of("1.3.0"))))["installSkill"]
    listed = (await execute(SKILLS, {"input": {}}))["skills"]
    assert listed["total"] == 2
    assert {item["installationId"] for item in listed["items"]} == {first["installationId"], second["installationId"]}

    variables = {"input": {"skillKey": SKILL_KEY, "version": "1.2.0", "disabledBy": "dana", "reason": "CVE-2026-1"}}
    disabled = (await execute(DISABLE_SKILL, variables))["disableSkill"]
    assert (disabled["skillKey"], disabled["version"], disabled["status"]) == (SKILL_KEY, "1.2.0", "disabled")
    before = await snapshot(database)
    assert (await execute(DISABLE_SKILL, variables))["disableSkill"] == disabled  # repeated: original time, no change
    assert await snapshot(database) == before

    active = (await execute(SKILLS, {"input": {}}))["skills"]
    assert active["total"] == 1
    assert [item["version"] for item in active["items"]] == ["1.3.0"]
    everything = (await execute(SKILLS, {"input": {"includeDisabled": True}}))["skills"]
    assert everything["total"] == 2
    old = next(item for item in everything["items"] if item["version"] == "1.2.0")
    assert (old["status"], old["disabledBy"], old["disabledReason"]) == ("disabled", "dana", "CVE-2026-1")
    assert old["disabledAt"] == disabled["disabledAt"]
    assert (old["entryPoint"], old["description"], old["publisher"]) == ("dist/index.js", "Summarize text.", "acme")
    assert (old["signatureAlgorithm"], old["keyId"], old["installedBy"]) == ("ed25519", "acme-2026", "dana")
    assert (old["verified"], old["provenance"]) == (True, unsigned_manifest()["publisher"]["provenance"])
    assert old["installedAt"] == first["installedAt"]
    assert all(item["verified"] is True for item in everything["items"])


async def test_disable_every_version_then_install_again(execute, database):
    for version in ("1.2.0", "1.3.0"):
        await execute(INSTALL_SKILL, install_input(manifest_of(version)))
    disabled = (await execute(DISABLE_SKILL, {"input": {"skillKey": SKILL_KEY, "disabledBy": "dana"}}))["disableSkill"]
    assert (disabled["version"], disabled["status"]) == (None, "disabled")
    assert {row["status"] for row in await skill_rows(database)} == {"disabled"}
    assert (await execute(SKILLS, {"input": {}}))["skills"] == {"total": 0, "items": []}

    again = (await execute(INSTALL_SKILL, install_input(manifest_of("1.2.0"))))["installSkill"]
    assert again["status"] == "installed"
    rows = {row["version"]: row for row in await skill_rows(database)}
    assert rows["1.2.0"]["status"] == "installed"
    assert rows["1.2.0"]["disabled_by"] is None
    assert rows["1.3.0"]["status"] == "disabled"
    assert [row["event_key"] for row in await skill_events(database)] == ["controlPlane.skill.installed"] * 3


async def test_disable_unknown_skill_is_not_found(execute, database):
    variables = {"input": {"skillKey": "acme.nothing", "disabledBy": "dana"}}
    error = await failing(execute, database, DISABLE_SKILL, variables, expect_contract=DISABLE_CONTRACT)
    assert error["extensions"]["code"] == "NOT_FOUND"


async def test_disable_in_another_persons_name_is_forbidden(execute, database):
    await execute(INSTALL_SKILL, install_input())
    variables = {"input": {"skillKey": SKILL_KEY, "disabledBy": "mallory"}}
    error = await failing(execute, database, DISABLE_SKILL, variables, expect_contract=DISABLE_CONTRACT)
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert "disabledBy" in error["message"]


async def test_skills_paging(execute, database):
    for minor in range(5):
        await execute(INSTALL_SKILL, install_input(manifest_of(f"1.{minor}.0")))
    page = (await execute(SKILLS, {"input": {"limit": 2, "offset": 1}}))["skills"]
    assert page["total"] == 5
    assert [item["version"] for item in page["items"]] == ["1.3.0", "1.2.0"]  # newest installation first
    error = await failing(execute, database, SKILLS, {"input": {"limit": 201}}, expect_contract=LIST_CONTRACT)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert (await execute(SKILLS, {"input": {"limit": 200}}))["skills"]["total"] == 5


# --- auth -----------------------------------------------------------------------------------------

OPERATIONS = [
    pytest.param(SKILL_VERIFICATION, install_input, VERIFY_CONTRACT, id="skillVerification"),
    pytest.param(INSTALL_SKILL, install_input, INSTALL_CONTRACT, id="installSkill"),
    pytest.param(
        DISABLE_SKILL,
        lambda: {"input": {"skillKey": SKILL_KEY, "disabledBy": "dana"}},
        DISABLE_CONTRACT,
        id="disableSkill",
    ),
    pytest.param(SKILLS, lambda: {"input": {}}, LIST_CONTRACT, id="skills"),
]


@pytest.mark.parametrize(("document", "variables", "expected_contract"), OPERATIONS)
async def test_without_a_token_is_unauthenticated(execute, database, document, variables, expected_contract):
    error = await failing(execute, database, document, variables(), bearer=None, expect_contract=expected_contract)
    assert error["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize(("document", "variables", "expected_contract"), OPERATIONS)
async def test_a_user_is_forbidden(execute, database, token, document, variables, expected_contract):
    error = await failing(
        execute, database, document, variables(), bearer=token("dana", "user"), expect_contract=expected_contract
    )
    assert error["extensions"]["code"] == "FORBIDDEN"


async def test_an_admin_may_use_every_operation(execute, token):
    admin = token("erin", "admin")
    assert (await execute(SKILL_VERIFICATION, install_input(), bearer=admin))["skillVerification"]["verified"]
    installed = (await execute(INSTALL_SKILL, install_input(), bearer=admin))["installSkill"]
    assert installed["status"] == "installed"
    listed = (await execute(SKILLS, {"input": {}}, bearer=admin))["skills"]
    assert listed["items"][0]["installedBy"] == "erin"
    variables = {"input": {"skillKey": SKILL_KEY, "disabledBy": "erin"}}
    assert (await execute(DISABLE_SKILL, variables, bearer=admin))["disableSkill"]["status"] == "disabled"


async def test_concurrent_installs_of_one_version_install_it_once(execute, database):
    manifest = manifest_of()
    results = await asyncio.gather(*(execute(INSTALL_SKILL, install_input(manifest)) for _ in range(4)))
    assert len({result["installSkill"]["installationId"] for result in results}) == 1
    assert len(await skill_rows(database)) == 1
    assert len(await skill_events(database)) == 1

    others = [manifest_of("2.0.0", entryPoint=f"dist/{n}.js") for n in range(3)]
    outcomes = await asyncio.gather(
        *(execute(INSTALL_SKILL, install_input(other)) for other in others), return_exceptions=True
    )
    conflicts = [item for item in outcomes if isinstance(item, TransportQueryError)]
    assert len(conflicts) == 2
    assert all(first_error(item)["extensions"]["code"] == "CONFLICT" for item in conflicts)
    assert len(await skill_rows(database)) == 2
