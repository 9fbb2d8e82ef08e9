"""The registry: every contract once, by key and version."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from app.contracts.model import CapabilitySpec, EventSpec, FeatureSpec, Kind, OperationSpec

Spec = OperationSpec | EventSpec


class DuplicateContractError(ValueError):
    pass


class UnknownContractError(LookupError):
    pass


class Registry:
    def __init__(self) -> None:
        self._contracts: dict[tuple[str, str], Spec] = {}
        self._field_names: dict[tuple[str, str], OperationSpec] = {}
        """(root type, field name) -> operation: a query and a subscription may share a name (`events`)."""
        self._capabilities: dict[tuple[str, str], CapabilitySpec] = {}
        self._features: dict[tuple[str, str], FeatureSpec] = {}

    def register(self, spec: Spec) -> Spec:
        ident = (spec.key, spec.version)
        if ident in self._contracts:
            raise DuplicateContractError(f"contract {spec.key}@{spec.version} is already registered")
        if isinstance(spec, OperationSpec):
            field = (spec.root_type, spec.field_name)
            other = self._field_names.get(field)
            if other is not None:
                raise DuplicateContractError(
                    f"GraphQL field {spec.root_type}.{spec.field_name} of {spec.ref} is already used by {other.ref}"
                )
            self._field_names[field] = spec
        self._contracts[ident] = spec
        return spec

    def register_all(self, specs: Iterable[Spec]) -> None:
        for spec in specs:
            self.register(spec)

    def add_capability(self, capability: CapabilitySpec) -> None:
        ident = (capability.key, capability.version)
        if ident in self._capabilities:
            raise DuplicateContractError(f"capability {capability.ref} is already registered")
        self._capabilities[ident] = capability

    def add_feature(self, feature: FeatureSpec) -> None:
        ident = (feature.key, feature.version)
        if ident in self._features:
            raise DuplicateContractError(f"feature {feature.key}@{feature.version} is already registered")
        self._features[ident] = feature

    def get(self, key: str, version: str | None = None) -> Spec:
        if version is not None:
            try:
                return self._contracts[(key, version)]
            except KeyError:
                raise UnknownContractError(f"no contract {key}@{version}") from None
        versions = [spec for (k, _), spec in self._contracts.items() if k == key]
        if not versions:
            raise UnknownContractError(f"no contract {key}")
        return max(versions, key=lambda s: tuple(int(p) if p.isdigit() else 0 for p in s.version.split(".")))

    def __iter__(self) -> Iterator[Spec]:
        return iter(self._contracts.values())

    def __len__(self) -> int:
        return len(self._contracts)

    @property
    def contracts(self) -> list[Spec]:
        return list(self._contracts.values())

    @property
    def operations(self) -> list[OperationSpec]:
        """Commands and queries: what runs once per request (subscriptions are `subscriptions`)."""
        return [s for s in self._contracts.values() if isinstance(s, OperationSpec) and s.kind is not Kind.SUBSCRIPTION]

    @property
    def subscriptions(self) -> list[OperationSpec]:
        return [s for s in self._contracts.values() if isinstance(s, OperationSpec) and s.kind is Kind.SUBSCRIPTION]

    @property
    def events(self) -> list[EventSpec]:
        return [s for s in self._contracts.values() if isinstance(s, EventSpec)]

    @property
    def capabilities(self) -> list[CapabilitySpec]:
        return list(self._capabilities.values())

    @property
    def features(self) -> list[FeatureSpec]:
        return list(self._features.values())

    def validate(self) -> None:
        """Every contract names a registered capability, and every requirement exists."""
        for spec in self._contracts.values():
            if (spec.capability.key, spec.capability.version) not in self._capabilities:
                raise UnknownContractError(f"{spec.ref} names unknown capability {spec.capability}")
        for capability in self._capabilities.values():
            for req in capability.requires:
                if (req.key, req.version) not in self._capabilities:
                    raise UnknownContractError(f"capability {capability.ref} requires unknown {req}")
