"""What a contract is: words for humans, ownership, policy and typed input and output."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel

from app.auth import AuthLevel, Principal
from app.contracts.naming import derived_field_name, is_graphql_name

UnitOfWork = TypeVar("UnitOfWork")
"""What a unit of work hands a handler; the services bind `Handler[AsyncConnection]` (app/services/bindings.py)."""
_UnitOfWork_co = TypeVar("_UnitOfWork_co", covariant=True)


class UnitOfWorkFactory(Protocol[_UnitOfWork_co]):
    """Opens one unit of work (one transaction): `write=False` reads without taking the writer."""

    def __call__(self, *, write: bool) -> AbstractAsyncContextManager[_UnitOfWork_co]: ...


Handler = Callable[[UnitOfWork, Principal | None, Any], Awaitable[BaseModel]]
"""What the service layer binds to an operation: (unit of work, caller, validated input) -> output."""

Precheck = Callable[[UnitOfWork, Principal | None, Any], Awaitable[BaseModel | None]]
"""A command's answer from a read, when it has nothing to write (an identical replay, a CONFLICT, a
NOT_FOUND, a refused transition): the output or an error; None when the command must write."""


BatchHandler = Callable[[UnitOfWorkFactory[UnitOfWork], Principal | None, Any], Awaitable[BaseModel]]
"""A command of several independent items (`Transactions.PER_ITEM`): it opens one unit of work per item."""


StreamHandler = Callable[[UnitOfWorkFactory[UnitOfWork], Principal | None, Any], AsyncIterator[BaseModel]]
"""What the service layer binds to a subscription: (unit-of-work factory, caller, validated input) -> an async
iterator of outputs. It lives as long as the subscription and opens a short unit of work per read (never one
transaction held open while it waits); the transport closes it (`aclose`) when the subscriber leaves."""


class Transactions(StrEnum):
    ONE = "one"
    """The whole operation is one unit of work (every operation but a few batches)."""
    PER_ITEM = "per_item"
    """A batch whose items succeed or fail each on their own: its handler opens a unit of work per item."""


class Kind(StrEnum):
    COMMAND = "command"
    QUERY = "query"
    SUBSCRIPTION = "subscription"
    EVENT = "event"


class Stability(StrEnum):
    EXPERIMENTAL = "experimental"
    BETA = "beta"
    STABLE = "stable"
    DEPRECATED = "deprecated"


@dataclass(frozen=True, slots=True)
class VersionedRef:
    key: str
    version: str

    def __str__(self) -> str:
        return f"{self.key}@{self.version}"


@dataclass(frozen=True, slots=True)
class Meta:
    key: str
    version: str
    title: str
    description: str
    goal: str
    context: str
    domain: str
    owners: tuple[str, ...]
    tags: tuple[str, ...]
    stability: Stability

    def __post_init__(self) -> None:
        for name in ("key", "version", "title", "description"):
            if not getattr(self, name).strip():
                raise ValueError(f"contract meta.{name} must not be empty")

    @property
    def ref(self) -> VersionedRef:
        return VersionedRef(self.key, self.version)


class _Described:
    """Key, version and reference, read from the contract's meta."""

    __slots__ = ()
    meta: Meta

    @property
    def key(self) -> str:
        return self.meta.key

    @property
    def version(self) -> str:
        return self.meta.version

    @property
    def ref(self) -> VersionedRef:
        return self.meta.ref


@dataclass(frozen=True, slots=True)
class OperationSpec(_Described):
    """A command (mutation), query or subscription, bound to a service handler by the service layer."""

    meta: Meta
    kind: Kind
    capability: VersionedRef
    auth: AuthLevel
    input: type[BaseModel]
    output: type[BaseModel]
    graphql_name: str | None = None
    actor_fields: tuple[str, ...] = ()
    """Input fields naming who acts; each must equal the caller's id."""
    transactions: Transactions = Transactions.ONE

    def __post_init__(self) -> None:
        if self.kind is Kind.EVENT:
            raise ValueError("an operation is a command, a query or a subscription; use EventSpec for events")
        if self.kind is Kind.SUBSCRIPTION and (self.actor_fields or self.transactions is not Transactions.ONE):
            raise ValueError("a subscription acts for nobody and writes nothing: no actor fields, no batches")
        if self.graphql_name is not None and not is_graphql_name(self.graphql_name):
            raise ValueError(f"{self.graphql_name!r} is not a valid GraphQL field name")
        for name in self.actor_fields:
            if name not in self.input.model_fields:
                raise ValueError(f"actor field {name!r} is not a field of {self.input.__name__}")

    @property
    def field_name(self) -> str:
        return self.graphql_name or derived_field_name(self.key, self.version)

    @property
    def root_type(self) -> str:
        """The GraphQL root type its field belongs to: Mutation, Query or Subscription."""
        return {Kind.COMMAND: "Mutation", Kind.QUERY: "Query", Kind.SUBSCRIPTION: "Subscription"}[self.kind]


@dataclass(frozen=True, slots=True)
class EventSpec(_Described):
    meta: Meta
    capability: VersionedRef
    payload: type[BaseModel]
    kind: Kind = Kind.EVENT


@dataclass(frozen=True, slots=True)
class CapabilitySpec:
    key: str
    version: str
    title: str
    description: str
    requires: tuple[VersionedRef, ...] = ()
    provides: tuple[str, ...] = field(default=())
    """Contract keys this capability provides."""

    @property
    def ref(self) -> VersionedRef:
        return VersionedRef(self.key, self.version)


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    key: str
    version: str
    title: str
    description: str
    capabilities: tuple[VersionedRef, ...]


def define_command(  # noqa: PLR0913 - ContractSpec's defineCommand options, all keyword-only
    meta: Meta,
    *,
    capability: VersionedRef,
    input: type[BaseModel],  # noqa: A002 - ContractSpec names it io.input
    output: type[BaseModel],
    auth: AuthLevel = AuthLevel.ADMIN,
    graphql_name: str | None = None,
    actor_fields: tuple[str, ...] = (),
    transactions: Transactions = Transactions.ONE,
) -> OperationSpec:
    return OperationSpec(meta, Kind.COMMAND, capability, auth, input, output, graphql_name, actor_fields, transactions)


def define_query(
    meta: Meta,
    *,
    capability: VersionedRef,
    input: type[BaseModel],  # noqa: A002 - ContractSpec names it io.input
    output: type[BaseModel],
    auth: AuthLevel = AuthLevel.ADMIN,
    graphql_name: str | None = None,
) -> OperationSpec:
    return OperationSpec(meta, Kind.QUERY, capability, auth, input, output, graphql_name)


def define_subscription(
    meta: Meta,
    *,
    capability: VersionedRef,
    input: type[BaseModel],  # noqa: A002 - ContractSpec names it io.input
    output: type[BaseModel],
    auth: AuthLevel = AuthLevel.ADMIN,
    graphql_name: str | None = None,
) -> OperationSpec:
    """A subscription: `output` is the type of each item it streams (a `Subscription` field)."""
    return OperationSpec(meta, Kind.SUBSCRIPTION, capability, auth, input, output, graphql_name)


def define_event(meta: Meta, *, capability: VersionedRef, payload: type[BaseModel]) -> EventSpec:
    return EventSpec(meta, capability, payload)
