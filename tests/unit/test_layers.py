"""Imports point down: transport -> executor -> service -> store (DESIGN.md, "Layers")."""

import ast
from pathlib import Path

import pytest

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
}


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
    problems = []
    for owner, banned in FORBIDDEN.items():
        if module != owner and not module.startswith(owner + "."):
            continue
        for name in _imports(path):
            for prefix in banned:
                if name == prefix or name.startswith(prefix if prefix.endswith(".") else prefix + "."):
                    problems.append(f"{module} imports {name} (layer {owner} must not import {prefix})")
    return problems


def _violations() -> list[str]:
    return [problem for path in sorted(APP.rglob("*.py")) for problem in _check(_module_name(path), path)]


def test_no_module_imports_upward():
    assert _violations() == []


def test_the_checker_catches_an_upward_import(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("import app.server\nfrom app.db.tables import Execution\n")
    problems = _check("app.contracts.probe", probe)
    assert any("imports app.db.tables" in p for p in problems)
    assert any("imports app.server" in p for p in problems)


@pytest.mark.parametrize(
    "module", ["app.contracts.executor", "app.services.decisions", "app.graphql.schema", "app.observability.middleware"]
)
def test_modules_have_no_import_time_side_effects(module):
    import importlib
    import sys

    before = set(sys.modules)
    importlib.import_module(module)
    assert not any(name.startswith("app.server") for name in set(sys.modules) - before)
