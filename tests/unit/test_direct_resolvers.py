"""Query and Mutation fields resolve from graphql-core's coerced input (app/graphql/direct.py): every one of them,
and the input's keys become the contract model's field names at every depth, lists and nulls included."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import GraphQLSchema

from app.contracts.control_plane import build_registry
from app.contracts.model import Kind
from app.graphql import direct
from app.graphql.schema import build_schema


@pytest.fixture(scope="module")
def schema() -> GraphQLSchema:
    return build_schema(build_registry())._schema


def _is_direct(resolve: Any) -> bool:
    return getattr(resolve, "__module__", None) == direct.__name__


def test_every_query_and_command_field_resolves_directly_and_subscriptions_do_not(schema):
    registry = build_registry()
    roots = {Kind.QUERY: schema.query_type, Kind.COMMAND: schema.mutation_type}
    operations = [spec for spec in registry.operations if spec.kind in roots]
    assert len(operations) > 30
    for spec in operations:
        assert _is_direct(roots[spec.kind].fields[spec.field_name].resolve), spec.field_name
    assert schema.subscription_type is not None
    for name, field in schema.subscription_type.fields.items():
        assert not _is_direct(field.subscribe), name


def test_nested_input_keys_become_model_field_names(schema):
    convert = direct._converter(schema.query_type.fields["skillVerification"].args["input"].type)
    assert convert is not None
    coerced = {
        "skillKey": "acme.deploy",
        "artifactDigest": "sha256:00",
        "manifest": {
            "artifact": {"digest": "sha256:00", "files": [{"path": "a.py", "digest": "sha256:01", "size": 3}]},
            "compatibility": {
                "contractsSpec": {"minVersion": "1.0.0", "maxVersion": None},
                "requiredCapabilities": None,
            },
            "signature": None,
        },
    }
    assert convert(coerced) == {
        "skill_key": "acme.deploy",
        "artifact_digest": "sha256:00",
        "manifest": {
            "artifact": {"digest": "sha256:00", "files": [{"path": "a.py", "digest": "sha256:01", "size": 3}]},
            "compatibility": {
                "contracts_spec": {"min_version": "1.0.0", "max_version": None},
                "required_capabilities": None,
            },
            "signature": None,
        },
    }
