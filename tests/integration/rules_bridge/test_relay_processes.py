"""Two relay processes (`orderinfo relay`) share the outbox's shards on the real broker: every event once, both used."""

from __future__ import annotations

import uuid
from collections import Counter
from pathlib import Path

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from services.core.order import OrderStatus
from services.platform.settings import ConnectionSettings
from services.rules_bridge.adapters import sql
from services.rules_bridge.adapters.outbox_store import N_SHARDS
from services.rules_bridge.main import create_topics
from services.rules_bridge.outbox_writer import order_events
from tests.integration.rules_bridge.support import commit, relay_settings
from tests.support.ops import free_port, until_serving
from tests.support.waiting import eventually
from tests.unit.rules_bridge.factories import change
from tools.verification.processes import ProcessGroup, service_env

pytestmark = pytest.mark.integration
ORDERS = 120


async def owners(pool: asyncpg.Pool) -> Counter[int]:
    """Backend pid -> shards it owns (the relays' session advisory locks)."""
    rows = await pool.fetch(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = $1::bigint::oid"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        sql.SHARD_OWNER_CLASS,
    )
    return Counter(r["pid"] for r in rows)


async def published(port: int) -> float:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        text = (await client.get("/metrics")).text
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith("orderinfo_relay_published"))


async def events_on_topic(settings: ConnectionSettings, tenant: uuid.UUID) -> Counter[str]:
    """Every record of `tenant` on orders.events.v1, read from the beginning to the end offsets: event id -> count."""
    topic = settings.topic("orders.events.v1")
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(settings.topic_partitions)]  # `create_topics`
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        seen: Counter[str] = Counter()
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    headers = dict(record.headers)
                    if headers.get("ce_tenantid") == str(tenant).encode():
                        seen[headers["ce_id"].decode()] += 1
        return seen
    finally:
        await consumer.stop()


async def test_two_relay_processes_share_the_shards_and_publish_every_event_once(
    connection_settings: ConnectionSettings, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    tenant = uuid.uuid4()
    settings = relay_settings(connection_settings)
    await create_topics(settings)
    records = [r for i in range(ORDERS) for r in order_events(change(None, OrderStatus.PAID, tenant_id=tenant,
                                                                       order_no=f"RP-{i}"))]  # fmt: skip
    for start in range(0, len(records), 50):
        await commit(pool, records[start : start + 50])
    ports = free_port(), free_port()
    half = list(range(N_SHARDS // 2))
    fast = {"ORDERINFO_RELAY_POLL_INTERVAL_S": "0.2", "ORDERINFO_RELAY_SHARD_RETRY_INTERVAL_S": "0.2"}
    with ProcessGroup(tmp_path) as group:
        first_env = {**fast, "ORDERINFO_RELAY_OPS_PORT": str(ports[0]), "ORDERINFO_RELAY_SHARDS": str(half)}
        group.spawn("relay-1", ["services.cli", "relay"], service_env(connection_settings, first_env))
        await eventually(lambda: owners(pool), lambda o: sorted(o.values()) == [N_SHARDS // 2], within=60)
        second_env = {**fast, "ORDERINFO_RELAY_OPS_PORT": str(ports[1])}  # wants every shard: gets the rest
        group.spawn("relay-2", ["services.cli", "relay"], service_env(connection_settings, second_env))
        await eventually(lambda: owners(pool), lambda o: sorted(o.values()) == [8, 8], within=60)
        pending = "SELECT count(*) FROM outbox WHERE tenant_id = $1 AND sent_at IS NULL"
        await eventually(lambda: pool.fetchval(pending, tenant), lambda n: n == 0, within=60)
        for port in ports:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                await until_serving(client)
        counts = [await published(port) for port in ports]

    assert all(n > 0 for n in counts), counts  # both processes published
    seen = await events_on_topic(connection_settings, tenant)
    assert seen == Counter({r.event_id: 1 for r in records})  # every event, once
