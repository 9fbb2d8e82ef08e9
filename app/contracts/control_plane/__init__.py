"""The control-plane contract surface (see CONTRACTS.md), one module per contract.

Contract modules are discovered, not listed: every module of `commands/`, `queries/`, `subscriptions/` and `events/`
that defines a `SPEC` is a contract, so adding a contract is adding its file.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from types import ModuleType

from app.contracts.control_plane import capabilities
from app.contracts.registry import Registry, Spec

CONTRACT_PACKAGES = (
    "app.contracts.control_plane.commands",
    "app.contracts.control_plane.queries",
    "app.contracts.control_plane.subscriptions",
    "app.contracts.control_plane.events",
)


def contract_modules() -> Iterator[ModuleType]:
    """Every contract module, package by package, in file-name order."""
    for package_name in CONTRACT_PACKAGES:
        package = importlib.import_module(package_name)
        for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda item: item.name):
            module = importlib.import_module(f"{package_name}.{info.name}")
            if hasattr(module, "SPEC"):
                yield module


def contract_specs() -> list[Spec]:
    return [module.SPEC for module in contract_modules()]


def build_registry() -> Registry:
    """A fresh registry with every control-plane contract, capability and the feature."""
    registry = Registry()
    for capability in capabilities.CAPABILITIES:
        registry.add_capability(capability)
    registry.add_feature(capabilities.FEATURE)
    registry.register_all(contract_specs())
    registry.validate()
    return registry
