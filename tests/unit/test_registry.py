from dataclasses import replace

import pytest

from app.contracts.control_plane import build_registry
from app.contracts.control_plane.commands import reject
from app.contracts.model import OperationSpec, Stability
from app.contracts.naming import derived_field_name, is_graphql_name
from app.contracts.registry import DuplicateContractError, Registry, UnknownContractError
from tests.surface import EVENT_KEYS, OPERATION_FIELDS


def test_registry_holds_the_whole_declared_surface():
    registry = build_registry()
    fields = {op.field_name for op in registry.operations}
    assert fields == set(OPERATION_FIELDS.values())
    assert {op.key: op.field_name for op in registry.operations} == OPERATION_FIELDS
    assert {event.key for event in registry.events} == EVENT_KEYS
    assert {c.key for c in registry.capabilities} == {
        "control-plane.core",
        "control-plane.approval",
        "control-plane.audit",
        "control-plane.skill-registry",
        "control-plane.channel-runtime",
        "control-plane.webhooks",
    }
    (feature,) = registry.features
    assert (feature.key, feature.version) == ("platform.control-plane", "1.0.0")


def test_reject_contract_carries_the_seed_meta_exactly():
    meta = reject.SPEC.meta
    assert meta.key == "controlPlane.execution.reject"
    assert meta.version == "1.0.0"
    assert meta.title == "Reject Execution Step"
    assert meta.description == "Reject a pending execution step."
    assert meta.goal == "Allow operators to block unsafe or undesired actions."
    assert meta.context == "Used by approval workflows to stop execution when policy or operator criteria fail."
    assert meta.tags == ("automation", "control-plane", "agent-runtime", "approval")
    assert meta.owners == ("platform.core",)
    assert meta.stability is Stability.EXPERIMENTAL
    assert (reject.SPEC.capability.key, reject.SPEC.capability.version) == ("control-plane.approval", "1.0.0")
    assert reject.SPEC.auth.label == "admin"


def test_registry_refuses_a_duplicate_key_and_version():
    registry = Registry()
    registry.register(reject.SPEC)
    with pytest.raises(DuplicateContractError, match=r"controlPlane.execution.reject@1.0.0"):
        registry.register(reject.SPEC)


def test_registry_refuses_a_second_contract_on_the_same_graphql_field():
    registry = Registry()
    registry.register(reject.SPEC)
    other = replace(reject.SPEC, meta=replace(reject.SPEC.meta, version="2.0.0"))
    with pytest.raises(DuplicateContractError, match="rejectExecutionStep"):
        registry.register(other)


def test_new_version_without_explicit_name_gets_a_derived_field():
    registry = Registry()
    registry.register(reject.SPEC)
    v2 = replace(reject.SPEC, meta=replace(reject.SPEC.meta, version="2.0.0"), graphql_name=None)
    registry.register(v2)
    assert v2.field_name == "controlPlaneExecutionRejectV2"
    assert registry.get("controlPlane.execution.reject").version == "2.0.0"
    assert registry.get("controlPlane.execution.reject", "1.0.0") is reject.SPEC


def test_unknown_contract_and_unknown_capability_are_refused():
    registry = Registry()
    with pytest.raises(UnknownContractError):
        registry.get("nope")
    registry.register(reject.SPEC)
    with pytest.raises(UnknownContractError, match="unknown capability"):
        registry.validate()


def test_spec_validates_its_own_declaration():
    with pytest.raises(ValueError, match="not a valid GraphQL field name"):
        replace(reject.SPEC, graphql_name="reject-step")
    with pytest.raises(ValueError, match="actor field"):
        replace(reject.SPEC, actor_fields=("nobody",))
    assert isinstance(reject.SPEC, OperationSpec)


@pytest.mark.parametrize(
    ("key", "version", "expected"),
    [
        ("controlPlane.execution.reject", "1.0.0", "controlPlaneExecutionRejectV1"),
        ("control-plane.skill.install", "2.3.1", "controlPlaneSkillInstallV2"),
        ("9lives.thing", "1.0.0", "op_9livesThingV1"),
    ],
)
def test_derived_field_names_are_valid_graphql(key, version, expected):
    name = derived_field_name(key, version)
    assert name == expected
    assert is_graphql_name(name)
