"""Relay benchmark: drain rate of a backlog (events/s) and delay from commit to the event on the topic (p50/p99).

`python -m benchmarks.bench_relay [n_events] [--processes 1,2]` on the local stack, isolated: a database and topics
of its own (dropped afterwards), so a relay of the running stack neither competes for its rows nor hangs it.
Phase 1, once per process count: commits `n_events` with no relay running, then starts that many `orderinfo relay`
processes (the shards split between them) and times the drain from the first event acknowledged to the last
(start-up excluded), with the CPU of the relay processes and of every PostgreSQL process meanwhile; the topic's end
offsets must have grown by exactly `n_events`.
Phase 2 runs the relay (in process) and, once it owns every shard (start-up excluded), commits events in
transactions of 10, measuring commit -> broker timestamp.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from benchmarks.bench_consumer import cpu_seconds, postgres_pids
from services.core.changes import LineSnapshot, OrderChange, OrderSnapshot
from services.core.order import OrderStatus
from services.platform.database import open_database, scratch_database
from services.platform.topics import delete_topics_with_prefix
from services.rules_bridge.adapters.outbox_store import N_SHARDS, enqueue
from services.rules_bridge.domain.events import OutboxRecord
from services.rules_bridge.main import create_topics, serve
from services.rules_bridge.outbox_writer import order_events
from services.rules_bridge.relay import RelayMetrics
from services.rules_bridge.settings import RelaySettings
from tools.verification.processes import ProcessGroup, service_env

TX_SIZE = 10


@dataclass(frozen=True)
class Drain:
    processes: int
    events: int
    seconds: float
    relay_cpu: float
    postgres_cpu: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    def per_1000(self, cpu: float) -> float:
        return cpu * 1000 / self.events

    def line(self) -> str:
        cpu = self.per_1000(self.relay_cpu + self.postgres_cpu)
        return (
            f"relay, {self.processes} process(es): {self.rate:,.0f} events/s draining {self.events:,}; CPU {cpu:.3f}"
            f" core-s per 1,000 events (relay {self.per_1000(self.relay_cpu):.3f},"
            f" PostgreSQL {self.per_1000(self.postgres_cpu):.3f})"
        )


async def bench_relay(settings: RelaySettings, n_events: int, processes: Sequence[int] = (1, 2)) -> dict[str, Any]:
    """Run both phases; print and return the figures."""
    await create_topics(settings)
    pool = await open_database(settings.database_url, max_size=4)
    consumer = await _consumer(settings)
    drains: list[Drain] = []
    try:
        for count in processes:
            drains.append(await _drain(settings, pool, n_events, count))
            print(drains[-1].line(), flush=True)
        delays = await _delays(settings, pool, consumer, min(n_events, 2000))
    finally:
        await consumer.stop()
        await pool.close()
    print(
        f"relay: commit -> topic p50 {delays['delay_p50_ms']} ms, p99 {delays['delay_p99_ms']} ms"
        f" ({delays['delay_samples']} events, transactions of {TX_SIZE})"
    )
    return {"events": n_events, "drains": [{**asdict(d), "rate": d.rate} for d in drains], **delays}


async def _drain(settings: RelaySettings, pool: asyncpg.Pool, n: int, processes: int) -> Drain:
    """`n` events committed, then drained by `processes` relay processes sharing the shards."""
    tenant = uuid.uuid4()
    for start in range(0, n, 500):
        await _commit(pool, [_record(tenant, i) for i in range(start, min(n, start + 500))])
    before = await _end_offsets(settings)
    pending = "SELECT count(*) FROM outbox WHERE tenant_id = $1 AND sent_at IS NULL"
    with ProcessGroup(Path(tempfile.mkdtemp(prefix="orderinfo-bench-relay-"))) as group:
        relays = [
            group.spawn(f"relay-{i}", ["services.cli", "relay"], service_env(settings, _relay_env(i, processes)))
            for i in range(processes)
        ]
        while await pool.fetchval(pending, tenant) == n:  # noqa: ASYNC110 - the first acknowledged event
            await asyncio.sleep(0.01)
        pids = [r.proc.pid for r in relays if r.proc is not None]
        cpu0, pg0, began = cpu_seconds(pids), cpu_seconds(postgres_pids()), time.perf_counter()
        left = n
        while left:
            await asyncio.sleep(0.02)
            left = await pool.fetchval(pending, tenant)
        seconds = time.perf_counter() - began
        cpu, pg = cpu_seconds(pids) - cpu0, cpu_seconds(postgres_pids()) - pg0
    published = sum((await _end_offsets(settings)).values()) - sum(before.values())
    assert published == n, f"{published} records on the topic for {n} events"
    return Drain(processes, n, seconds, cpu, pg)


def _relay_env(index: int, processes: int) -> dict[str, str]:
    shards = list(range(index, N_SHARDS, processes))
    return {"ORDERINFO_RELAY_SHARDS": json.dumps(shards), "ORDERINFO_RELAY_OPS_PORT": "0"}


async def _end_offsets(settings: RelaySettings) -> dict[TopicPartition, int]:
    topic = settings.topic("orders.events.v1")
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(settings.topic_partitions)]
        found: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
        return found
    finally:
        await consumer.stop()


async def _delays(settings: RelaySettings, pool: asyncpg.Pool, consumer: AIOKafkaConsumer, n: int) -> dict[str, Any]:
    tenant = uuid.uuid4()
    committed: dict[str, float] = {}
    stop = asyncio.Event()
    metrics = RelayMetrics()
    relay = asyncio.create_task(serve(settings, stop, metrics))
    deadline = time.monotonic() + 60
    while metrics.owned_shards < N_SHARDS:
        assert time.monotonic() < deadline and not relay.done(), "the relay did not start within 60 s"
        await asyncio.sleep(0.02)
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


async def isolated(n_events: int, processes: Sequence[int] = (1, 2)) -> dict[str, Any]:
    base = RelaySettings()
    prefix = f"benchr{uuid.uuid4().hex[:6]}."
    async with scratch_database(base.database_url, "bench") as url:
        settings = base.model_copy(update={"database_url": url, "topic_prefix": prefix})
        try:
            return await bench_relay(settings, n_events, processes)
        finally:
            await delete_topics_with_prefix(settings.kafka_bootstrap_servers, prefix)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("events", type=int, nargs="?", default=20_000)
    parser.add_argument("--processes", default="1,2", help="relay process counts to measure, comma-separated")
    args = parser.parse_args()
    asyncio.run(isolated(args.events, [int(p) for p in args.processes.split(",")]))


if __name__ == "__main__":
    main()
