"""Consumer benchmark with the consumer as real processes (`orderinfo consume`), isolated and repeatable.

    python -m benchmarks.bench_consumer [--orders 100000] [--partitions 6]

Databases and topics of its own (dropped afterwards); nothing of the running stack's services is used but the
broker and the PostgreSQL server. Figures are printed, never asserted:
- created: N new orders x 2 lines (30 % as many customers) with 1 process, then the same N with 2 processes in a
  second database and topics of their own, so both phases write into empty tables (the 2 processes once wrote into
  tables that held the first phase's N orders already: larger indexes, a handicap the ratio charged to them);
- redelivered: the first N published again (all unchanged), 1 process;
- CPU per 1,000 orders: user + system time of each consumer process and of the PostgreSQL backends connected to
  the bench's database (the server is shared with other work: its other backends and background processes are
  not counted), measured from the first stored order to the last (process start-up excluded);
- persona lag: from an order's delta to its customer's fold, from the consumers' logs (the largest per-fold p99);
- history: one new order for a customer with `--history` orders against one for a new customer (in process);
- yardsticks: a naive transaction-per-order loop and a plain COPY into empty tables, as ratios.
Rates are measured from the first order stored to the last, so start-up and group joining are not counted.
Progress is read from the group's committed offsets (one admin client, one request per poll), never by counting
`orders`: a count every 100 ms scanned the table (a parallel scan, ~60 ms of CPU at 100,000 orders), on the same
two cores as the consumer, and its backend was counted as the consumer's PostgreSQL CPU (about half of it).
The bench's own connections are left out of the PostgreSQL figure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import socket
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from benchmarks.bench_ingest import CUSTOMERS_PER_100K, copy_ceiling, naive_baseline, order_dict
from services.ingest.adapters.tenants import create_tenant
from services.ingest.contracts.orders_ingest_v1 import CONSUMER_GROUP, TOPIC, message_key
from services.ingest.settings import IngestSettings
from services.platform.database import create_pool, scratch_database
from services.platform.topics import delete_topics_with_prefix
from tools.verification.env import ensure_all_topics
from tools.verification.processes import ProcessGroup, service_env

TICK = os.sysconf("SC_CLK_TCK")
BENCH_APP = "orderinfo-bench"  # the application_name of the bench's own connections (not counted)


@dataclass(frozen=True)
class Run:
    """One timed phase: orders applied, seconds from the first to the last, CPU core-seconds spent meanwhile
    (per consumer process, and by the PostgreSQL backends of the bench's database), the persona lag seen."""

    orders: int
    seconds: float
    per_process: tuple[float, ...]
    postgres_cpu: float
    lag_p99_ms: float | None = None  # the largest p99 of a fold (an upper bound of the p99 over all deltas)
    lag_max_ms: float | None = None

    @property
    def consumer_cpu(self) -> float:
        return sum(self.per_process)

    @property
    def rate(self) -> float:
        return self.orders / self.seconds if self.seconds else 0.0

    @property
    def cpu_per_1000(self) -> float:
        return (self.consumer_cpu + self.postgres_cpu) * 1000 / self.orders if self.orders else 0.0

    def line(self, label: str) -> str:
        per = " + ".join(f"{cpu * 1000 / max(self.orders, 1):.3f}" for cpu in self.per_process)
        lag = f"; persona lag p99 <= {self.lag_p99_ms:.0f} ms, max {self.lag_max_ms:.0f} ms" if self.lag_max_ms else ""
        return (
            f"  {label:<44} {self.rate:>9,.0f} orders/s   CPU {self.cpu_per_1000:.3f} core-s per 1,000 "
            f"(consumer {per}, PostgreSQL {self.postgres_cpu * 1000 / max(self.orders, 1):.3f}){lag}"
        )


def cpu_seconds(pids: Iterable[int]) -> float:
    """User + system CPU seconds of `pids` (processes that have gone count as 0)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))
    return total / TICK


def postgres_pids() -> list[int]:
    """Every PostgreSQL process of the machine (the relay bench counts the server's whole CPU)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def process_cpu(pids: Iterable[int]) -> dict[int, float]:
    return {pid: cpu_seconds([pid]) for pid in pids}


async def backend_pids(pool: asyncpg.Pool) -> list[int]:
    """The PostgreSQL backends connected to the bench's database (the server is shared: other databases' work
    and the server's own background processes are not counted)."""
    rows = await pool.fetch(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name <> $1", BENCH_APP
    )
    return [r["pid"] for r in rows]


LAG = re.compile(r"persona lag p99 ([0-9.]+) ms max ([0-9.]+) ms")


def persona_lags(logs: Path, prefix: str) -> tuple[float | None, float | None]:
    """The largest per-fold p99 and max persona lag in the logs of the processes named `prefix*`."""
    found = [
        (float(m.group(1)), float(m.group(2)))
        for path in logs.glob(f"{prefix}*.log")
        for m in LAG.finditer(path.read_text(errors="replace"))
    ]
    if not found:
        return None, None
    return max(p for p, _ in found), max(m for _, m in found)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def publish(settings: IngestSettings, tenant_id: UUID, first: int, count: int, customers: int) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        enable_idempotence=True,
        linger_ms=20,
        max_batch_size=256 * 1024,
    )
    await producer.start()
    try:
        topic, futures = settings.topic(TOPIC.name), []
        for i in range(first, first + count):
            value = json.dumps(order_dict(tenant_id, i, customers)).encode()
            futures.append(await producer.send(topic, value, key=f"{tenant_id}:B{i:08d}".encode()))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


class GroupProgress:
    """The consumer group's committed offsets, summed over partitions: records decided and committed (a batch's
    offsets are committed after its transaction), read through one admin client kept open."""

    def __init__(self, settings: IngestSettings) -> None:
        self.group = settings.topic(CONSUMER_GROUP)
        self.admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)

    async def __aenter__(self) -> GroupProgress:
        await self.admin.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.admin.close()

    async def __call__(self) -> int:
        offsets = await self.admin.list_consumer_group_offsets(self.group)
        return sum(meta.offset for meta in offsets.values() if meta.offset > 0)


