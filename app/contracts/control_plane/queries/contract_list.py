"""controlPlane.contract.list — the contract catalogue (project addition)."""

from __future__ import annotations

from typing import Literal

from app.auth import AuthLevel
from app.contracts.control_plane.constants import CORE, meta
from app.contracts.model import define_query
from app.contracts.types import ContractModel


class ControlPlaneContractListInput(ContractModel):
    kind: Literal["command", "query", "event"] | None = None
    capability: str | None = None


class ControlPlaneContractDescriptor(ContractModel):
    """One contract as declared: what Studio renders as the operation's documentation page."""

    key: str
    version: str
    kind: str
    title: str
    description: str
    goal: str
    context: str
    domain: str
    capability: str
    capability_version: str
    auth: str | None = None
    tags: list[str]
    owners: list[str]
    stability: str
    graphql_field: str | None = None
    input_type: str | None = None
    output_type: str | None = None


class ControlPlaneContractListOutput(ContractModel):
    items: list[ControlPlaneContractDescriptor]
    total: int


SPEC = define_query(
    meta(
        "controlPlane.contract.list",
        title="List Contracts",
        description="List every contract this server implements, with its words, ownership and policy.",
        goal="Let Studio and operators read each operation's contract from the running server.",
        context="Used to render documentation pages and to check which contract versions a server offers.",
    ),
    capability=CORE,
    input=ControlPlaneContractListInput,
    output=ControlPlaneContractListOutput,
    auth=AuthLevel.USER,
    graphql_name="contracts",
)
