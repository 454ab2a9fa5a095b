"""The console in a real browser: Chromium from Debian's packages driven by Playwright, against the real API
(uvicorn on a free port, in this process), a consumer of the same topics, the real broker and database.

Skipped, with the reason, where no Chromium is installed (CI installs it, so there they run).
"""

from __future__ import annotations

import asyncio
import io
import shutil
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from openpyxl import Workbook

from services.ingest.adapters.tenants import create_tenant
from services.ingest.entrypoints.consumer import BatchIngestor, subscribe
from services.ingest.main import create_app, ingest_options, producer_broker
from services.ingest.settings import IngestSettings
from services.platform.settings import ConnectionSettings
from services.rules_bridge.outbox_writer import emit_events
from tests.integration.conftest import (  # the integration suite's real services, scratch database and topics
    _delete_session_topics,
    connection_settings,
    database_url,
    kafka_bootstrap,
    pool,
    services,
)
from tests.support.waiting import eventually
from tools.samples import SAMPLE_HEADER, SampleRow

__all__ = ["_delete_session_topics", "connection_settings", "database_url", "kafka_bootstrap", "pool", "services"]

pytestmark = pytest.mark.integration
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
HAVE_CHROMIUM = Path(CHROMIUM).exists()
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "console"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FINAL_STATES = {"completed", "completed_with_errors", "failed"}


def xlsx(rows: Iterable[SampleRow], header: tuple[str, ...] = SAMPLE_HEADER) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveConsole:
    url: str
    settings: IngestSettings
    http: httpx.AsyncClient
    load_times: dict[str, float] = field(default_factory=dict)

    async def upload(self, key: str, data: bytes) -> dict[str, Any]:
        """Upload through the API (X-API-Key) and wait until the import is final."""
        answer = await self.http.post(
            "/v1/imports", headers={"X-API-Key": key}, files={"file": ("seed.xlsx", data, XLSX)}
        )
        assert answer.status_code == 202, answer.text
        import_id = answer.json()["import_id"]

        async def status() -> dict[str, Any]:
            found: dict[str, Any] = (await self.http.get(f"/v1/imports/{import_id}", headers={"X-API-Key": key})).json()
            return found

        return await eventually(status, lambda s: s["state"] in FINAL_STATES, within=60)


@pytest.fixture(scope="session")
def browser_settings(connection_settings: ConnectionSettings) -> IngestSettings:
    return IngestSettings(
        kafka_bootstrap_servers=connection_settings.kafka_bootstrap_servers,
        database_url=connection_settings.database_url,
        topic_prefix=f"{connection_settings.topic_prefix}web{uuid.uuid4().hex[:4]}.",
        topic_partitions=3,
    )


@pytest.fixture(scope="session")
async def live(browser_settings: IngestSettings, pool: asyncpg.Pool) -> AsyncIterator[LiveConsole]:
    """The API served by uvicorn on a free port, and a consumer, both in this process and event loop."""
    port = free_port()
    app = create_app(browser_settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    serving = asyncio.create_task(server.serve())
    consumer = producer_broker(browser_settings)
    subscribe(consumer, browser_settings, BatchIngestor(pool, emit_events, ingest_options(browser_settings)))
    await eventually(lambda: asyncio.sleep(0, server.started), bool, within=60)
    await consumer.start()
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            yield LiveConsole(url, browser_settings, http)
    finally:
        await consumer.stop()
        server.should_exit = True
        await serving


@pytest.fixture(scope="session")
async def chromium() -> AsyncIterator[Any]:
    if not HAVE_CHROMIUM:
        pytest.skip(f"no Chromium at {CHROMIUM}: `apt-get install -y chromium fonts-wqy-microhei` (CI does)")
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@dataclass
class Visit:
    """One browser context (its own cookies) that records every request it makes."""

    page: Any
    base: str
    requested: list[str]
    load_times: dict[str, float]

    async def goto(self, path: str, name: str | None = None) -> Any:
        started = time.perf_counter()
        answer = await self.page.goto(self.base + path)
        await self.page.wait_for_load_state("load")
        if name:
            self.load_times[name] = time.perf_counter() - started
        return answer

    async def shoot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
async def visit(chromium: Any, live: LiveConsole, load_times: dict[str, float]) -> AsyncIterator[Visit]:
    context = await chromium.new_context(
        viewport={"width": 1280, "height": 900}, accept_downloads=True, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    page = await context.new_page()
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    try:
        yield Visit(page, live.url, requested, load_times)
    finally:
        await context.close()
    assert [u for u in requested if not u.startswith((live.url, "data:", "blob:"))] == [], "loaded from elsewhere"


@dataclass(frozen=True)
class SignedTenant:
    id: uuid.UUID
    name: str
    key: str


async def new_tenant(pool: asyncpg.Pool, name: str) -> SignedTenant:
    async with pool.acquire() as conn:
        tenant, key = await create_tenant(conn, name)
    return SignedTenant(tenant.id, tenant.name, key)


async def sign_in(visit: Visit, key: str) -> None:
    await visit.goto("/console/sign-in")
    await visit.page.fill("#api_key", key)
    await visit.page.click("form[action$='/sign-in'] button[type=submit]")
    await visit.page.wait_for_load_state("load")


@dataclass(frozen=True)
class Seeded:
    """Tenant A with 30 orders of 2 lines (seed 7); tenant B with one order, an import and a customer of its own."""

    a: SignedTenant
    b: SignedTenant
    b_order_no: str
    b_import_id: str
    b_customer_id: str


@pytest.fixture(scope="session")
async def seeded(live: LiveConsole, pool: asyncpg.Pool) -> Seeded:
    from tools.samples import sample_rows

    a, b = await new_tenant(pool, "甲公司 Tenant A"), await new_tenant(pool, "乙公司 Tenant B")
    done = await live.upload(a.key, xlsx(sample_rows(30, 2, seed=7)))
    assert done["state"] == "completed", done
    other = [("OTHER-0001", *row[1:]) for row in sample_rows(1, 1, seed=99)]
    done_b = await live.upload(b.key, xlsx(other))
    assert done_b["state"] == "completed", done_b
    order = (await live.http.get("/v1/orders/OTHER-0001", headers={"X-API-Key": b.key})).json()
    return Seeded(a, b, "OTHER-0001", done_b["import_id"], order["customer_id"])


@pytest.fixture(scope="session")
def load_times(live: LiveConsole) -> Iterable[dict[str, float]]:
    """Page load times of this run (navigation to the load event), kept in .local/ for the docs."""
    yield live.load_times
    if live.load_times:
        out = Path(__file__).resolve().parents[2] / ".local" / "console-load-times.txt"
        out.parent.mkdir(exist_ok=True)
        out.write_text(
            "".join(f"{name}\t{seconds * 1000:.0f} ms\n" for name, seconds in sorted(live.load_times.items()))
        )
