"""An upload's CPU work runs off the event loop: while a 2,500-order upload is parsed, recorded and published,
the loop keeps ticking (what other tenants' requests, health checks and Kafka callbacks need)."""

from __future__ import annotations

import asyncio
import io
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from services.ingest.adapters.tenants import create_tenant
from services.ingest.main import create_app
from services.ingest.settings import IngestSettings
from services.platform.settings import ConnectionSettings
from tools.samples import sample_rows, write_sample_csv

pytestmark = pytest.mark.integration
ORDERS = 2_500
TICK = 0.005
# Measured on the shared 2-core machine: before, a dry run stopped the loop 780-860 ms (the answer's 2,500 planned
# orders validated and serialised on it, the collector's pauses on the parse thread) and a real upload 95-170 ms;
# after, 40-230 ms. The bound is generous so that a loaded machine does not make it flaky.
MAX_GAP = 0.400


@pytest.fixture(scope="module")
async def client(connection_settings: ConnectionSettings) -> AsyncIterator[httpx.AsyncClient]:
    values = connection_settings.model_dump() | {
        "topic_prefix": f"{connection_settings.topic_prefix}loop-{uuid.uuid4().hex[:6]}."
    }
    app = create_app(IngestSettings(**values))
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://api") as c:
        yield c


async def _gaps(stop: asyncio.Event, gaps: list[float]) -> None:
    last = time.perf_counter()
    while not stop.is_set():
        await asyncio.sleep(TICK)
        now = time.perf_counter()
        gaps.append(now - last - TICK)
        last = now


@pytest.mark.parametrize("dry_run", ["true", "false"])
async def test_the_loop_keeps_ticking_during_a_large_upload(
    client: httpx.AsyncClient, pool: asyncpg.Pool, tmp_path: Path, dry_run: str
) -> None:
    async with pool.acquire() as conn:
        _, key = await create_tenant(conn, f"loop {dry_run}")
    path = tmp_path / "orders.csv"
    write_sample_csv(path, sample_rows(ORDERS, 1, seed=11))
    data = path.read_bytes()
    stop, gaps = asyncio.Event(), []
    sampler = asyncio.create_task(_gaps(stop, gaps))
    started = time.perf_counter()
    answer = await client.post(
        "/v1/imports",
        headers={"X-API-Key": key},
        files={"file": ("orders.csv", io.BytesIO(data), "text/csv")},
        data={"dry_run": dry_run},
    )
    took = time.perf_counter() - started
    stop.set()
    await sampler
    assert answer.status_code == 202, answer.text
    worst = sorted(gaps)[-5:]
    print(f"dry_run={dry_run}: {took:.2f} s, {len(gaps)} ticks, worst gaps (ms) {[round(g * 1000) for g in worst]}")
    assert max(gaps) < MAX_GAP, f"the loop stood still {max(gaps) * 1000:.0f} ms during the upload"
