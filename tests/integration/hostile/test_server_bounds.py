"""The HTTP server's bounds on a tiny app, deterministic: uploads in flight, body deadline, head deadline."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, Request

from services.ingest.entrypoints.http import problems
from services.ingest.entrypoints.http.limits import BodyDeadline, UploadSlot, UploadSlots, head_deadline_protocol
from tests.support.serving import serving

HEAD_TIMEOUT, BODY_TIMEOUT, SLOTS = 0.6, 0.8, 2
Served = tuple[str, int, asyncio.Event, FastAPI]


def tiny_app(release: asyncio.Event) -> FastAPI:
    app = FastAPI()
    problems.install(app)
    app.state.upload_slots = UploadSlots(SLOTS, retry_after_seconds=7)
    app.add_middleware(BodyDeadline, seconds=BODY_TIMEOUT)

    @app.post("/upload")
    async def upload(_: UploadSlot) -> dict[str, str]:
        await release.wait()
        return {"ok": "yes"}

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    release = asyncio.Event()
    app = tiny_app(release)
    options = {"lifespan": "off", "http": head_deadline_protocol(HEAD_TIMEOUT), "timeout_keep_alive": 5}
    async with serving(app, **options) as (host, port):
        try:
            yield host, port, release, app
        finally:
            release.set()


async def test_past_the_uploads_in_flight_an_upload_is_a_503_with_retry_after(served: Served) -> None:
    host, port, release, app = served
    async with httpx.AsyncClient(base_url=f"http://{host}:{port}", timeout=10) as client:
        held = [asyncio.create_task(client.post("/upload")) for _ in range(SLOTS)]
        deadline = time.monotonic() + 5
        while app.state.upload_slots.in_flight < SLOTS:
            assert time.monotonic() < deadline, "the uploads never took their slots"
            await asyncio.sleep(0.01)
        refused = await client.post("/upload")
        assert refused.status_code == 503 and refused.headers["retry-after"] == "7"
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["code"] == "too_many_uploads"
        assert (await client.get("/healthz")).status_code == 200
        release.set()
        assert [r.status_code for r in await asyncio.gather(*held)] == [200] * SLOTS
        assert app.state.upload_slots.in_flight == 0
        assert (await client.post("/upload")).status_code == 200  # slots are given back


async def read_all(reader: asyncio.StreamReader, within: float) -> tuple[bytes, float]:
    """What the server sent until it closed the connection (a reset counts as closed: it may drop the 408 the
    server wrote while the client was still sending); fails if it is still open after `within` seconds."""
    started, data = time.monotonic(), b""
    with contextlib.suppress(ConnectionResetError):
        async with asyncio.timeout(within):
            while chunk := await reader.read(65536):
                data += chunk
    return data, time.monotonic() - started


def assert_cut_off(data: bytes) -> None:
    assert data == b"" or (data.startswith(b"HTTP/1.1 408 ") and b"request_timeout" in data), data


async def trickle(writer: asyncio.StreamWriter, data: bytes, every: float) -> None:
    with contextlib.suppress(ConnectionError):
        for byte in data:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(every)


@pytest.mark.parametrize("first", [b"", b"GET /healthz HTTP/1.1\r\nHost: x\r\n"])
async def test_a_client_trickling_its_head_is_cut_off_at_the_head_deadline(served: Served, first: bytes) -> None:
    host, port, _, _ = served
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(first)
    sending = asyncio.create_task(trickle(writer, b"X-Slow: " + b"a" * 100, every=0.1))
    data, took = await read_all(reader, within=HEAD_TIMEOUT + 2)
    sending.cancel()
    writer.close()
    assert_cut_off(data)
    assert HEAD_TIMEOUT * 0.8 <= took <= HEAD_TIMEOUT + 1, took


async def test_a_body_trickle_is_cut_off_at_the_body_deadline_while_others_are_served(served: Served) -> None:
    host, port, _, _ = served
    slow = []
    for _ in range(15):
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
        slow.append((reader, writer, asyncio.create_task(trickle(writer, b"b" * 1000, every=0.1))))
    async with httpx.AsyncClient(base_url=f"http://{host}:{port}", timeout=5) as client:
        latencies = []
        for _ in range(10):
            started = time.monotonic()
            assert (await client.get("/healthz")).status_code == 200
            latencies.append(time.monotonic() - started)
    assert max(latencies) < 0.5, latencies
    answers = await asyncio.gather(*(read_all(reader, within=BODY_TIMEOUT + 2) for reader, _, _ in slow))
    for (_, writer, sending), (data, took) in zip(slow, answers, strict=True):
        sending.cancel()
        writer.close()
        assert_cut_off(data)
        assert took <= BODY_TIMEOUT + 1, took


@pytest.mark.parametrize(
    "sent", [b"GET /healthz HTTP/1.1\r\n", b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\nabc"]
)
async def test_a_stalled_request_is_answered_408_and_closed(served: Served, sent: bytes) -> None:
    host, port, _, _ = served
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(sent)
    data, took = await read_all(reader, within=max(HEAD_TIMEOUT, BODY_TIMEOUT) + 2)
    writer.close()
    assert data.startswith(b"HTTP/1.1 408 ") and b"application/problem+json" in data, data
    assert took <= max(HEAD_TIMEOUT, BODY_TIMEOUT) + 1, took


async def test_a_prompt_client_on_a_keep_alive_connection_is_not_cut_off(served: Served) -> None:
    host, port, _, _ = served
    async with httpx.AsyncClient(base_url=f"http://{host}:{port}", timeout=5) as client:
        for _ in range(3):
            assert (await client.post("/echo", content=b"x" * 100_000)).json() == {"bytes": 100_000}
            await asyncio.sleep(HEAD_TIMEOUT / 2)
        assert (await client.get("/healthz")).status_code == 200
