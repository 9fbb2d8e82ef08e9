"""The control-plane contract surface (see CONTRACTS.md), one module per contract."""

from __future__ import annotations

from app.contracts.control_plane import capabilities, commands, events, queries
from app.contracts.registry import Registry


def build_registry() -> Registry:
    """A fresh registry with every control-plane contract, capability and the feature."""
    registry = Registry()
    for capability in capabilities.CAPABILITIES:
        registry.add_capability(capability)
    registry.add_feature(capabilities.FEATURE)
    registry.register_all(commands.ALL)
    registry.register_all(queries.ALL)
    registry.register_all(events.ALL)
    registry.validate()
    return registry
