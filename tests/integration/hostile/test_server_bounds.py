"""The HTTP server's bounds on a tiny app, deterministic: uploads in flight (in all and per tenant), body rate,
head deadline."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from services.ingest.application.uploads import Slots
from services.ingest.entrypoints.http import problems
from services.ingest.entrypoints.http.limits import (
    BodyDeadline,
    UploadGate,
    UploadSlot,
    head_deadline_protocol,
)
from services.ingest.errors import ApiProblem
from tests.support.serving import serving

HEAD_TIMEOUT, BODY_GRACE, BODY_RATE, SLOTS = 0.6, 0.8, 2000, 4
BODY_TIMEOUT = BODY_GRACE  # a stalled body is cut off at the grace
Served = tuple[str, int, asyncio.Event, FastAPI]


@dataclass(frozen=True)
class Principal:
    id: str


async def key_is_tenant(request: Request) -> Principal:
    """The tiny app's authentication: the X-API-Key names the tenant."""
    key = request.headers.get("x-api-key")
    if not key:
        raise ApiProblem(401, "Unauthorized", "a valid X-API-Key header is required", code="unauthorized")
    return Principal(key)


def tiny_app(release: asyncio.Event) -> FastAPI:
    app = FastAPI()
    problems.install(app)
    app.state.upload_slots = Slots(SLOTS, retry_after_seconds=7, per_tenant=2)
    app.add_middleware(UploadGate, path="/upload", authenticate=key_is_tenant)
    app.add_middleware(BodyDeadline, grace=BODY_GRACE, min_rate=BODY_RATE)

    @app.post("/upload")
    async def upload(request: Request, _: UploadSlot) -> dict[str, int]:
        await release.wait()
        return {"bytes": len(await request.body())}

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


async def test_past_its_share_a_tenant_gets_429_past_the_slots_everyone_gets_503(served: Served) -> None:
    host, port, release, app = served
    slots: Slots = app.state.upload_slots
    async with httpx.AsyncClient(base_url=f"http://{host}:{port}", timeout=10) as client:

        def post(tenant: str) -> Any:
            return client.post("/upload", headers={"X-API-Key": tenant}, content=b"x" * 10)

        held = [asyncio.create_task(post(tenant)) for tenant in ("b", "b", "a")]
        deadline = time.monotonic() + 5
        while slots.in_flight < 3:
            assert time.monotonic() < deadline, "the uploads never took their slots"
            await asyncio.sleep(0.01)
        over_share = await post("b")  # b holds its share (2): a and c are still served
        assert over_share.status_code == 429 and over_share.headers["retry-after"] == "7", over_share.text
        assert over_share.json()["code"] == "too_many_tenant_uploads"
        held.append(asyncio.create_task(post("c")))
        while slots.in_flight < SLOTS:
            assert time.monotonic() < deadline, "c never took the last slot"
            await asyncio.sleep(0.01)
        refused = await post("d")  # every slot taken: 503 for anyone
        assert refused.status_code == 503 and refused.headers["retry-after"] == "7"
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["code"] == "too_many_uploads"
        assert (await client.post("/upload")).status_code == 401
        assert (await client.get("/healthz")).status_code == 200
        release.set()
        assert [r.status_code for r in await asyncio.gather(*held)] == [200] * SLOTS
        assert slots.in_flight == 0 and not slots.by_tenant
        assert (await post("b")).json() == {"bytes": 10}  # slots are given back


async def _post_head(host: str, port: int, key: str, length: int) -> tuple[asyncio.StreamReader, Any]:
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(f"POST /upload HTTP/1.1\r\nHost: x\r\nX-API-Key: {key}\r\nContent-Length: {length}\r\n\r\n".encode())
    writer.write(b"x" * 100)  # a fraction of the body
    await writer.drain()
    return reader, writer


@pytest.mark.parametrize(
    ("key", "holders", "status"), [("", [], b"401"), ("b", ["b", "b"], b"429"), ("c", ["a", "a", "b", "b"], b"503")]
)
async def test_an_upload_without_a_key_or_a_slot_is_answered_before_its_body_is_sent(
    served: Served, key: str, holders: list[str], status: bytes
) -> None:
    host, port, _, app = served
    for holder in holders:  # the slots these tenants hold
        app.state.upload_slots.take(holder)
    reader, writer = await _post_head(host, port, key, length=10_000_000)
    data, _ = await read_all(reader, within=BODY_GRACE / 2)  # answered and closed, the body never sent
    writer.close()
    assert data.startswith(b"HTTP/1.1 " + status + b" "), data
    assert b"connection: close" in data.lower()


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


async def _send_body_at(host: str, port: int, size: int, chunk: int, every: float) -> tuple[bytes, float]:
    """POST /echo with a body of `size` bytes sent `chunk` bytes every `every` s; what the server answered, when."""
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(f"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n".encode())

    async def sending() -> None:
        with contextlib.suppress(ConnectionError):
            for _ in range(size // chunk):
                writer.write(b"b" * chunk)
                await writer.drain()
                await asyncio.sleep(every)

    task = asyncio.create_task(sending())
    answer = await read_all(reader, within=size / (chunk / every) + BODY_GRACE + 3)
    task.cancel()
    writer.close()
    return answer


async def test_a_steady_body_above_the_minimum_rate_may_take_longer_than_the_grace(served: Served) -> None:
    host, port, _, _ = served
    data, took = await _send_body_at(host, port, size=7500, chunk=500, every=0.1)  # 5,000 bytes/s for 1.5 s
    assert data.startswith(b"HTTP/1.1 200 ") and data.endswith(b'{"bytes":7500}'), data
    assert took > BODY_GRACE * 1.5, took


async def test_a_body_below_the_minimum_rate_is_cut_off_once_it_falls_behind(served: Served) -> None:
    host, port, _, _ = served
    data, took = await _send_body_at(host, port, size=6000, chunk=100, every=0.1)  # 1,000 bytes/s: behind at 1.6 s
    assert_cut_off(data)
    assert BODY_GRACE * 1.5 <= took <= BODY_GRACE * 2 + 1, took
