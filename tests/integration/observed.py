"""Shared by test_production.py and test_observability.py: apps with overridden settings, HTTP
clients on them, everything the server logs (formatted as in production) and its metrics."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, Self

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette

from app.observability.logs import LogFormat, make_formatter, secret_values
from app.server import create_app
from tests.conftest import make_settings

GQL = "application/graphql-response+json"
REQUEST_LOGGER = "app.request"

AppFactory = Callable[..., Starlette]


@pytest.fixture
async def build_app(tmp_path: Path, database_url: str) -> AsyncIterator[AppFactory]:
    """`build_app(**settings)`: an app on this test's seeded database with those settings overridden."""
    apps: list[Starlette] = []

    def build(**overrides: Any) -> Starlette:
        application = create_app(make_settings(tmp_path, database_url, **overrides), migrate_on_start=False)
        apps.append(application)
        return application

    yield build
    for application in apps:
        await application.state.services.database.dispose()


def client(app: Starlette, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver", headers=headers or {}
    )


def media_type(response: httpx.Response) -> str:
    """The response's media type, without parameters such as charset."""
    return response.headers["content-type"].split(";")[0].strip()


def bearer(app: Starlette, sub: str = "dana", *roles: str) -> dict[str, str]:
    token = app.state.services.tokens.mint(sub, list(roles) or ["admin"], ["*"], 600)
    return {"Authorization": f"Bearer {token}"}


async def graphql(
    app: Starlette,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    headers: dict[str, str] | None = None,
    operation_name: str | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {"query": query}
    if variables is not None:
        body["variables"] = variables
    if operation_name is not None:
        body["operationName"] = operation_name
    async with client(app, headers) as http:
        return await http.post("/graphql", json=body)


class CapturedLog:
    """Everything logged (root logger, every level from DEBUG) formatted by the server's own formatter."""

    def __init__(self, app: Starlette, log_format: LogFormat) -> None:
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(make_formatter(log_format, secret_values(app.state.services.settings)))
        self._level = logging.NOTSET

    def __enter__(self) -> Self:
        root = logging.getLogger()
        self._level = root.level
        root.addHandler(self.handler)
        root.setLevel(logging.DEBUG)
        return self

    def __exit__(self, *_: object) -> None:
        root = logging.getLogger()
        root.removeHandler(self.handler)
        root.setLevel(self._level)

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def entries(self) -> list[dict[str, Any]]:
        """The JSON lines (with LOG_FORMAT=json every line is one object)."""
        return [json.loads(line) for line in self.text.splitlines() if line.startswith("{")]

    def requests(self) -> list[dict[str, Any]]:
        return [entry for entry in self.entries() if entry["logger"] == REQUEST_LOGGER]

    def of_request(self, request_id: str) -> list[dict[str, Any]]:
        return [entry for entry in self.entries() if entry.get("request_id") == request_id]


@pytest.fixture
def capture_log() -> Iterator[Callable[..., CapturedLog]]:
    """`with capture_log(app) as log:` (LOG_FORMAT json unless `log_format` says otherwise)."""
    opened: list[CapturedLog] = []

    def capture(app: Starlette, log_format: LogFormat = "json") -> CapturedLog:
        captured = CapturedLog(app, log_format)
        opened.append(captured)
        return captured

    yield capture
    for captured in opened:
        captured.__exit__()


async def metric_samples(app: Starlette) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """GET /metrics, parsed: (sample name, labels) -> value."""
    async with client(app) as http:
        response = await http.get("/metrics")
    assert response.status_code == 200, response.text
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def sample(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))
