from datetime import UTC, datetime

import pytest
import strawberry
from pydantic import BaseModel

from app.contracts.types import ID, ContractModel, JSONObject, Timestamp
from app.graphql.types import TypeBuilder


class Inner(ContractModel):
    """A nested part."""

    name: str


class Sample(ContractModel):
    ident: ID
    maybe_ident: ID | None = None
    at: Timestamp
    tags: list[str]
    parts: list[Inner]
    extra: JSONObject | None = None
    count: int = 3


def _sdl(model: type[BaseModel], *, is_input: bool) -> str:
    builder = TypeBuilder()
    built = builder.input_type(model) if is_input else builder.output_type(model)

    @strawberry.type
    class Query:
        @strawberry.field
        def probe(self, arg: built | None = None) -> int:  # type: ignore[valid-type]
            return 1

    if is_input:
        return str(strawberry.Schema(query=Query))

    @strawberry.type
    class OutQuery:
        @strawberry.field
        def probe(self) -> built:  # type: ignore[valid-type]
            raise NotImplementedError

    return str(strawberry.Schema(query=OutQuery))


def test_output_translation_keeps_ids_lists_nesting_and_nullability():
    sdl = _sdl(Sample, is_input=False)
    assert "ident: ID!" in sdl
    assert "maybeIdent: ID\n" in sdl
    assert "at: DateTime!" in sdl
    assert "tags: [String!]!" in sdl
    assert "parts: [Inner!]!" in sdl
    assert "extra: JSON\n" in sdl
    assert '"""A nested part."""\ntype Inner' in sdl


def test_input_translation_makes_defaulted_fields_optional_without_a_default_value():
    sdl = _sdl(Sample, is_input=True)
    assert "input Sample {" in sdl
    assert "count: Int\n" in sdl
    assert "ident: ID!" in sdl


def test_two_models_with_one_name_are_refused():
    builder = TypeBuilder()
    builder.output_type(Inner)
    other = type("Inner", (ContractModel,), {"__annotations__": {"x": int}})
    with pytest.raises(TypeError, match="two different models are named Inner"):
        builder.output_type(other)


def test_unsupported_annotation_is_refused():
    class Bad(ContractModel):
        value: int | str

    with pytest.raises(TypeError, match="unions"):
        TypeBuilder().output_type(Bad)


def test_to_plain_drops_unset_fields_so_pydantic_defaults_apply():
    builder = TypeBuilder()
    cls = builder.input_type(Sample)
    value = cls(ident="a", at=datetime(2026, 1, 1, tzinfo=UTC), tags=["x"], parts=[builder.input_type(Inner)(name="n")])
    plain = builder.to_plain(value)
    assert plain == {"ident": "a", "at": datetime(2026, 1, 1, tzinfo=UTC), "tags": ["x"], "parts": [{"name": "n"}]}
    assert Sample.model_validate(plain).count == 3
