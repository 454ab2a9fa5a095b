"""Console page load times in Chromium with a large tenant: navigation to the load event, median of 5 loads.

    python -m benchmarks.bench_console --orders 1000000

Creates a scratch database of its own on the server of ORDERINFO_DATABASE_URL / DATABASE_URL (dropped at the end),
seeds a tenant with `--orders` orders (tools.seeding), or with `--database-url` reuses the tenant
`bench_queries` seeded there (kept: seeding 1,000,000 orders takes 10-20 minutes), serves the real API with uvicorn
on a free port and drives /usr/bin/chromium with Playwright. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import time
import uuid
from typing import Any

import uvicorn

from services.ingest.main import create_app
from services.ingest.settings import IngestSettings
from services.platform.database import open_database, scratch_database
from services.platform.topics import delete_topics_with_prefix
from tools.seeding import seed
from tools.verification.checks import eventually

CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--no-first-run"]
LOADS = 5


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def pages(pool: Any, tenant_id: uuid.UUID, orders: int) -> list[tuple[str, str]]:
    order = await pool.fetchrow(
        "SELECT order_no, customer_id, store->>'store_no' AS store FROM orders WHERE tenant_id = $1"
        " ORDER BY order_time DESC LIMIT 1 OFFSET 5000",
        tenant_id,
    )
    mobile = await pool.fetchval("SELECT mobile FROM customers WHERE id = $1", order["customer_id"])
    first = await pool.fetchval(
        "SELECT order_no FROM orders WHERE tenant_id = $1 ORDER BY order_time DESC LIMIT 1", tenant_id
    )
    old = await pool.fetchval(
        "SELECT order_no FROM orders WHERE tenant_id = $1 AND order_no LIKE 'YZ%'"
        " ORDER BY order_time LIMIT 1 OFFSET $2",
        tenant_id,
        min(100_000, orders // 10),
    )
    return [
        ("orders, first page", "/console/orders"),
        ("orders, status 已付款", "/console/orders?status=paid"),
        ("orders, store + status", f"/console/orders?store={order['store']}&status=dealed"),
        ("orders, prefix", f"/console/orders?prefix={first[:8]}"),
        ("orders, customer", f"/console/orders?customer={order['customer_id']}"),
        ("orders, wide prefix of an old month", f"/console/orders?prefix={old[:8]}"),
        ("order page", f"/console/orders/{order['order_no']}"),
        ("customer page", f"/console/customers/{order['customer_id']}"),
        ("customer lookup by mobile", f"/console/customers?by=mobile&value={mobile}"),
        ("imports", "/console/imports"),
        ("pipeline", "/console/pipeline"),
        ("/docs", "/docs"),
    ]


async def measure(url: str, key: str, targets: list[tuple[str, str]]) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = await browser.new_page()
        await page.goto(f"{url}/console/sign-in")
        await page.fill("#api_key", key)
        await page.click("form[action$='/sign-in'] button[type=submit]")
        await page.wait_for_load_state("load")
        print(f"{'page':32} {'median ms':>10} {'max ms':>8}")
        for name, path in targets:
            times = []
            for _ in range(LOADS):
                started = time.perf_counter()
                await page.goto(url + path)
                await page.wait_for_load_state("load")
                times.append((time.perf_counter() - started) * 1000)
            print(f"{name:32} {statistics.median(times):10.0f} {max(times):8.0f}", flush=True)
        await browser.close()


async def main(orders: int, database_url: str | None) -> None:
    base = IngestSettings()
    if database_url:
        await measure_on(base, database_url, orders, reuse=True)
        return
    async with scratch_database(base.database_url, "console_bench") as url:
        await measure_on(base, url, orders, reuse=False)


async def measure_on(base: IngestSettings, url: str, orders: int, reuse: bool) -> None:
    settings = base.model_copy(update={"database_url": url, "topic_prefix": f"bc{uuid.uuid4().hex[:6]}."})
    pool = await open_database(url, max_size=4)
    try:
        if reuse:
            from benchmarks.bench_queries import tenant_with_orders

            tenant_id, key = await tenant_with_orders(pool, "bench", orders, 0)
        else:
            started = time.perf_counter()
            tenant_id, key = await seed(pool, "console bench", orders, 0)
            print(f"seeded {orders:,} orders in {time.perf_counter() - started:.0f} s", flush=True)
        targets = await pages(pool, tenant_id, orders)
    finally:
        await pool.close()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    await eventually(lambda: asyncio.sleep(0, server.started), bool, 60, "the API started", 0.05)
    try:
        await measure(f"http://127.0.0.1:{port}", key, targets)
    finally:
        server.should_exit = True
        await serving
        await delete_topics_with_prefix(settings.kafka_bootstrap_servers, settings.topic_prefix)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=None, help="reuse the tenant bench_queries seeded there")
    args = parser.parse_args()
    asyncio.run(main(args.orders, args.database_url))