async def timed(
    pool: asyncpg.Pool, progress: Callable[[], Any], start: int, target: int, pids: Callable[[], list[int]]
) -> Run:
    """Wait for `progress()` to move past `start`, then time it (and the CPU of `pids()` and of the database's
    backends) until it reaches `target`."""
    deadline = time.monotonic() + 1800
    value = await progress()
    while value <= start:
        if time.monotonic() > deadline:
            raise TimeoutError("the consumer did not start")
        await asyncio.sleep(0.05)
        value = await progress()
    began, first = time.perf_counter(), value
    consumers, backends = process_cpu(pids()), process_cpu(await backend_pids(pool))
    while value < target:
        if time.monotonic() > deadline:
            raise TimeoutError(f"stuck at {value} of {target}")
        await asyncio.sleep(0.1)
        value = await progress()
    seconds = time.perf_counter() - began
    per_process = tuple(cpu - consumers.get(pid, 0.0) for pid, cpu in process_cpu(pids()).items())
    pg = sum(cpu - backends.get(pid, 0.0) for pid, cpu in process_cpu(await backend_pids(pool)).items())
    return Run(target - first, seconds, per_process, pg)


def spawn_consumers(group: ProcessGroup, settings: IngestSettings, prefix: str, processes: int) -> list[Any]:
    """`processes` `orderinfo consume` processes in `group`, each with an ops port of its own, logs named `prefix`."""
    return [
        group.spawn(
            f"{prefix}-consumer{n}",
            ["services.cli", "consume"],
            service_env(settings, {"ORDERINFO_CONSUMER_OPS_PORT": str(free_port())}),
        )
        for n in range(processes)
    ]


async def consume_phase(
    pool: asyncpg.Pool,
    settings: IngestSettings,
    processes: int,
    progress: Callable[[], Any],
    start: int,
    target: int,
    logs: Path,
    phase: str,
) -> Run:
    with ProcessGroup(logs) as group:
        started = spawn_consumers(group, settings, phase, processes)
        run = await timed(pool, progress, start, target, lambda: [p.proc.pid for p in started if p.proc is not None])
        await _drained(pool)
    p99, worst = persona_lags(logs, phase)
    return replace(run, lag_p99_ms=p99, lag_max_ms=worst)


