"""Subscription events computed once and shared: one GraphQL execution and one JSON encoding per
(event payload, operation, variables), whatever the number of subscribers.

graphql-core executes a subscription's selection set once per event *per subscriber*. Here a stream
handler that hands the same payload object to every subscriber with the same view (app/services/approval/
live.py does: one change object per view class) gets that execution done once: `SharedEventExecutor` keeps
the last results by (payload identity, parsed operation identity — Strawberry's parser cache returns the
same document for the same text —, variables). It is sound because the payloads are contract outputs, plain
data whose fields resolve from the object alone (no resolver of theirs reads the request context); what
differs per caller (viewerCanDecide, grants) is already in the payload the stream handler chose for it.

`encoded_next` does the same for the wire: the JSON of a result's `data` is encoded once and spliced into
each subscriber's `next` message (only its operation id differs).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

from graphql import ExecutionResult, OperationType
from pydantic import BaseModel

from app.graphql.completion import PlainCompletion

RESULTS_KEPT = 4096
"""Results kept (each holds its payload, so an id is never reused while its entry lives)."""
ENCODINGS_KEPT = 4096

_results: OrderedDict[tuple[int, int, int, str], tuple[object, object, ExecutionResult]] = OrderedDict()
_encodings: OrderedDict[int, tuple[object, str]] = OrderedDict()
stats = {"executed": 0, "shared": 0, "encoded": 0, "encoding_shared": 0}
"""Counters for tests and benchmarks."""


def _variables_key(values: dict[str, Any] | None) -> str:
    if not values:
        return ""
    return json.dumps(values, sort_keys=True, default=repr, separators=(",", ":"))


class SharedEventExecutor(PlainCompletion):
    """The schema's execution context: plain completion (app/graphql/completion.py), and the result of a
    subscription event shared among subscribers (module docstring)."""

    def build_per_event_executor(self, payload: Any) -> Any:
        """An event some subscriber already executed needs no executor of its own (graphql-core copies the
        whole execution context per event): a stand-in that answers the shared result."""
        if isinstance(payload, BaseModel) and self.operation.operation is OperationType.SUBSCRIPTION:
            found = self._shared(self._key(payload), payload)
            if found is not None:
                return _Shared(found)
        return super().build_per_event_executor(payload)

    def _key(self, payload: object) -> tuple[int, int, int, str]:
        variables = self.__dict__.get("_variables_key")
        if variables is None:  # the same for every event of this subscription: computed once
            variables = self.__dict__["_variables_key"] = _variables_key(self.variable_values.coerced)
        return (id(self.schema), id(payload), id(self.operation), variables)

    def _shared(self, key: tuple[int, int, int, str], payload: object) -> ExecutionResult | None:
        """The result kept for this payload and operation (the entry's own references rule out a reused id)."""
        found = _results.get(key)
        if found is None or found[0] is not payload or found[1] is not self.operation:
            return None
        _results.move_to_end(key)
        stats["shared"] += 1
        return found[2]

    def execute_operation(self, serially: bool | None = None) -> Any:  # noqa: FBT001 - graphql-core's signature
        payload = self.root_value
        if self.operation.operation is not OperationType.SUBSCRIPTION or not isinstance(payload, BaseModel):
            return super().execute_operation(serially)
        key = self._key(payload)
        found = self._shared(key, payload)
        if found is not None:
            return found
        result = super().execute_operation(serially)
        stats["executed"] += 1
        if isinstance(result, ExecutionResult) and not result.errors:  # contract outputs resolve synchronously
            _results[key] = (payload, self.operation, result)
            while len(_results) > RESULTS_KEPT:
                _results.popitem(last=False)
        return result


class _Shared:
    """What `build_per_event_executor` returns for an event already executed: `execute_subscription_event`
    only calls `execute_operation` on it."""

    __slots__ = ("_result",)

    def __init__(self, result: ExecutionResult) -> None:
        self._result = result

    def execute_operation(self, serially: bool | None = None) -> ExecutionResult:  # noqa: FBT001 - as above
        return self._result


def encoded_next(message: dict[str, Any]) -> str | None:
    """The text of a `next` message whose payload is only `data`, with that data's JSON encoded once for
    every message sharing it (None: encode the message as usual)."""
    payload = message.get("payload")
    if message.get("type") != "next" or not isinstance(payload, dict) or payload.keys() != {"data"}:
        return None
    data = payload["data"]
    if not isinstance(data, dict):
        return None
    found = _encodings.get(id(data))
    if found is not None and found[0] is data:
        stats["encoding_shared"] += 1
        text = found[1]
    else:
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        stats["encoded"] += 1
        _encodings[id(data)] = (data, text)
        while len(_encodings) > ENCODINGS_KEPT:
            _encodings.popitem(last=False)
    return f'{{"id":{json.dumps(message["id"])},"type":"next","payload":{{"data":{text}}}}}'


__all__ = ["SharedEventExecutor", "encoded_next", "stats"]
