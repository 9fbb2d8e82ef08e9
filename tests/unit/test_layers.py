"""Imports point down: transport -> executor -> service -> store (DESIGN.md, "Layers"); inside the service
layer, capability folders import the kernel and each other only through named interfaces."""

import ast
import importlib
import sys
from pathlib import Path

import pytest

from app.contracts.control_plane import build_registry
from app.contracts.model import OperationSpec
from app.services.bindings import CAPABILITY_FOLDERS, batch_handlers_by_key, handlers_by_key, stream_handlers_by_key
from app.services.kernel.live import LogFeed

APP = Path(__file__).resolve().parents[2] / "app"

# package -> packages it must never import
# app.observability and app.http_security belong to the transport: the request record is opened by
# middleware (app.server) and filled by app.graphql; the executor, services and store never see it.
_TRANSPORT_ONLY = ("app.observability", "app.http_security")
FORBIDDEN = {
    "app.contracts": (
        "app.graphql",
        "app.server",
        "app.db",
        "app.services",
        "app.seeding",
        "app.__main__",
        *_TRANSPORT_ONLY,
    ),
    "app.services": (
        "app.graphql",
        "app.server",
        "app.contracts.executor",
        "app.seeding",
        "app.__main__",
        *_TRANSPORT_ONLY,
    ),
    "app.db": (
        "app.graphql",
        "app.server",
        "app.contracts",
        "app.services",
        "app.seeding",
        "app.auth",
        *_TRANSPORT_ONLY,
    ),
    "app.graphql": ("app.server", "app.db", "app.services", "app.seeding", "app.__main__", "app.http_security"),
    "app.auth": ("app.graphql", "app.server", "app.contracts", "app.services", "app.db", *_TRANSPORT_ONLY),
    "app.observability": (
        "app.graphql",
        "app.server",
        "app.contracts",
        "app.services",
        "app.db",
        "app.auth",
        "app.seeding",
        "app.__main__",
        "app.http_security",
    ),
    "app.http_security": ("app.graphql", "app.server", "app.contracts", "app.services", "app.db", "app.auth"),
    "app.errors": ("app.",),
    "app.settings": ("app.",),
    "app.testing": ("app.",),  # a client of the public API only: GraphQL documents, nothing of the server
}


SERVICES = "app.services"
KERNEL = f"{SERVICES}.kernel"
CAPABILITIES = ("lifecycle", "approval", "audit", "skills", "webhooks")
INTERFACES: dict[str, tuple[str, ...]] = {
    "lifecycle": (f"{SERVICES}.approval.interface",),
    "approval": (),
    "audit": (f"{SERVICES}.lifecycle.interface",),
    "skills": (),
    "webhooks": (),
}
"""Capability -> the other capabilities' modules it may import (nothing else of theirs)."""


def _no_unit_of_work(*, write: bool) -> None:
    """A unit-of-work factory that is never called."""
    raise AssertionError(write)


def _module_name(path: Path) -> str:
    parts = path.relative_to(APP.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _check(module: str, path: Path) -> list[str]:
    problems: list[str] = []
    for owner, banned in FORBIDDEN.items():
        if module != owner and not module.startswith(owner + "."):
            continue
        for name in _imports(path):
            problems.extend(
                f"{module} imports {name} (layer {owner} must not import {prefix})"
                for prefix in banned
                if name == prefix or name.startswith(prefix if prefix.endswith(".") else prefix + ".")
            )
    return problems


def _service_imports(module: str, path: Path) -> list[str]:
    """Kernel imports no capability; a capability imports another only through its named interfaces."""
    own = module.split(".")[2] if module.startswith(SERVICES + ".") else None
    if own is None or own not in (*CAPABILITIES, "kernel"):
        return []  # the package itself and bindings.py, the composition of all of them
    problems = []
    for name in _imports(path):
        if not name.startswith(SERVICES + ".") or name == SERVICES:
            continue
        other = name.split(".")[2]
        if other in (own, "kernel"):
            continue
        if own == "kernel":
            problems.append(f"{module} imports {name} (the kernel imports no capability)")
        elif not any(name == allowed or name.startswith(allowed + ".") for allowed in INTERFACES[own]):
            allowed = ", ".join(INTERFACES[own]) or "none"
            problems.append(f"{module} imports {name} (capability {own} may use of others only: {allowed})")
    return problems


def _violations() -> list[str]:
    return [
        problem
        for path in sorted(APP.rglob("*.py"))
        for problem in [*_check(_module_name(path), path), *_service_imports(_module_name(path), path)]
    ]


def test_no_module_imports_upward():
    assert _violations() == []


def test_the_checker_catches_an_upward_import(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("import app.server\nfrom app.db.tables import Execution\n")
    problems = _check("app.contracts.probe", probe)
    assert any("imports app.db.tables" in p for p in problems)
    assert any("imports app.server" in p for p in problems)


def test_the_checker_catches_a_capability_reaching_into_another(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from app.services.lifecycle.rows import load_steps\n"
        "from app.services.lifecycle.interface import lock_run\n"
        "from app.services.kernel.clock import utcnow\n"
    )
    approval = _service_imports("app.services.approval.probe", probe)
    assert any("imports app.services.lifecycle.rows" in problem for problem in approval)
    assert any("imports app.services.lifecycle.interface" in problem for problem in approval)
    assert not any("kernel" in problem for problem in approval)
    audit = _service_imports("app.services.audit.probe", probe)
    assert any("imports app.services.lifecycle.rows" in problem for problem in audit)
    assert not any("imports app.services.lifecycle.interface" in problem for problem in audit)
    kernel = _service_imports("app.services.kernel.probe", probe)
    assert any("the kernel imports no capability" in problem for problem in kernel)


def test_every_capability_folder_exists_and_is_named_by_a_capability():
    assert sorted(CAPABILITY_FOLDERS.values()) == sorted(CAPABILITIES)
    for folder in (*CAPABILITIES, "kernel"):
        assert (APP / "services" / folder / "__init__.py").is_file()
    loose = sorted(p.name for p in (APP / "services").glob("*.py") if p.name not in ("__init__.py", "bindings.py"))
    assert loose == [], "service modules belong in a capability folder or the kernel"


def test_a_contracts_capability_names_the_folder_of_its_handler():
    registry = build_registry()
    misplaced = []
    feed = LogFeed(_no_unit_of_work)  # type: ignore[arg-type] # never read: only bound
    bound: dict[str, object] = {
        **handlers_by_key(registry),
        **batch_handlers_by_key(),
        **stream_handlers_by_key(feed),
    }
    for key, handler in bound.items():
        spec = registry.get(key)
        assert isinstance(spec, OperationSpec)
        folder = CAPABILITY_FOLDERS[spec.capability.key]
        module = getattr(handler, "func", handler).__module__  # a functools.partial names its function
        if not module.startswith(f"{SERVICES}.{folder}."):
            misplaced.append(f"{key} ({spec.capability.key}) is handled in {module}, not {folder}/")
    assert misplaced == []


@pytest.mark.parametrize(
    "module",
    [
        "app.contracts.executor",
        "app.services.approval.decisions",
        "app.services.bindings",
        "app.graphql.schema",
        "app.observability.middleware",
    ],
)
def test_modules_have_no_import_time_side_effects(module):
    before = set(sys.modules)
    importlib.import_module(module)
    assert not any(name.startswith("app.server") for name in set(sys.modules) - before)
