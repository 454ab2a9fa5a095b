"""What the erased-identifier check costs the consumer, and what an erasure costs. Figures printed, never asserted.

    python -m benchmarks.bench_erasure [--erased 10000] [--batches 50]

A database of its own (dropped afterwards). The check is one statement per batch (`refuse_erased`): measured on
batches of 1,000 records against `--erased` remembered digests, as wall time per batch and CPU (this process
plus its PostgreSQL backend, from /proc) per 1,000 records. Then one customer with 100 orders is erased.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import time
from typing import Any

from benchmarks.bench_consumer import cpu_seconds
from benchmarks.bench_ingest import order_dict
from services.ingest.adapters import erasure_store
from services.ingest.adapters.tenants import create_tenant
from services.ingest.application import erasure
from services.ingest.application.ingestion import IngestOptions, Received, ingest_batch
from services.ingest.contracts.orders_ingest_v1 import OrderIngestV1, message_key
from services.ingest.domain.erasure import identifier_digest
from services.ingest.domain.planning import Incoming
from services.ingest.settings import IngestSettings
from services.platform.database import create_pool, scratch_database
from services.rules_bridge.outbox_writer import emit_events, tombstone_customer

BATCH = 1000


async def check_cost(pool: Any, erased: int, batches: int) -> tuple[float, float]:
    async with pool.acquire() as conn:
        tenant, _ = await create_tenant(conn, "bench")
        digests = [("mobile", identifier_digest(tenant.id, "mobile", f"137{i:08d}")) for i in range(erased)]
        await erasure_store.remember(conn, tenant.id, digests)
        incoming = [
            Incoming(i, tenant.id, OrderIngestV1.model_validate(order_dict(tenant.id, i, BATCH)), None, "bench")
            for i in range(BATCH)
        ]
        await erasure.refuse_erased(conn, incoming)  # warm
        pids = [os.getpid(), await conn.fetchval("SELECT pg_backend_pid()")]  # this process, its server backend
        cpu, started = cpu_seconds(pids), time.perf_counter()
        for _ in range(batches):
            kept, refused = await erasure.refuse_erased(conn, incoming)
            assert len(kept) == BATCH and not refused
        wall, used = time.perf_counter() - started, cpu_seconds(pids) - cpu
    return wall * 1000 / batches, used * 1000 / batches


async def erasure_cost(pool: Any) -> float:
    async with pool.acquire() as conn:
        tenant, _ = await create_tenant(conn, "erase")
        values = [order_dict(tenant.id, i, 1) for i in range(100)]  # one customer, 100 orders
        records = [
            Received(
                i,
                "orders.ingest.v1",
                0,
                i,
                message_key(tenant.id, v["order_no"]),
                OrderIngestV1.model_validate(v).model_dump_json().encode(),
            )
            for i, v in enumerate(values)
        ]
        await ingest_batch(conn, records, emit_events, IngestOptions())
        customer = await conn.fetchval("SELECT id FROM customers WHERE tenant_id = $1", tenant.id)
    started = time.perf_counter()
    await erasure.erase_customer(pool, tenant.id, customer, by="bench", tombstone=tombstone_customer)
    return (time.perf_counter() - started) * 1000


async def run(erased: int, batches: int) -> None:
    base = IngestSettings()
    async with scratch_database(base.database_url, "bench") as url:
        pool = await create_pool(url, max_size=2)
        try:
            per_batch_ms, cpu_ms = await check_cost(pool, erased, batches)
            erase_ms = await erasure_cost(pool)
        finally:
            await pool.close()
    print(f"erasure benchmark ({os.cpu_count()} cores, Python {platform.python_version()})")
    print(f"  erased-identifier check, {BATCH:,}-record batch vs {erased:,} digests: {per_batch_ms:.1f} ms wall,")
    print(f"    {cpu_ms:.1f} core-ms CPU (this process + its PostgreSQL backend) per {BATCH:,} records")
    print(f"  erasing a customer with 100 orders: {erase_ms:.0f} ms wall")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--erased", type=int, default=10_000)
    parser.add_argument("--batches", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(run(args.erased, args.batches))


if __name__ == "__main__":
    main()
