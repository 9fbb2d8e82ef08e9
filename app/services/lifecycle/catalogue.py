"""The contract catalogue, read from the registry (no database)."""

from __future__ import annotations

from typing import Any

from app.auth import Principal
from app.contracts.control_plane.queries.contract_list import (
    ControlPlaneContractDescriptor,
    ControlPlaneContractListInput,
    ControlPlaneContractListOutput,
)
from app.contracts.model import EventSpec, OperationSpec
from app.contracts.registry import Registry, Spec


def describe(spec: Spec) -> ControlPlaneContractDescriptor:
    meta = spec.meta
    operation = spec if isinstance(spec, OperationSpec) else None
    return ControlPlaneContractDescriptor(
        key=meta.key,
        version=meta.version,
        kind=spec.kind.value,
        title=meta.title,
        description=meta.description,
        goal=meta.goal,
        context=meta.context,
        domain=meta.domain,
        capability=spec.capability.key,
        capability_version=spec.capability.version,
        auth=operation.auth.label if operation else None,
        tags=list(meta.tags),
        owners=list(meta.owners),
        stability=meta.stability.value,
        graphql_field=operation.field_name if operation else None,
        input_type=operation.input.__name__
        if operation
        else spec.payload.__name__
        if isinstance(spec, EventSpec)
        else None,
        output_type=operation.output.__name__ if operation else None,
    )


class Catalogue:
    def __init__(self, registry: Registry) -> None:
        self._items = [describe(spec) for spec in registry.contracts]

    async def list_contracts(
        self, _session: Any, _principal: Principal | None, data: ControlPlaneContractListInput
    ) -> ControlPlaneContractListOutput:
        items = [
            item
            for item in self._items
            if (data.kind is None or item.kind == data.kind)
            and (data.capability is None or item.capability == data.capability)
        ]
        return ControlPlaneContractListOutput(items=items, total=len(items))
