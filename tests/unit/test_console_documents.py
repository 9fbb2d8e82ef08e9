"""The operator console's GraphQL documents (app/static/console/documents/*.graphql) are valid against
schema.graphql: a schema change that would break the console fails here, before any browser runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from graphql import GraphQLSchema, OperationDefinitionNode, build_schema, parse, validate

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = sorted((ROOT / "app" / "static" / "console" / "documents").glob("*.graphql"))
CONSOLE = ROOT / "app" / "static" / "console"


@pytest.fixture(scope="module")
def schema() -> GraphQLSchema:
    return build_schema((ROOT / "schema.graphql").read_text(encoding="utf-8"))


def test_the_console_has_its_documents() -> None:
    assert len(DOCUMENTS) >= 8, DOCUMENTS


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda path: path.name)
def test_each_document_is_valid_against_the_schema(path: Path, schema: GraphQLSchema) -> None:
    document = parse(path.read_text(encoding="utf-8"))
    errors = validate(schema, document)
    assert errors == [], [error.message for error in errors]
    operations = [node for node in document.definitions if isinstance(node, OperationDefinitionNode)]
    assert len(operations) == 1, "one operation per file"
    assert operations[0].name is not None
    assert operations[0].name.value == path.stem, "the file is named after its operation"


def test_every_document_the_console_loads_exists() -> None:
    """The modules name documents by file stem (api.request("Viewer"), api.data, api.subscribe,
    this.send); each name resolves, and each document is used."""
    names = {path.stem for path in DOCUMENTS}
    used: set[str] = set()
    for module in CONSOLE.glob("*.js"):
        used |= set(re.findall(r"""\b(?:request|subscribe|data|send)\(\s*["']([A-Za-z]+)["']""", module.read_text()))
    assert used, "the console's modules load no document"
    assert used <= names, f"documents missing: {sorted(used - names)}"
    assert names <= used, f"documents no module loads: {sorted(names - used)}"