async def _drained(pool: asyncpg.Pool) -> None:
    """Wait (bounded) for the persona stage to fold every delta, so the next phase starts from a quiet database."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if not await pool.fetchval("SELECT count(*) FROM persona_deltas"):
            return
        await asyncio.sleep(0.2)


async def history_case(pool: asyncpg.Pool, settings: IngestSettings, history: int) -> tuple[float, float]:
    """Median seconds to ingest one new order for a customer with `history` orders, and for a new customer
    (in process, one record per batch, 15 samples each, alternating)."""
    from services.ingest.application.ingestion import Received, ingest_batch
    from services.ingest.main import ingest_options
    from services.rules_bridge.outbox_writer import emit_events

    async with pool.acquire() as conn:
        tenant, _ = await create_tenant(conn, "bench history")
    records = [json.dumps(order_dict(tenant.id, i, 1)).encode() for i in range(history)]
    options = ingest_options(settings)
    for chunk in range(0, history, 1000):
        batch = [
            Received(i, "bench", 0, i, message_key(tenant.id, f"B{chunk + i:08d}"), v)
            for i, v in enumerate(records[chunk : chunk + 1000])
        ]
        async with pool.acquire() as conn:
            await ingest_batch(conn, batch, emit_events, options)
    samples: dict[bool, list[float]] = {True: [], False: []}
    for n in range(30):
        old_customer = n % 2 == 0
        order = order_dict(tenant.id, history + n, 1 if old_customer else 1_000_000 + n)
        if not old_customer:
            order["buyer"] = {"mobile": f"137{n:08d}"}
        key = message_key(tenant.id, order["order_no"])
        record = Received(0, "bench", 0, n, key, json.dumps(order).encode())
        async with pool.acquire() as conn:
            began = time.perf_counter()
            await ingest_batch(conn, [record], emit_events, options)
            samples[old_customer].append(time.perf_counter() - began)
    return statistics.median(samples[True]), statistics.median(samples[False])


@contextlib.asynccontextmanager
async def bench_database(base: IngestSettings, partitions: int) -> AsyncIterator[tuple[IngestSettings, asyncpg.Pool]]:
    """A scratch database and topics of their own (dropped afterwards), and a pool of the bench's connections."""
    prefix = f"benchc{uuid.uuid4().hex[:6]}."
    async with scratch_database(base.database_url, "bench") as url:
        settings = base.model_copy(update={"database_url": url, "topic_prefix": prefix, "topic_partitions": partitions})
        pool = await create_pool(url, max_size=4, server_settings={"application_name": BENCH_APP})
        try:
            await ensure_all_topics(settings)
            yield settings, pool
        finally:
            await pool.close()
            await delete_topics_with_prefix(settings.kafka_bootstrap_servers, prefix)


async def _check_stored(pool: asyncpg.Pool, expected: int) -> None:
    stored = await pool.fetchval("SELECT count(*) FROM orders")
    if stored != expected:
        raise RuntimeError(f"{stored} orders stored, expected {expected}")


async def run(orders: int, partitions: int, history: int) -> dict[str, Any]:
    base = IngestSettings()
    logs = Path(tempfile.mkdtemp(prefix="orderinfo-bench-"))
    customers = max(1, orders * CUSTOMERS_PER_100K // 100_000)
    figures: dict[str, Any] = {}
    async with bench_database(base, partitions) as (settings, pool):
        async with pool.acquire() as conn:
            one, _ = await create_tenant(conn, "bench 1 process")
        async with GroupProgress(settings) as committed:  # each record is one order: offsets count orders
            await publish(settings, one.id, 0, orders, customers)
            figures["one"] = await consume_phase(pool, settings, 1, committed, 0, orders, logs, "one")
            await publish(settings, one.id, 0, orders, customers)  # the same orders again: all unchanged
            figures["again"] = await consume_phase(pool, settings, 1, committed, orders, 2 * orders, logs, "again")
        await _check_stored(pool, orders)
        figures["history"] = await history_case(pool, settings, history)
        async with pool.acquire() as conn:
            yardstick, _ = await create_tenant(conn, "bench yardsticks")
        figures["naive"] = await naive_baseline(pool, yardstick.id, min(orders, 5000))
        figures["copy"] = await copy_ceiling(pool, yardstick.id, orders)
    async with bench_database(base, partitions) as (settings, pool):
        async with pool.acquire() as conn:
            two, _ = await create_tenant(conn, "bench 2 processes")
        async with GroupProgress(settings) as committed:
            await publish(settings, two.id, 0, orders, customers)
            figures["two"] = await consume_phase(pool, settings, 2, committed, 0, orders, logs, "two")
        await _check_stored(pool, orders)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--history", type=int, default=10_000, help="orders of the long-history customer")
    args = parser.parse_args()
    figures = asyncio.run(run(args.orders, args.partitions, args.history))
    customers = CUSTOMERS_PER_100K * args.orders // 100_000
    print(
        f"consumer benchmark: {args.orders:,} orders x 2 lines, {customers:,} customers, {args.partitions} partitions"
        f" ({os.cpu_count()} cores, Python {platform.python_version()}, local stack)"
    )
    one, two, again = figures["one"], figures["two"], figures["again"]
    print(one.line("created, 1 process"))
    print(two.line("created, 2 processes") + f"   ({two.rate / one.rate:.2f}x 1 process)")
    print(again.line("redelivered (all unchanged), 1 process"))
    naive, ceiling = figures["naive"], figures["copy"]
    label = "naive: a transaction per order (orders, lines)"
    print(f"  {label:<44} {naive:>9,.0f} orders/s   (1 process: {one.rate / naive:.1f}x)")
    label = "ceiling: plain COPY into empty tables"
    print(f"  {label:<44} {ceiling:>9,.0f} orders/s   (1 process: {one.rate / ceiling:.0%})")
    old, new = figures["history"]
    print(
        f"  one new order, customer with {args.history:,} orders: {old * 1000:.1f} ms; new customer:"
        f" {new * 1000:.1f} ms ({old / new:.2f}x)"
    )


if __name__ == "__main__":
    main()
