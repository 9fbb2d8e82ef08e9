"""Subscription contracts: declared like commands and queries, translated into `Subscription` fields by the
same generic code, and guarded by the same executor path (auth level, input, output, masked failures)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from graphql import GraphQLNonNull, GraphQLObjectType

from app.auth import AuthLevel, Principal
from app.contracts.control_plane import build_registry
from app.contracts.control_plane.event_log import ControlPlaneEventRecord
from app.contracts.control_plane.subscriptions import approval_stream, event_stream
from app.contracts.executor import Executor, MissingHandlerError
from app.contracts.model import Kind, OperationSpec, define_subscription
from app.contracts.registry import DuplicateContractError, Registry
from app.errors import BadUserInput, Forbidden, InternalError, Unauthenticated
from app.graphql.schema import build_schema
from tests.surface import QUERY_FIELDS, SUBSCRIPTION_FIELDS

ADMIN = Principal.of("ada", ["admin"], ["*"])
USER = Principal.of("uma", ["user"], ["*"])


def _no_unit_of_work(*, write: bool) -> None:
    """A unit-of-work factory that is never called."""
    raise AssertionError(write)


def test_the_registry_holds_the_declared_subscriptions_apart_from_operations():
    registry = build_registry()
    assert {spec.key: spec.field_name for spec in registry.subscriptions} == SUBSCRIPTION_FIELDS
    assert all(spec.kind is Kind.SUBSCRIPTION and spec.root_type == "Subscription" for spec in registry.subscriptions)
    assert not any(spec.kind is Kind.SUBSCRIPTION for spec in registry.operations)
    # `events` is both a query and a subscription: field names are unique per root type
    assert QUERY_FIELDS["controlPlane.event.list"] == SUBSCRIPTION_FIELDS["controlPlane.event.stream"] == "events"


def test_a_second_subscription_on_the_same_field_is_refused():
    registry = Registry()
    registry.register(event_stream.SPEC)
    other = replace(event_stream.SPEC, meta=replace(event_stream.SPEC.meta, key="controlPlane.event.other"))
    with pytest.raises(DuplicateContractError, match=r"Subscription\.events"):
        registry.register(other)


def test_a_subscription_acts_for_nobody():
    with pytest.raises(ValueError, match="no actor fields"):
        replace(event_stream.SPEC, actor_fields=("after",))


def test_subscriptions_become_subscription_fields_of_the_generated_schema():
    schema = build_schema(build_registry())._schema
    subscription = schema.subscription_type
    assert subscription is not None
    assert set(subscription.fields) == {"events", "approvalQueue"}
    for name, spec in (("events", event_stream.SPEC), ("approvalQueue", approval_stream.SPEC)):
        field = subscription.fields[name]
        argument = field.args["input"].type
        assert isinstance(argument, GraphQLNonNull)
        assert str(argument.of_type) == spec.input.__name__
        assert isinstance(field.type, GraphQLNonNull)
        assert isinstance(field.type.of_type, GraphQLObjectType)
        assert field.type.of_type.name == spec.output.__name__
        assert f"Contract `{spec.key}` v1.0.0" in (field.description or "")
        assert "auth `admin`" in (field.description or "")
    change = schema.type_map["ControlPlaneApprovalQueueChange"]
    assert isinstance(change, GraphQLObjectType)
    assert str(change.fields["item"].type) == "ControlPlanePendingApproval!"
    assert str(change.fields["kind"].type) == "String!"


# --- the executor's subscribe ---------------------------------------------------------------------------


def _executor(stream: Any, spec: OperationSpec = event_stream.SPEC) -> Executor[Any]:
    registry = Registry()
    registry.register(spec)
    return Executor(registry, {}, _no_unit_of_work, stream_handlers={spec.ref: stream})


def _as(principal: Principal | None) -> Any:
    async def authenticate() -> Principal:
        if principal is None:
            raise Unauthenticated("no token")
        return principal

    return authenticate


def _record(position: int) -> ControlPlaneEventRecord:
    return ControlPlaneEventRecord.model_validate(
        {
            "cursor": str(position),
            "position": str(position),
            "key": "k",
            "version": "1",
            "occurred_at": "2026-01-01T00:00:00Z",
            "payload": {},
        }
    )


async def test_the_guard_and_the_input_check_run_before_the_first_item():
    started: list[Any] = []

    async def stream(uow: Any, principal: Principal | None, data: Any) -> AsyncIterator[ControlPlaneEventRecord]:
        started.append(data)
        yield _record(1)

    executor = _executor(stream)
    with pytest.raises(Unauthenticated):
        await executor.subscribe(event_stream.SPEC, {}, _as(None))
    with pytest.raises(Forbidden) as forbidden:
        await executor.subscribe(event_stream.SPEC, {}, _as(USER))
    assert forbidden.value.extensions["contract"] == {"key": "controlPlane.event.stream", "version": "1.0.0"}
    with pytest.raises(BadUserInput) as bad:
        await executor.subscribe(event_stream.SPEC, {"after": "not a cursor"}, _as(ADMIN))
    assert "after" in bad.value.extensions["fields"]
    assert started == []
    items = [item async for item in await executor.subscribe(event_stream.SPEC, {"after": "5"}, _as(ADMIN))]
    assert items == [_record(1)]
    assert started[0].after == "5"


async def test_a_stream_that_fails_unexpectedly_is_masked_and_a_wrong_item_is_refused():
    async def broken(uow: Any, principal: Principal | None, data: Any) -> AsyncIterator[Any]:
        yield _record(1)
        raise RuntimeError("the database said something private")

    stream = await _executor(broken).subscribe(event_stream.SPEC, {}, _as(ADMIN))
    assert await anext(stream) == _record(1)
    with pytest.raises(InternalError) as masked:
        await anext(stream)
    assert "private" not in masked.value.message

    async def wrong(uow: Any, principal: Principal | None, data: Any) -> AsyncIterator[Any]:
        yield {"cursor": "1"}

    wrong_stream = await _executor(wrong).subscribe(event_stream.SPEC, {}, _as(ADMIN))
    with pytest.raises(InternalError):
        await anext(wrong_stream)


async def test_closing_a_subscription_closes_its_stream_handler():
    closed: list[bool] = []

    async def endless(uow: Any, principal: Principal | None, data: Any) -> AsyncIterator[ControlPlaneEventRecord]:
        try:
            position = 0
            while True:
                position += 1
                yield _record(position)
        finally:
            closed.append(True)

    stream = await _executor(endless).subscribe(event_stream.SPEC, {}, _as(ADMIN))
    assert (await anext(stream)).position == "1"  # type: ignore[attr-defined]
    await stream.aclose()  # type: ignore[attr-defined]
    assert closed == [True]


def test_a_subscription_without_a_stream_handler_is_refused_at_start_and_execute_refuses_one():
    registry = Registry()
    registry.register(event_stream.SPEC)
    with pytest.raises(MissingHandlerError, match=r"controlPlane\.event\.stream"):
        Executor(registry, {}, _no_unit_of_work)  # type: ignore[arg-type]


async def test_execute_refuses_a_subscription():
    async def stream(uow: Any, principal: Principal | None, data: Any) -> AsyncIterator[ControlPlaneEventRecord]:
        yield _record(1)

    with pytest.raises(InternalError):  # a programming error: masked like every unexpected failure
        await _executor(stream).execute(event_stream.SPEC, {}, _as(ADMIN))


def test_define_subscription_defaults_to_admin():
    spec = define_subscription(
        event_stream.SPEC.meta,
        capability=event_stream.SPEC.capability,
        input=event_stream.SPEC.input,
        output=ControlPlaneEventRecord,
    )
    assert spec.auth is AuthLevel.ADMIN
    assert spec.kind is Kind.SUBSCRIPTION
