"""Import benchmark on the local stack: a 5,000-row .xlsx from upload until every order is in PostgreSQL.

    python -m benchmarks.bench_ingest

Also home to the workload (`order_dict`) and the two yardsticks `benchmarks.bench_consumer` compares the consumer
with: the naive baseline and the plain-COPY ceiling. Each run uses a database and topics of its own (dropped
afterwards). Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from services.ingest.adapters.tenants import create_tenant
from services.ingest.entrypoints.consumer import BatchIngestor, subscribe
from services.ingest.main import ingest_options, producer_broker
from services.ingest.settings import IngestSettings
from services.platform.database import create_pool, scratch_database
from services.platform.topics import delete_topics_with_prefix
from services.rules_bridge.outbox_writer import emit_events

CUSTOMERS_PER_100K = 30_000


def order_dict(tenant_id: UUID, i: int, customers: int) -> dict[str, Any]:
    when = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=i)
    return {
        "tenant_id": str(tenant_id),
        "order_no": f"B{i:08d}",
        "source": "taobao",
        "status": "paid",
        "status_raw": "已付款",
        "order_time": when.isoformat(),
        "payment_time": when.isoformat(),
        "store": {"store_no": f"S{i % 200}", "name": f"Store {i % 200}"},
        "buyer": {"mobile": f"139{i % customers:08d}", "nickname": f"buyer{i % customers}"},
        "order_amount": "59.80",
        "paid_amount": "59.80",
        "lines": [
            {
                "product_id": f"P{i % 1000}",
                "sku": "red",
                "product_name": "T-shirt",
                "quantity": 1,
                "unit_price": "19.90",
            },
            {
                "product_id": f"P{(i + 7) % 1000}",
                "sku": "",
                "product_name": "Socks",
                "quantity": 2,
                "unit_price": "19.95",
            },
        ],
    }


async def naive_baseline(pool: Any, tenant_id: UUID, orders: int) -> float:
    """One transaction per order, one statement per row (what a straightforward ORM loop does)."""
    customer = uuid.uuid4()
    await pool.execute(
        "INSERT INTO customers (tenant_id, id, mobile) VALUES ($1, $2, '13800138000')", tenant_id, customer
    )
    started = time.perf_counter()
    async with pool.acquire() as conn:
        for i in range(orders):
            d = order_dict(tenant_id, 10_000_000 + i, 1)
            async with conn.transaction():
                await conn.execute(
                    "INSERT INTO orders (tenant_id, order_no, source, status, status_raw, order_time, store_key, store,"
                    " customer_id, matched_by, buyer, total_amount, producer) VALUES ($1, $2, $3, $4, $5, $6, $7, $8,"
                    " $9, 'mobile', $10, $11, 'bench') ON CONFLICT (tenant_id, order_no) DO UPDATE SET status ="
                    " EXCLUDED.status",
                    tenant_id,
                    d["order_no"],
                    d["source"],
                    d["status"],
                    d["status_raw"],
                    datetime.fromisoformat(d["order_time"]),
                    "no:S1",
                    d["store"],
                    customer,
                    d["buyer"],
                    Decimal("59.80"),
                )
                for x in d["lines"]:
                    await conn.execute(
                        "INSERT INTO order_lines (tenant_id, order_no, product_id, sku, quantity, unit_price)"
                        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                        tenant_id,
                        d["order_no"],
                        x["product_id"],
                        x["sku"],
                        x["quantity"],
                        Decimal(x["unit_price"]),
                    )
    return orders / (time.perf_counter() - started)


async def copy_ceiling(pool: Any, tenant_id: UUID, orders: int) -> float:
    """Plain COPY of the same orders and lines into empty tables: what this machine can write at most."""
    customer = uuid.uuid4()
    await pool.execute("INSERT INTO customers (tenant_id, id) VALUES ($1, $2)", tenant_id, customer)
    when = datetime(2026, 1, 1, tzinfo=UTC)
    order_rows = [
        (
            tenant_id,
            f"C{i:08d}",
            "taobao",
            "paid",
            "paid",
            when,
            "no:S1",
            json.dumps({"store_no": "S1"}),
            customer,
            "mobile",
            json.dumps({"mobile": "13800138000"}),
            Decimal("59.80"),
            "bench",
        )
        for i in range(orders)
    ]
    line_rows = [
        (tenant_id, f"C{i:08d}", f"P{i % 1000 + k}", "", 1, Decimal("19.90")) for i in range(orders) for k in range(2)
    ]
    started = time.perf_counter()
    async with pool.acquire() as conn, conn.transaction():
        await conn.set_type_codec(
            "jsonb",
            encoder=lambda v: b"\x01" + v.encode(),
            decoder=lambda b: json.loads(b[1:]),
            schema="pg_catalog",
            format="binary",
        )
        await conn.copy_records_to_table(
            "orders",
            records=order_rows,
            columns=[
                "tenant_id",
                "order_no",
                "source",
                "status",
                "status_raw",
                "order_time",
                "store_key",
                "store",
                "customer_id",
                "matched_by",
                "buyer",
                "total_amount",
                "producer",
            ],
        )
        await conn.copy_records_to_table(
            "order_lines",
            records=line_rows,
            columns=["tenant_id", "order_no", "product_id", "sku", "quantity", "unit_price"],
        )
    return orders / (time.perf_counter() - started)


async def import_to_completed(settings: IngestSettings, pool: Any, rows: int) -> float:
    """Seconds from POST /v1/imports of a `rows`-row workbook (2 lines per order) until the job is completed,
    through the real app (in process) and a consumer of the same topics."""
    import tempfile
    from pathlib import Path

    import httpx

    from services.ingest.main import create_app
    from tools.samples import sample_rows, write_sample_xlsx

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.xlsx"
        write_sample_xlsx(path, sample_rows(rows // 2, 2, seed=11))
        data = path.read_bytes()
    async with pool.acquire() as conn:
        _, key = await create_tenant(conn, "bench import")
    app = create_app(settings)
    consumer = producer_broker(settings)
    subscribe(consumer, settings, BatchIngestor(pool, emit_events, ingest_options(settings)))
    async with app.router.lifespan_context(app):
        await consumer.start()
        try:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://api", headers={"X-API-Key": key}
            ) as http:
                started, started_cpu = time.perf_counter(), time.process_time()
                answer = await http.post("/v1/imports", files={"file": ("bench.xlsx", data)})
                accepted, accepted_cpu = time.perf_counter() - started, time.process_time() - started_cpu
                status_url = answer.json()["status_url"]
                done = {"completed", "completed_with_errors"}
                while (await http.get(status_url)).json()["state"] not in done:  # noqa: ASYNC110 - as a user polls
                    await asyncio.sleep(0.02)
                # CPU of this process (upload thread included) until the 202: the machine is shared, wall time is not
                # what the upload costs when others take turns on the cores
                print(f"  (upload answered 202 after {accepted:.2f} s, {accepted_cpu:.2f} s CPU of this process)")
                return time.perf_counter() - started
        finally:
            await consumer.stop()


async def run() -> float:
    base = IngestSettings()
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    async with scratch_database(base.database_url, "bench") as url:
        settings = base.model_copy(update={"database_url": url, "topic_prefix": prefix})
        pool = await create_pool(url, max_size=6)
        try:
            return await import_to_completed(settings, pool, 5000)
        finally:
            await pool.close()
            await delete_topics_with_prefix(settings.kafka_bootstrap_servers, prefix)


def main() -> None:
    argparse.ArgumentParser(description=__doc__).parse_args()
    seconds = asyncio.run(run())
    print(f"import benchmark ({os.cpu_count()} cores, Python {platform.python_version()}, local stack)")
    print(f"  5,000-row .xlsx: upload -> completed       {seconds:>9.2f} s")


if __name__ == "__main__":
    main()
