"""Relay benchmark: drain rate of a backlog (events/s) and delay from commit to the event on the topic (p50/p99).

`python -m benchmarks.bench_relay [n_events]` on the local stack, isolated: a database and topics of its own (dropped
afterwards), so a relay of the running stack neither competes for its rows nor hangs it.
Phase 1 commits `n_events` with the relay stopped, then times the relay draining them (until all are consumed).
Phase 2 runs the relay and commits events in transactions of 10, measuring commit -> broker timestamp per event.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
import uuid
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer

from services.core.changes import LineSnapshot, OrderChange, OrderSnapshot
from services.core.order import OrderStatus
from services.platform.database import open_database, scratch_database
from services.platform.topics import delete_topics_with_prefix
from services.rules_bridge.adapters.outbox_store import enqueue
from services.rules_bridge.main import create_topics, serve
from services.rules_bridge.outbox_writer import OutboxRecord, order_events
from services.rules_bridge.relay import RelayMetrics
from services.rules_bridge.settings import RelaySettings

TX_SIZE = 10


async def bench_relay(settings: RelaySettings, n_events: int) -> dict[str, Any]:
    """Run both phases; print and return the figures."""
    await create_topics(settings)
    pool = await open_database(settings.database_url, max_size=4)
    consumer = await _consumer(settings)
    try:
        drain = await _drain_rate(settings, pool, consumer, n_events)
        delays = await _delays(settings, pool, consumer, min(n_events, 2000))
    finally:
        await consumer.stop()
        await pool.close()
    result = {"events": n_events, "relay_events_per_s": round(drain, 1), **delays}
    print(
        f"relay: {result['relay_events_per_s']} events/s draining {n_events}; commit -> topic "
        f"p50 {result['delay_p50_ms']} ms, p99 {result['delay_p99_ms']} ms ({result['delay_samples']} events)"
    )
    return result


async def _drain_rate(settings: RelaySettings, pool: asyncpg.Pool, consumer: AIOKafkaConsumer, n: int) -> float:
    tenant = uuid.uuid4()
    for start in range(0, n, 500):
        await _commit(pool, [_record(tenant, i) for i in range(start, min(n, start + 500))])
    stop = asyncio.Event()
    began = time.perf_counter()
    relay = asyncio.create_task(serve(settings, stop, RelayMetrics()))
    await _consume(consumer, tenant, n)
    elapsed = time.perf_counter() - began
    stop.set()
    await relay
    return n / elapsed


async def _delays(settings: RelaySettings, pool: asyncpg.Pool, consumer: AIOKafkaConsumer, n: int) -> dict[str, Any]:
    tenant = uuid.uuid4()
    committed: dict[str, float] = {}
    stop = asyncio.Event()
    relay = asyncio.create_task(serve(settings, stop, RelayMetrics()))
    reading = asyncio.create_task(_consume(consumer, tenant, n))
    for start in range(0, n, TX_SIZE):
        records = [_record(tenant, i) for i in range(start, min(n, start + TX_SIZE))]
        await _commit(pool, records)
        now = time.time()
        committed.update((r.event_id, now) for r in records)
    arrived = await reading
    stop.set()
    await relay
    delays = sorted(max(0.0, arrived[event_id] - at) * 1000 for event_id, at in committed.items())
    return {
        "delay_p50_ms": round(statistics.median(delays), 1),
        "delay_p99_ms": round(delays[int(len(delays) * 0.99) - 1], 1),
        "delay_samples": len(delays),
    }


async def _consumer(settings: RelaySettings) -> AIOKafkaConsumer:
    consumer = AIOKafkaConsumer(
        settings.topic("orders.events.v1"),
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=settings.topic(f"bench-relay-{uuid.uuid4().hex[:8]}"),
        auto_offset_reset="latest",
        enable_auto_commit=False,
    )
    await consumer.start()
    while not consumer.assignment():
        await consumer.getmany(timeout_ms=100)
    return consumer


async def _consume(consumer: AIOKafkaConsumer, tenant: uuid.UUID, n: int) -> dict[str, float]:
    """Event id -> broker timestamp (s) of the tenant's first `n` events."""
    wanted = str(tenant).encode()
    seen: dict[str, float] = {}
    while len(seen) < n:
        for records in (await consumer.getmany(timeout_ms=200, max_records=5000)).values():
            for record in records:
                headers = dict(record.headers)
                if headers.get("ce_tenantid") == wanted:
                    seen.setdefault(headers["ce_id"].decode(), record.timestamp / 1000)
    return seen


async def _commit(pool: asyncpg.Pool, records: list[OutboxRecord]) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await enqueue(conn, records)


def _record(tenant: uuid.UUID, i: int) -> OutboxRecord:
    return order_events(OrderChange(tenant, OrderStatus.PAID, _snapshot(i), True, None, "bench"))[0]


def _snapshot(i: int) -> OrderSnapshot:
    from datetime import UTC, datetime
    from decimal import Decimal

    line = LineSnapshot("P1", "", "Tea", 1, Decimal("10.00"), Decimal("10.00"))
    return OrderSnapshot(
        f"BENCH-{i}",
        "youzan",
        OrderStatus.PAID,
        "paid",
        datetime.now(UTC),
        None,
        None,
        None,
        Decimal("10.00"),
        "S1",
        None,
        None,
        uuid.uuid4(),
        "new",
        2,
        (line,),
    )


async def isolated(n_events: int) -> dict[str, Any]:
    base = RelaySettings()
    prefix = f"benchr{uuid.uuid4().hex[:6]}."
    async with scratch_database(base.database_url, "bench") as url:
        settings = base.model_copy(update={"database_url": url, "topic_prefix": prefix})
        try:
            return await bench_relay(settings, n_events)
        finally:
            await delete_topics_with_prefix(settings.kafka_bootstrap_servers, prefix)


if __name__ == "__main__":
    asyncio.run(isolated(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000))
