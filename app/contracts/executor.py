"""The one path every operation takes: guard -> validate -> actor check -> handler in a transaction -> output check.

The executor sits below every transport, so GraphQL today and a CLI or REST tomorrow are guarded
the same way. It knows no database: the composition root hands it a unit-of-work factory and the
handlers the service layer bound to each contract.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from app.auth import AuthLevel, Principal
from app.contracts.model import (
    BatchHandler,
    Handler,
    Kind,
    OperationSpec,
    Precheck,
    StreamHandler,
    Transactions,
    UnitOfWorkFactory,
    VersionedRef,
)
from app.contracts.naming import camel
from app.contracts.registry import Registry
from app.contracts.storable import storage_problems
from app.errors import AppError, BadUserInput, Forbidden, InternalError, Unauthenticated

logger = logging.getLogger("app.executor")


UnitOfWork = TypeVar("UnitOfWork")
__all__ = ["Executor", "MissingHandlerError", "UnitOfWorkFactory"]


Authenticate = Callable[[], Awaitable[Principal]]
"""Returns the caller or raises Unauthenticated; called only when a contract needs it."""


class MissingHandlerError(LookupError):
    pass


def _field_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(camel(part) if isinstance(part, str) else str(part) for part in loc) or "input"


def _messages(error: ValidationError) -> dict[str, str]:
    fields: dict[str, str] = {}
    for item in error.errors(include_url=False, include_input=False):
        message = item["msg"].removeprefix("Value error, ")
        fields.setdefault(_field_path(item["loc"]), message)
    return fields


def _invalid_input(fields: dict[str, str]) -> BadUserInput:
    summary = "; ".join(f"{name}: {message}" for name, message in fields.items())
    return BadUserInput(f"Invalid input: {summary}.", fields)


def _checked_item(spec: OperationSpec, item: BaseModel) -> BaseModel:
    if type(item) is not spec.output:
        raise TypeError(f"{spec.ref} stream yielded {type(item).__name__}, not {spec.output.__name__}")
    return item


class Executor(Generic[UnitOfWork]):
    """Runs operations; `UnitOfWork` is what the factory yields and every handler receives."""

    def __init__(
        self,
        registry: Registry,
        handlers: Mapping[VersionedRef, Handler[UnitOfWork]],
        uow: UnitOfWorkFactory[UnitOfWork],
        prechecks: Mapping[VersionedRef, Precheck[UnitOfWork]] | None = None,
        batch_handlers: Mapping[VersionedRef, BatchHandler[UnitOfWork]] | None = None,
        *,
        stream_handlers: Mapping[VersionedRef, StreamHandler[UnitOfWork]] | None = None,
    ) -> None:
        self._batch_handlers = dict(batch_handlers or {})
        self._stream_handlers = dict(stream_handlers or {})
        missing = [
            op.ref
            for op in registry.operations
            if op.ref not in (self._batch_handlers if op.transactions is Transactions.PER_ITEM else handlers)
        ] + [op.ref for op in registry.subscriptions if op.ref not in self._stream_handlers]
        if missing:
            raise MissingHandlerError(f"no service handler bound for {', '.join(map(str, missing))}")
        self.registry = registry
        self._handlers = dict(handlers)
        self._prechecks = dict(prechecks or {})
        unknown = [str(ref) for ref in self._prechecks if ref not in self._handlers]
        if unknown:
            raise MissingHandlerError(f"prechecks without a handler: {', '.join(unknown)}")
        self._uow = uow

    async def execute(self, spec: OperationSpec, raw: Mapping[str, Any], authenticate: Authenticate) -> BaseModel:
        try:
            return await self._execute(spec, raw, authenticate)
        except AppError as error:
            error.extensions["contract"] = {"key": spec.key, "version": spec.version}
            raise
        except Exception as error:
            logger.exception("unexpected failure in %s@%s", spec.key, spec.version)
            masked = InternalError()
            masked.extensions["contract"] = {"key": spec.key, "version": spec.version}
            raise masked from error

    async def subscribe(
        self, spec: OperationSpec, raw: Mapping[str, Any], authenticate: Authenticate
    ) -> AsyncIterator[BaseModel]:
        """A subscription, guarded like every operation: the guard and the input check run now, so a
        refused subscription fails before any item; the items then come from the bound stream handler, each
        checked against the contract's output, with unexpected failures masked as for any operation."""
        if spec.kind is not Kind.SUBSCRIPTION:
            raise TypeError(f"{spec.ref} is a {spec.kind.value}, not a subscription")
        try:
            principal, data = await self._admit(spec, raw, authenticate)
            stream = self._stream_handlers[spec.ref](self._uow, principal, data)
        except AppError as error:
            error.extensions["contract"] = {"key": spec.key, "version": spec.version}
            raise
        except Exception as error:
            raise self._masked(spec, error) from error
        return self._checked_stream(spec, stream)

    async def _checked_stream(self, spec: OperationSpec, stream: AsyncIterator[BaseModel]) -> AsyncIterator[BaseModel]:
        try:
            async for item in stream:
                yield _checked_item(spec, item)
        except AppError as error:
            error.extensions["contract"] = {"key": spec.key, "version": spec.version}
            raise
        except Exception as error:
            raise self._masked(spec, error) from error
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()

    @staticmethod
    def _masked(spec: OperationSpec, error: Exception) -> InternalError:
        logger.error("unexpected failure in %s@%s", spec.key, spec.version, exc_info=error)
        masked = InternalError()
        masked.extensions["contract"] = {"key": spec.key, "version": spec.version}
        return masked

    async def _admit(
        self, spec: OperationSpec, raw: Mapping[str, Any], authenticate: Authenticate
    ) -> tuple[Principal | None, BaseModel]:
        """Guard, input model, storability: who calls, with what."""
        principal = await self._guard(spec, authenticate)
        try:
            data = spec.input.model_validate(raw)
        except ValidationError as error:
            raise _invalid_input(_messages(error)) from None
        unstorable = storage_problems(data)
        if unstorable:
            raise _invalid_input(unstorable)
        return principal, data

    async def _execute(self, spec: OperationSpec, raw: Mapping[str, Any], authenticate: Authenticate) -> BaseModel:
        if spec.kind is Kind.SUBSCRIPTION:
            raise TypeError(f"{spec.ref} is a subscription: use subscribe()")
        principal, data = await self._admit(spec, raw, authenticate)
        for name in spec.actor_fields:
            if principal is None or getattr(data, name) != principal.id:
                raise Forbidden(f"{camel(name)} must be the caller's own id; nobody may act in another person's name.")
        if spec.transactions is Transactions.PER_ITEM:
            result = await self._batch_handlers[spec.ref](self._uow, principal, data)
        else:
            result = await self._run(spec, principal, data)
        if type(result) is not spec.output:
            raise TypeError(f"{spec.ref} handler returned {type(result).__name__}, not {spec.output.__name__}")
        return result

    async def _run(self, spec: OperationSpec, principal: Principal | None, data: BaseModel) -> BaseModel:
        """One unit of work: a precheck's answer from a read, or the handler in a transaction."""
        result = await self._precheck(spec, principal, data)
        if result is None:
            async with self._uow(write=spec.kind is Kind.COMMAND) as uow:
                result = await self._handlers[spec.ref](uow, principal, data)
        return result

    async def _precheck(self, spec: OperationSpec, principal: Principal | None, data: BaseModel) -> BaseModel | None:
        """A command that has nothing to write is answered from a read, so it never waits for (or holds)
        the writer; what a precheck lets through, the handler decides again under its own conditions."""
        precheck = self._prechecks.get(spec.ref)
        if precheck is None:
            return None
        async with self._uow(write=False) as uow:
            return await precheck(uow, principal, data)

    @staticmethod
    async def _guard(spec: OperationSpec, authenticate: Authenticate) -> Principal | None:
        if spec.auth is AuthLevel.ANONYMOUS:
            try:
                return await authenticate()
            except Unauthenticated:
                return None
        principal = await authenticate()
        if principal.level < spec.auth:
            raise Forbidden(f"This operation needs the {spec.auth.label} role.")
        return principal
