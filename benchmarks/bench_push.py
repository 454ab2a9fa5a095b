"""Push API benchmark on the local stack: orders/s through `POST /v1/orders:batch` with 4 concurrent clients.

    python -m benchmarks.bench_push [--batches 5] [--clients 4]

The real app runs in this process (its lifespan: pool, producer); each client is a tenant of its own with a push
key, sending batches of 1,000 orders (2 lines each) with an Idempotency-Key, one after another. A batch counts when
its 202 arrived, i.e. every order was validated and acknowledged by the broker (acks=all). The database and the
topics are the run's own, dropped afterwards; the quota is raised so that the limiter never throttles. Figures are
printed, never asserted: orders/s by wall clock (noisy on a shared machine) and the CPU seconds of this process
per 1,000 orders (server and clients together; PostgreSQL and Kafka not counted), which is what to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import time
import uuid
from collections.abc import Sequence
from typing import Any

import httpx

from benchmarks.bench_ingest import order_dict
from services.ingest.adapters.tenants import create_key, create_tenant
from services.ingest.domain.api_keys import Scope
from services.ingest.settings import IngestSettings
from services.platform.database import create_pool, scratch_database
from services.platform.topics import delete_topics_with_prefix

BATCH = 1000


def batch_body(tenant_id: uuid.UUID, client: int, batch: int) -> bytes:
    orders = []
    for i in range(BATCH):
        order = order_dict(tenant_id, (client * 1000 + batch) * BATCH + i, 5000)
        del order["tenant_id"]
        orders.append(order)
    return json.dumps({"orders": orders}).encode()


async def one_client(http: httpx.AsyncClient, key: str, bodies: list[bytes]) -> list[float]:
    """Each batch in turn; the seconds each took until its 202."""
    took = []
    for body in bodies:
        started = time.perf_counter()
        answer = await http.post(
            "/v1/orders:batch",
            content=body,
            headers={"X-API-Key": key, "Idempotency-Key": uuid.uuid4().hex, "content-type": "application/json"},
        )
        took.append(time.perf_counter() - started)
        if answer.status_code != 202 or answer.json()["accepted"] != BATCH:
            raise RuntimeError(f"push refused: {answer.status_code} {answer.text[:300]}")
    return took


async def measure(settings: IngestSettings, pool: Any, clients: int, batches: int) -> dict[str, Any]:
    from services.ingest.main import create_app

    keys, bodies = [], []
    for client in range(clients):
        async with pool.acquire() as conn:
            tenant, _ = await create_tenant(conn, f"bench push {client}")
            _, key = await create_key(conn, tenant.id, "bench", [Scope.PUSH])
        keys.append(key)
        bodies.append([batch_body(tenant.id, client, b) for b in range(batches)])
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api", timeout=120) as http:
            cpu, started = time.process_time(), time.perf_counter()
            took = await asyncio.gather(*(one_client(http, k, b) for k, b in zip(keys, bodies, strict=True)))
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    orders = clients * batches * BATCH
    latencies = sorted(t for client in took for t in client)
    return {
        "orders": orders,
        "seconds": seconds,
        "cpu": cpu,
        "median": statistics.median(latencies),
        "max": latencies[-1],
    }


async def run(clients: int, batches: int) -> dict[str, Any]:
    base = IngestSettings()
    prefix = f"benchpush{uuid.uuid4().hex[:6]}."
    async with scratch_database(base.database_url, "bench") as url:
        settings = base.model_copy(update={"database_url": url, "topic_prefix": prefix, "push_orders_per_second": 1e9})
        pool = await create_pool(url, max_size=4)
        try:
            return await measure(settings, pool, clients, batches)
        finally:
            await pool.close()
            await delete_topics_with_prefix(settings.kafka_bootstrap_servers, prefix)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--batches", type=int, default=5, help="batches of 1,000 orders per client")
    parser.add_argument("--quick", action="store_true", help="one batch per client")
    args = parser.parse_args(argv)
    figures = asyncio.run(run(args.clients, 1 if args.quick else args.batches))
    n = figures["orders"]
    print(f"push benchmark ({os.cpu_count()} cores, Python {platform.python_version()}, local stack)")
    print(f"  {args.clients} clients, {n:,} orders in batches of {BATCH:,}:")
    print(f"    POST /v1/orders:batch -> 202             {n / figures['seconds']:>9,.0f} orders/s")
    print(f"    API + clients CPU per 1,000 orders        {figures['cpu'] / n * 1000:>9.3f} core-s")
    print(f"    one batch until its 202: median {figures['median']:.2f} s, max {figures['max']:.2f} s")


if __name__ == "__main__":
    main()
