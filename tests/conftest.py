"""Shared fixtures: a migrated and seeded template database copied per test (SQLite by default,
PostgreSQL with `--db postgresql`), and gql clients that talk to the ASGI app in process the way
Studio does."""

from __future__ import annotations

import asyncio
import enum
import os
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Final, Protocol

import httpx
import pytest
from gql import Client, gql
from gql.transport.exceptions import TransportQueryError
from gql.transport.httpx import HTTPXAsyncTransport
from sqlalchemy import text
from starlette.applications import Starlette

from app.db import migrate
from app.db.database import Database
from app.seeding.player import default_dataset, load_seed, seeding_settings
from app.server import Services, build_services, create_app
from app.settings import Settings
from tests.databases import (
    DEFAULT_POSTGRES_URL,
    Backend,
    PostgresBackend,
    SQLiteBackend,
    postgres_admin_url,
    postgres_available,
)

pytest_plugins = ["tests.jwks_provider"]  # the `provider` fixture: a real local JWKS endpoint

TEST_SECRET = "test-secret-" + "x" * 40
TABLES = (
    "execution",
    "execution_step",
    "approval_decision",
    "approval_vote",
    "execution_event",
    "skill_installation",
    "intent",
    "plan",
    "execution_run",
    "evidence_bundle",
    "webhook_endpoint",
    "webhook_delivery",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        choices=("sqlite", "postgresql"),
        default=os.environ.get("TEST_DB", "sqlite"),
        help="database every test runs on (PostgreSQL at TEST_POSTGRES_URL, default " + DEFAULT_POSTGRES_URL + ")",
    )


def pytest_report_header(config: pytest.Config) -> str:
    return f"database: {config.getoption('--db')}"


def make_settings(var_dir: Path, database_url: str | None = None, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "var_dir": var_dir,
        "database_url": database_url or f"sqlite+aiosqlite:///{(var_dir / 'control-plane.db').as_posix()}",
        "jwt_secret": TEST_SECRET,
        "app_env": "development",
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="session")
def backend(request: pytest.FixtureRequest) -> Backend:
    if request.config.getoption("--db") == "sqlite":
        return SQLiteBackend()
    if not asyncio.run(postgres_available()):
        pytest.fail(f"--db postgresql: no PostgreSQL server answers at {postgres_admin_url()}")
    return PostgresBackend(postgres_admin_url())


@pytest.fixture(scope="session")
def seeded_template(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Migrated with Alembic and seeded from seeds/ once per session; returns its URL."""
    directory = tmp_path_factory.mktemp("template")

    async def build() -> str:
        url = await backend.template(directory)
        dataset = default_dataset()
        services = build_services(seeding_settings(make_settings(directory, url), dataset))
        await migrate.upgrade(services.database.engine)
        await load_seed(services.database, services.executor, dataset)
        await services.database.dispose()
        return url

    url = asyncio.run(build())
    yield url
    asyncio.run(backend.drop(url))


@pytest.fixture
async def database_url(backend: Backend, seeded_template: str, tmp_path: Path) -> AsyncIterator[str]:
    """A seeded database of this test's own."""
    url = await backend.copy(seeded_template, tmp_path)
    yield url
    await backend.drop(url)


@pytest.fixture
async def empty_database_url(backend: Backend, tmp_path: Path) -> AsyncIterator[str]:
    """A database with no tables at all (for migration tests and the serve path)."""
    directory = tmp_path / "empty"
    directory.mkdir()
    url = await backend.empty(directory)
    yield url
    await backend.drop(url)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Starlette]:
    application = create_app(settings, migrate_on_start=False)
    yield application
    await application.state.services.database.dispose()


@pytest.fixture
def services(app: Starlette) -> Services:
    services: Services = app.state.services
    return services


@pytest.fixture
def database(services: Services) -> Database:
    return services.database


class MintToken(Protocol):
    """The `token` fixture: `token()` is an admin token for dana granted every workspace, `token("rita",
    "runner", workspaces=["ws-acme"])` one with those roles and grants."""

    def __call__(self, sub: str = "dana", *roles: str, ttl: int = 600, workspaces: Sequence[str] = ("*",)) -> str: ...


@pytest.fixture
def token(services: Services) -> MintToken:
    def mint(sub: str = "dana", *roles: str, ttl: int = 600, workspaces: Sequence[str] = ("*",)) -> str:
        """A token of `sub` (admin unless roles are given), granted every workspace unless `workspaces` says."""
        return services.tokens.mint(sub, list(roles) if roles else ["admin"], list(workspaces), ttl)

    return mint


class DefaultToken(enum.Enum):
    """The one value of `DEFAULT_TOKEN` (an enum, so the type checker knows it from every string)."""

    ADMIN = enum.auto()


DEFAULT_TOKEN: Final = DefaultToken.ADMIN
Bearer = str | DefaultToken | None
"""What a request sends as its bearer token: that string; None, no Authorization header at all; or
DEFAULT_TOKEN, a fresh admin token for dana (what `execute` and the helpers around it send unless told)."""


class Execute(Protocol):
    """The `execute` fixture: runs a document, returns its data or raises TransportQueryError carrying `.errors`."""

    async def __call__(
        self, document: str, variables: dict[str, Any] | None = None, *, bearer: Bearer = DEFAULT_TOKEN
    ) -> dict[str, Any]: ...


HttpClient = Callable[[dict[str, str]], httpx.AsyncClient]
GqlClient = Callable[[str | None], Client]


@pytest.fixture
def http(app: Starlette) -> HttpClient:
    def client(headers: dict[str, str]) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver", headers=headers)

    return client


@pytest.fixture
def gql_client(app: Starlette) -> GqlClient:
    """A gql Client over httpx's ASGI transport; `None` sends no Authorization header."""

    def client(bearer: str | None) -> Client:
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        transport = HTTPXAsyncTransport(
            url="http://testserver/graphql", headers=headers, transport=httpx.ASGITransport(app=app)
        )
        return Client(transport=transport, fetch_schema_from_transport=False)

    return client


@pytest.fixture
def execute(gql_client: GqlClient, token: MintToken) -> Execute:
    async def run(
        document: str, variables: dict[str, Any] | None = None, *, bearer: Bearer = DEFAULT_TOKEN
    ) -> dict[str, Any]:
        credential = token() if bearer is DEFAULT_TOKEN else bearer
        request = gql(document)
        if variables is not None:
            request.variable_values = variables
        async with gql_client(credential) as session:
            data: dict[str, Any] = await session.execute(request)
            return data

    return run


def first_error(error: TransportQueryError) -> dict[str, Any]:
    """The first GraphQL error of a failed request (gql's `errors` is typed optional)."""
    assert error.errors, error
    first: dict[str, Any] = error.errors[0]
    return first


def error_of(excinfo: pytest.ExceptionInfo[TransportQueryError]) -> dict[str, Any]:
    errors = excinfo.value.errors or []
    assert len(errors) == 1, errors
    error: dict[str, Any] = errors[0]
    return error


Snapshot = dict[str, list[tuple[Any, ...]]]
"""Table name -> every row, as `snapshot` reads them."""


async def snapshot(database: Database) -> Snapshot:
    """Every row of every table, in a stable order: equal snapshots mean nothing changed."""
    rows: Snapshot = {}
    async with database.engine.connect() as conn:
        for table in TABLES:
            result = await conn.execute(text(f"SELECT * FROM {table}"))
            rows[table] = sorted((tuple(row) for row in result), key=repr)
    return rows
