"""Concurrent uploads on the real app (its lifespan, PostgreSQL, Kafka) served by uvicorn with the API's server
options: past the configured uploads in flight one is answered 503 with Retry-After, past a tenant's share 429, and
/healthz stays fast while uploads are parsed and published (nothing of an upload's work blocks the event loop for
long); an upload without a valid key or a slot is answered before its body is sent."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from services.ingest.adapters.tenants import create_tenant
from services.ingest.entrypoints.http.app import server_options
from services.ingest.main import create_app
from services.ingest.settings import IngestSettings
from services.platform.settings import ConnectionSettings
from tests.support.serving import serving
from tools.samples import sample_rows, write_sample_xlsx

pytestmark = pytest.mark.integration
IN_FLIGHT = 2


@pytest.fixture(scope="module")
async def served(connection_settings: ConnectionSettings) -> AsyncIterator[tuple[str, FastAPI]]:
    values = connection_settings.model_dump() | {
        "topic_prefix": f"{connection_settings.topic_prefix}bounds-{uuid.uuid4().hex[:6]}.",
        "max_uploads_in_flight": IN_FLIGHT,
        "upload_retry_after_seconds": 3,
    }
    settings = IngestSettings(**values)
    app = create_app(settings)
    async with serving(app, **server_options(settings)) as (host, port):
        yield f"http://{host}:{port}", app


async def test_past_the_limit_an_upload_is_a_503_past_a_tenants_share_a_429_and_healthz_stays_fast(
    served: tuple[str, FastAPI], pool: asyncpg.Pool, tmp_path: Path
) -> None:
    base, app = served
    async with pool.acquire() as conn:
        keys = [(await create_tenant(conn, f"bounds {n}"))[1] for n in range(3)]
    big = tmp_path / "big.xlsx"
    write_sample_xlsx(big, sample_rows(2500, 2, seed=7))
    small = tmp_path / "small.xlsx"
    write_sample_xlsx(small, sample_rows(1, 1, seed=8))
    assert app.state.upload_slots.share == 1  # IN_FLIGHT // 2

    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        contents = {path: path.read_bytes() for path in (big, small)}

        async def upload(path: Path, key: str) -> httpx.Response:
            return await client.post(
                "/v1/imports", files={"file": (path.name, contents[path])}, headers={"X-API-Key": key}
            )

        async def healthz_latencies(stop: asyncio.Event) -> list[float]:
            seen = []
            async with httpx.AsyncClient(base_url=base, timeout=10) as probe:
                while not stop.is_set():
                    started = time.monotonic()
                    assert (await probe.get("/healthz")).status_code == 200
                    seen.append(time.monotonic() - started)
                    await asyncio.sleep(0.02)
            return seen

        stop = asyncio.Event()
        probing = asyncio.create_task(healthz_latencies(stop))
        held = [asyncio.create_task(upload(big, key)) for key in keys[:IN_FLIGHT]]  # one tenant each: their share
        deadline = time.monotonic() + 30
        while app.state.upload_slots.in_flight < IN_FLIGHT:
            assert time.monotonic() < deadline and not any(t.done() for t in held), "uploads never held every slot"
            await asyncio.sleep(0.005)
        over_share = await upload(small, keys[0])
        refused = await upload(small, keys[2])
        answers: list[Any] = await asyncio.gather(*held)
        stop.set()
        latencies = sorted(await probing)

    assert refused.status_code == 503, refused.text
    assert refused.headers["retry-after"] == "3" and refused.json()["code"] == "too_many_uploads"
    assert over_share.status_code == 429, over_share.text
    assert over_share.headers["retry-after"] == "3" and over_share.json()["code"] == "too_many_tenant_uploads"
    assert [a.status_code for a in answers] == [202] * IN_FLIGHT, [a.text for a in answers]
    p95 = latencies[int(len(latencies) * 0.95)]
    print(
        f"/healthz during {IN_FLIGHT} uploads of 5,000 rows: {len(latencies)} probes, p95 {p95 * 1000:.0f} ms, "
        f"max {latencies[-1] * 1000:.0f} ms"
    )
    assert p95 < 0.5, latencies  # measured: 90-190 ms on 2 shared cores


async def _answer_to_a_partial_upload(base: str, key: str) -> bytes:
    """Sends the head of a 10 MB upload and 1 KB of its body, then waits: what the server answers (and closes)."""
    host, port = base.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    head = (
        f"POST /v1/imports HTTP/1.1\r\nHost: x\r\nX-API-Key: {key}\r\nContent-Length: 10000000\r\n"
        "Content-Type: multipart/form-data; boundary=b\r\n\r\n"
    )
    writer.write(head.encode() + b'--b\r\nContent-Disposition: form-data; name="file"; filename="x.csv"\r\n\r\n')
    writer.write(b"x" * 1024)
    await writer.drain()
    try:
        async with asyncio.timeout(5):  # far less than the body deadline: the server answers unasked
            return await reader.read()
    finally:
        writer.close()


async def test_an_upload_without_a_valid_key_or_a_slot_is_answered_before_its_body_is_sent(
    served: tuple[str, FastAPI], pool: asyncpg.Pool
) -> None:
    base, app = served
    assert (await _answer_to_a_partial_upload(base, "oik_not-a-key")).startswith(b"HTTP/1.1 401 ")
    async with pool.acquire() as conn:
        tenant, key = await create_tenant(conn, "bounds partial")
    slots = app.state.upload_slots
    slots.take(tenant.id)  # the tenant's share is taken
    try:
        answer = await _answer_to_a_partial_upload(base, key)
    finally:
        slots.give_back(tenant.id)
    assert answer.startswith(b"HTTP/1.1 429 ") and b"retry-after: 3" in answer.lower(), answer
