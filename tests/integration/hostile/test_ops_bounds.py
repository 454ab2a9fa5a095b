"""Anonymous operations traffic stays bounded (probes 5 and 6 after issue 10, on the real app and ops server):
unmatched paths share one route label, and a burst of /readyz on the ops server of the consumer or relay opens
one database connection, not one each."""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from services.platform.observability import Metrics, kafka_check, postgres_url_check, serve_ops
from tests.integration.hostile.conftest import Api
from tests.support.ops import free_port, until_serving

pytestmark = pytest.mark.integration


async def test_unmatched_paths_share_one_route_label(api: Api) -> None:
    paths = [f"/probe-{uuid.uuid4().hex}/{n}" for n in range(40)]
    for path in paths:
        await api.client.get(path)
    routes = set(re.findall(r'route="([^"]*)"', (await api.client.get("/metrics")).text))
    assert "unmatched" in routes
    assert not [r for r in routes if r.startswith("/probe-")], routes


async def test_a_readiness_burst_on_the_ops_server_opens_one_database_connection(
    database_url: str, kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    connects = 0
    real_connect = asyncpg.connect

    async def counted(*args: Any, **kwargs: Any) -> asyncpg.Connection:
        nonlocal connects
        connects += 1
        return await real_connect(*args, **kwargs)

    monkeypatch.setattr(asyncpg, "connect", counted)
    port, stop = free_port(), asyncio.Event()
    checks = {"postgres": postgres_url_check(database_url), "kafka": kafka_check(kafka_bootstrap)}
    server = asyncio.create_task(serve_ops("127.0.0.1", port, checks, Metrics(), stop))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            await until_serving(client)
            answers = await asyncio.gather(*(client.get("/readyz") for _ in range(30)))
        assert {a.status_code for a in answers} == {200}
        assert connects <= 2, f"30 anonymous /readyz calls opened {connects} PostgreSQL connections"
    finally:
        stop.set()
        await asyncio.wait_for(server, 10)
