"""The service layer binds a handler to every operation contract."""

from __future__ import annotations

from app.contracts.control_plane.commands import approve, reject
from app.contracts.control_plane.queries import approval_list, contract_list, execution_get, execution_list
from app.contracts.model import Handler, VersionedRef
from app.contracts.registry import Registry
from app.services import decisions, executions
from app.services.catalogue import Catalogue


def bind_handlers(registry: Registry) -> dict[VersionedRef, Handler]:
    return {
        reject.SPEC.ref: decisions.reject_step,
        approve.SPEC.ref: decisions.approve_step,
        execution_get.SPEC.ref: executions.get_execution,
        execution_list.SPEC.ref: executions.list_executions,
        approval_list.SPEC.ref: executions.list_pending_approvals,
        contract_list.SPEC.ref: Catalogue(registry).list_contracts,
    }
