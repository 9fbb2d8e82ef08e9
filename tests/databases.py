"""The database each test runs on: SQLite (default) or PostgreSQL (`pytest --db postgresql`).

Every test gets a database of its own, copied from a template that was migrated with Alembic and
seeded from seeds/ once per session: a file copy on SQLite, `CREATE DATABASE ... TEMPLATE` on
PostgreSQL. Tests never see each other's rows.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import uuid
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def postgres_admin_url() -> str:
    return os.environ.get("TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


async def postgres_available() -> bool:
    try:
        connection = await asyncpg.connect(postgres_admin_url(), timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    await connection.close()
    return True


class Backend:
    name: str

    async def template(self, directory: Path) -> str:
        """An empty database for the template; returns its SQLAlchemy URL."""
        raise NotImplementedError

    async def copy(self, template_url: str, directory: Path) -> str:
        raise NotImplementedError

    async def empty(self, directory: Path) -> str:
        raise NotImplementedError

    async def drop(self, url: str) -> None:
        raise NotImplementedError


class SQLiteBackend(Backend):
    name = "sqlite"

    @staticmethod
    def _url(directory: Path) -> str:
        return f"sqlite+aiosqlite:///{(directory / 'control-plane.db').as_posix()}"

    async def template(self, directory: Path) -> str:
        return self._url(directory)

    async def copy(self, template_url: str, directory: Path) -> str:
        source = make_url(template_url).database
        assert source is not None
        shutil.copy(source, directory / "control-plane.db")
        return self._url(directory)

    async def empty(self, directory: Path) -> str:
        return self._url(directory)

    async def drop(self, url: str) -> None:
        return None


class PostgresBackend(Backend):
    name = "postgresql"

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url

    def _url(self, name: str) -> str:
        url = make_url(self.admin_url).set(drivername="postgresql+asyncpg", database=name)
        return url.render_as_string(hide_password=False)

    async def _admin(self, statement: str) -> None:
        connection = await asyncpg.connect(self.admin_url)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    @staticmethod
    def _new_name() -> str:
        return f"cp_test_{uuid.uuid4().hex[:16]}"

    async def template(self, directory: Path) -> str:
        return await self.empty(directory)

    async def copy(self, template_url: str, directory: Path) -> str:
        name = self._new_name()
        await self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{make_url(template_url).database}"')
        return self._url(name)

    async def empty(self, directory: Path) -> str:
        name = self._new_name()
        await self._admin(f'CREATE DATABASE "{name}"')
        return self._url(name)

    async def drop(self, url: str) -> None:
        await self._admin(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


def _main(argv: list[str]) -> int:
    """`python -m tests.databases ping`: exit 0 when PostgreSQL answers at TEST_POSTGRES_URL."""
    if argv[:1] == ["ping"]:
        ok = asyncio.run(postgres_available())
        if not ok:
            print(f"PostgreSQL does not answer at {postgres_admin_url()}")  # noqa: T201 - a command-line tool
        return 0 if ok else 1
    print("usage: python -m tests.databases ping")  # noqa: T201 - a command-line tool
    return 2


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
