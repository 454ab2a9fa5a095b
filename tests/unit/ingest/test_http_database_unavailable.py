"""The database out of reach: every API route answers 503 `database_unavailable` with Retry-After, never a 500.

The app is the real one, its lifespan entered with a pool on a closed port (nothing listens: every connection is
refused at once), and with a pool whose connection is lost in the middle of a statement."""

from __future__ import annotations

import contextlib
import re
import socket
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from services.ingest.entrypoints.http import app as http_app
from services.ingest.entrypoints.http.app import ApiResources
from services.ingest.main import create_app
from services.ingest.settings import IngestSettings
from tests.support.api import api_routes

SAMPLE = {"import_id": "00000000-0000-0000-0000-000000000001", "customer_id": "00000000-0000-0000-0000-000000000001"}


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port  # closed again: connecting to it is refused


class LostConnection:
    """A connection whose every statement finds the server gone."""

    def __getattr__(self, name: str) -> Any:
        async def lost(*_: Any, **__: Any) -> Any:
            raise asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation")

        return lost


class LosingPool:
    @contextlib.asynccontextmanager
    async def acquire(self, **_: Any) -> AsyncIterator[LostConnection]:
        yield LostConnection()


@contextlib.asynccontextmanager
async def serving(pool: Any) -> AsyncIterator[httpx.AsyncClient]:
    @contextlib.asynccontextmanager
    async def resources() -> AsyncIterator[ApiResources]:
        yield ApiResources(pool=pool, broker=None)

    base = create_app(IngestSettings())  # the composition root's arguments, with these resources
    app: FastAPI = http_app.create_app(
        base.state.settings,
        resources,
        events_topic=base.state.events_topic,
        push_options=base.state.push_options,
        tombstone=base.state.tombstone,
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app, raise_app_exceptions=False)
        headers = {"X-API-Key": "oik_some_key"}
        async with httpx.AsyncClient(transport=transport, base_url="http://api", headers=headers) as client:
            yield client


def _requests() -> list[tuple[str, str]]:
    app = create_app(IngestSettings())
    found = []
    for route in api_routes(app.routes):
        if route.path.startswith("/v1/"):
            path = re.sub(r"\{(\w+)(:path)?\}", lambda m: SAMPLE.get(m[1], "K1"), route.path)
            found += [(method, path) for method in sorted(route.methods)]
    return found


def _assert_unavailable(answer: httpx.Response) -> None:
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["code"] == "database_unavailable"
    assert int(answer.headers["retry-after"]) > 0


async def test_every_route_answers_503_while_the_database_refuses_connections() -> None:
    pool = await asyncpg.create_pool(f"postgresql://nobody@127.0.0.1:{_closed_port()}/none", min_size=0)
    try:
        async with serving(pool) as client:
            requests = _requests()
            assert len(requests) >= 15
            for method, path in requests:
                _assert_unavailable(await client.request(method, path))
            counted = (await client.get("/metrics")).text
    finally:
        await pool.close()
    assert 'status="503"' in counted and 'status="500"' not in counted  # as answered, also the upload gate's


@pytest.mark.parametrize(("method", "path"), [("GET", "/v1/orders"), ("POST", "/v1/imports")])
async def test_a_connection_lost_in_a_statement_answers_503(method: str, path: str) -> None:
    async with serving(LosingPool()) as client:
        _assert_unavailable(await client.request(method, path))
