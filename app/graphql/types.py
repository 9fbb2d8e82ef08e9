"""Pydantic contract models -> Strawberry types, built once each and looked up by name.

Nested models stay typed, lists stay lists, optional fields are nullable, `ID`-marked strings
become `ID`, datetimes `DateTime`, free-form objects `JSON`.
"""

from __future__ import annotations

import types
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import strawberry
from pydantic import BaseModel
from strawberry.scalars import JSON

from app.contracts.types import IdMarker

_SCALARS: dict[Any, Any] = {str: str, int: int, float: float, bool: bool, datetime: datetime}


class TypeBuilder:
    def __init__(self) -> None:
        self._built: dict[str, tuple[type[BaseModel], bool, Any]] = {}
        self.input_fields: dict[type, tuple[str, ...]] = {}
        """Strawberry input class -> its python field names (for `to_plain`)."""

    def input_type(self, model: type[BaseModel], description: str | None = None) -> Any:
        return self._build(model, is_input=True, description=description)

    def output_type(self, model: type[BaseModel], description: str | None = None) -> Any:
        return self._build(model, is_input=False, description=description)

    def _build(self, model: type[BaseModel], *, is_input: bool, description: str | None = None) -> Any:
        name = model.__name__
        known = self._built.get(name)
        if known is not None:
            known_model, known_input, built = known
            if known_model is not model:
                raise TypeError(f"two different models are named {name}; GraphQL type names must be unique")
            if known_input is not is_input:
                raise TypeError(f"model {name} is used both as input and as output; give each its own model")
            return built
        annotations: dict[str, Any] = {}
        namespace: dict[str, Any] = {"__module__": __name__, "__qualname__": name}
        for field_name, info in model.model_fields.items():
            annotation = self._annotation(info.annotation, info.metadata, is_input=is_input)
            if not info.is_required() and not _nullable(annotation):
                annotation = annotation | None
            annotations[field_name] = annotation
            if is_input and not info.is_required():
                namespace[field_name] = strawberry.field(default=strawberry.UNSET, description=info.description)
            else:
                namespace[field_name] = strawberry.field(description=info.description)
        namespace["__annotations__"] = annotations
        cls = type(name, (), namespace)
        description = (model.__doc__ or "").strip() or description
        if is_input:
            built = strawberry.input(cls, name=name, description=description)
            self.input_fields[built] = tuple(model.model_fields)
        else:
            built = strawberry.type(cls, name=name, description=description)
        self._built[name] = (model, is_input, built)
        return built

    def _annotation(self, annotation: Any, metadata: list[Any], *, is_input: bool) -> Any:  # noqa: PLR0911 - one return per translation rule
        if any(isinstance(item, IdMarker) for item in metadata):
            return strawberry.ID
        origin = get_origin(annotation)
        if origin is Annotated:
            inner, *extra = get_args(annotation)
            return self._annotation(inner, [*metadata, *extra], is_input=is_input)
        if origin in (Union, types.UnionType):
            members = [arg for arg in get_args(annotation) if arg is not type(None)]
            if len(members) != 1:
                raise TypeError(f"unions are not translated to GraphQL: {annotation}")
            return self._annotation(members[0], metadata, is_input=is_input) | None
        if origin is list:
            (item,) = get_args(annotation)
            return list[self._annotation(item, [], is_input=is_input)]  # type: ignore[misc]
        if origin is dict or annotation is dict or annotation is Any:
            return JSON
        if origin is Literal:
            values = get_args(annotation)
            return _SCALARS[type(values[0])]
        if isinstance(annotation, type) and issubclass(annotation, StrEnum):
            return str  # statuses stay `String` in GraphQL (the upstream models say so); the model validates
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            return self._build(annotation, is_input=is_input)
        if annotation in _SCALARS:
            return _SCALARS[annotation]
        raise TypeError(f"no GraphQL translation for {annotation!r}")

    def to_plain(self, value: Any) -> Any:
        """A Strawberry input object as the plain data its pydantic model validates."""
        if isinstance(value, list):
            return [self.to_plain(item) for item in value]
        names = self.input_fields.get(type(value))
        if names is None:
            return value
        plain = {}
        for name in names:
            item = getattr(value, name)
            if item is not strawberry.UNSET:
                plain[name] = self.to_plain(item)
        return plain


def _nullable(annotation: Any) -> bool:
    return get_origin(annotation) in (Union, types.UnionType) and type(None) in get_args(annotation)
