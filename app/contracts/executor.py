"""The one path every operation takes: guard -> validate -> actor check -> handler in a transaction -> output check.

The executor sits below every transport, so GraphQL today and a CLI or REST tomorrow are guarded
the same way. It knows no database: the composition root hands it a unit-of-work factory and the
handlers the service layer bound to each contract.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from app.auth import AuthLevel, Principal
from app.contracts.model import (
    BatchHandler,
    Handler,
    Kind,
    OperationSpec,
    Precheck,
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


class Executor(Generic[UnitOfWork]):
    """Runs operations; `UnitOfWork` is what the factory yields and every handler receives."""

    def __init__(
        self,
        registry: Registry,
        handlers: Mapping[VersionedRef, Handler[UnitOfWork]],
        uow: UnitOfWorkFactory[UnitOfWork],
        prechecks: Mapping[VersionedRef, Precheck[UnitOfWork]] | None = None,
        batch_handlers: Mapping[VersionedRef, BatchHandler[UnitOfWork]] | None = None,
    ) -> None:
        self._batch_handlers = dict(batch_handlers or {})
        missing = [
            op.ref
            for op in registry.operations
            if op.ref not in (self._batch_handlers if op.transactions is Transactions.PER_ITEM else handlers)
        ]
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

    async def _execute(self, spec: OperationSpec, raw: Mapping[str, Any], authenticate: Authenticate) -> BaseModel:
        principal = await self._guard(spec, authenticate)
        try:
            data = spec.input.model_validate(raw)
        except ValidationError as error:
            raise _invalid_input(_messages(error)) from None
        unstorable = storage_problems(data)
        if unstorable:
            raise _invalid_input(unstorable)
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
