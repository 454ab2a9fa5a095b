"""The consumer group's lag as the broker sees it: it follows a stopped consumer (records produced while the group
has no member show up), and the consumer process exports it on /metrics."""

from __future__ import annotations

import asyncio
from uuid import UUID

import asyncpg
import httpx

from services.ingest.contracts.orders_ingest_v1 import CONSUMER_GROUP, TOPIC, message_key
from services.ingest.main import run_consumer
from services.platform.lag import LagMonitor
from services.platform.observability import Metrics, Process
from services.platform.settings import ConnectionSettings
from tests.integration.ingest.live import committed, ends, fresh_settings, running_consumer, send_raw
from tests.support.ops import free_port, until_serving
from tests.support.orders import message
from tests.support.waiting import eventually


def orders(tenant: UUID, first: int, n: int) -> list[tuple[bytes, bytes, list[tuple[str, bytes]]]]:
    made = [message(tenant, f"LAG-{i}") for i in range(first, first + n)]
    return [(message_key(tenant, m.order_no), m.model_dump_json().encode(), []) for m in made]


def lag_samples(metrics: Metrics) -> dict[str, float]:
    text = metrics.exposition().decode()
    prefix = "orderinfo_consumer_group_lag{partition="
    return {line.split('"')[1]: float(line.split()[-1]) for line in text.splitlines() if line.startswith(prefix)}


async def test_the_lag_follows_a_stopped_consumer(
    connection_settings: ConnectionSettings, pool: asyncpg.Pool, tenant_id: UUID
) -> None:
    settings = fresh_settings(connection_settings)
    monitor = LagMonitor(settings.kafka_bootstrap_servers, settings.topic(CONSUMER_GROUP), settings.topic(TOPIC.name))
    metrics = Metrics(process=Process.CONSUME)
    metrics.track_group_lag(lambda: (monitor.lag, monitor.age_s()))
    async with running_consumer(settings, pool):
        first = await send_raw(settings, orders(tenant_id, 0, 6))
        await eventually(lambda: committed(settings), lambda done: done == ends(first))
        await monitor.refresh()
        assert set(monitor.lag) == {0, 1, 2} and sum(monitor.lag.values()) == 0

    later = await send_raw(settings, orders(tenant_id, 6, 9))  # nobody in the group now
    await monitor.refresh()
    behind = {p: ends(first + later).get(p, 0) - ends(first).get(p, 0) for p in range(3)}
    assert monitor.lag == behind and sum(behind.values()) == 9
    assert lag_samples(metrics) == {str(p): float(n) for p, n in behind.items()}

    async with running_consumer(settings, pool):
        await eventually(lambda: committed(settings), lambda done: done == ends(first + later))
    await monitor.refresh()
    assert sum(monitor.lag.values()) == 0


async def test_the_consumer_process_exports_the_group_lag(connection_settings: ConnectionSettings) -> None:
    settings = fresh_settings(connection_settings, consumer_ops_port=free_port(), consumer_lag_interval_s=0.2)
    stop = asyncio.Event()
    process = asyncio.create_task(run_consumer(settings, stop))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.consumer_ops_port}") as ops:
            await until_serving(ops, within=30)

            async def scrape() -> str:
                return (await ops.get("/metrics")).text

            text = await eventually(scrape, lambda t: 'orderinfo_consumer_group_lag{partition="2"} 0.0' in t)
        assert "orderinfo_http_requests" not in text and "orderinfo_relay_published" not in text
        assert "orderinfo_ingest_batch_restarts_total 0.0" in text
    finally:
        stop.set()
        await process
