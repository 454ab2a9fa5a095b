"""The relay against the real broker and database: order per order, nothing uncommitted, nothing lost."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from cloudevents.core.bindings.kafka import KafkaMessage, from_binary
from cloudevents.core.formats.json import JSONFormat

from services.core.order import OrderStatus
from services.platform.settings import ConnectionSettings
from services.rules_bridge.adapters.outbox_store import N_SHARDS, backlog, enqueue, prune, shard_of
from services.rules_bridge.main import create_topics, serve
from services.rules_bridge.outbox_writer import customer_updated, order_events
from services.rules_bridge.relay import RelayMetrics
from tests.integration.rules_bridge.support import (
    DEADLINE_S,
    LIFE,
    LIFE_EVENTS,
    CrashingRelay,
    SimulatedCrash,
    by_order,
    commit,
    life_step,
    of_tenant,
    relay_settings,
    running_engine,
    running_relay,
    wait_until,
)
from tests.unit.rules_bridge.factories import change, customer

pytestmark = pytest.mark.integration


async def test_each_order_gets_its_events_once_and_in_order(
    connection_settings: ConnectionSettings, pool: asyncpg.Pool
) -> None:
    tenant = uuid.uuid4()
    for step in range(len(LIFE)):  # interleave two orders' transactions
        await commit(pool, life_step(tenant, "A-1", step))
        await commit(pool, life_step(tenant, "A-2", step))
    await commit(pool, order_events(change(None, OrderStatus.DEAL_CLOSED, tenant_id=tenant, order_no="A-3")))
    expected = {"A-1": LIFE_EVENTS, "A-2": LIFE_EVENTS, "A-3": [("order.created", False), ("order.closed", False)]}

    async with running_engine(connection_settings) as engine, running_relay(relay_settings(connection_settings)):
        await wait_until(lambda: len(of_tenant(engine.events, tenant)) == 14, "14 events of the tenant")

    events = of_tenant(engine.events, tenant)
    assert by_order(events) == expected
    assert len({e.id for e in events}) == 14
    assert all(e.key == f"{tenant}:{e.subject}" for e in events)
    assert [t.action for t in engine.tasks if t.tenant_id == str(tenant) and t.order_no == "A-1"] == [
        "tag customer as prospect",
        "send shipping notice",
        "add loyalty points",
    ]


async def test_a_rolled_back_transaction_publishes_nothing(
    connection_settings: ConnectionSettings, pool: asyncpg.Pool
) -> None:
    tenant = uuid.uuid4()
    async with pool.acquire() as conn:
        with pytest.raises(RuntimeError):
            async with conn.transaction():
                await enqueue(conn, life_step(tenant, "RB-1", 0))
                raise RuntimeError("the consumer's batch failed")
        assert await conn.fetchval("SELECT count(*) FROM outbox WHERE tenant_id = $1", tenant) == 0
    await commit(pool, life_step(tenant, "RB-2", 0))  # committed after the rolled-back one: a marker

    async with running_engine(connection_settings) as engine, running_relay(relay_settings(connection_settings)):
        await wait_until(lambda: len(of_tenant(engine.events, tenant)) >= 1, "the marker event")
    assert [e.subject for e in of_tenant(engine.events, tenant)] == ["RB-2"]


async def test_the_relay_waits_for_an_inflight_writer_of_the_shard(
    connection_settings: ConnectionSettings, pool: asyncpg.Pool
) -> None:
    """A row committed before an earlier-id row of its shard is not published before it: id order holds."""
    tenant = uuid.uuid4()
    first, second = life_step(tenant, "W-1", 0), life_step(tenant, "W-1", 1)
    async with running_engine(connection_settings) as engine, pool.acquire() as slow:
        slow_tx = slow.transaction()
        await slow_tx.start()
        await enqueue(slow, first)  # takes the smaller id, commits last
        async with running_relay(relay_settings(connection_settings)) as metrics:
            await commit(pool, second)
            await wait_until(lambda: metrics.writer_waits > 0, "the relay to find the shard's writer in flight")
            assert of_tenant(engine.received, tenant) == []
            await slow_tx.commit()
            await wait_until(lambda: len(of_tenant(engine.events, tenant)) == 3, "the 3 events of W-1")
    assert by_order(of_tenant(engine.events, tenant))["W-1"] == LIFE_EVENTS[:3]


async def test_a_relay_killed_after_publishing_republishes_the_same_events(
    connection_settings: ConnectionSettings, pool: asyncpg.Pool
) -> None:
    tenant = uuid.uuid4()
    for step in range(len(LIFE)):
        await commit(pool, life_step(tenant, "K-1", step))
    settings = relay_settings(connection_settings, batch_size=4)
    await create_topics(settings)

    async with running_engine(connection_settings) as engine:
        with pytest.raises(SimulatedCrash):
            await CrashingRelay(settings).run(asyncio.Event())
        await wait_until(lambda: len(of_tenant(engine.received, tenant)) == 4, "the 4 events of the crashed batch")
        async with pool.acquire() as conn:
            assert (
                await conn.fetchval("SELECT count(*) FROM outbox WHERE tenant_id = $1 AND sent_at IS NULL", tenant) == 6
            )
        async with running_relay(settings):
            await wait_until(lambda: len(of_tenant(engine.received, tenant)) == 10, "4 republished + 2 new deliveries")

    received = of_tenant(engine.received, tenant)
    assert [(e.id, e.data) for e in received[:4]] == [(e.id, e.data) for e in received[4:8]]
    assert by_order(of_tenant(engine.events, tenant))["K-1"] == LIFE_EVENTS
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM outbox WHERE tenant_id = $1 AND sent_at IS NULL", tenant) == 0


async def test_two_relays_share_the_shards_and_keep_each_order_in_order(
    connection_settings: ConnectionSettings, pool: asyncpg.Pool
) -> None:
    tenant = uuid.uuid4()
    orders = [f"C-{i}" for i in range(30)]
    first = relay_settings(connection_settings, shards=list(range(8)), batch_size=7)
    second = relay_settings(connection_settings, batch_size=7)  # wants every shard: takes what the first left

    async def life(order_no: str) -> None:
        for step in range(len(LIFE)):
            await commit(pool, life_step(tenant, order_no, step))

    async with running_engine(connection_settings) as engine:
        one, two = RelayMetrics(), RelayMetrics()
        async with running_relay(first, one):
            await wait_until(lambda: one.owned_shards == 8, "the first relay to own its 8 shards")
            async with running_relay(second, two):
                await wait_until(lambda: two.owned_shards == N_SHARDS - 8, "the second relay to own the other 8")
                await asyncio.gather(*(life(order_no) for order_no in orders))
                expected = len(orders) * len(LIFE_EVENTS)
                await wait_until(lambda: len(of_tenant(engine.events, tenant)) == expected, f"{expected} events")
        assert one.published > 0 and two.published > 0

    sequences = by_order(of_tenant(engine.events, tenant))
    assert sequences == {order_no: LIFE_EVENTS for order_no in orders}
    assert {shard_of(f"{tenant}:{o}") < 8 for o in orders} == {True, False}  # both relays had orders


async def test_a_standby_relay_takes_over_the_shards_of_a_stopped_one(
    connection_settings: ConnectionSettings, pool: asyncpg.Pool
) -> None:
    tenant = uuid.uuid4()
    active, standby = RelayMetrics(), RelayMetrics()
    stop_active = asyncio.Event()
    async with running_engine(connection_settings) as engine:
        active_task = asyncio.create_task(serve(relay_settings(connection_settings), stop_active, active))
        await wait_until(lambda: active.owned_shards == N_SHARDS, "the active relay to own every shard")
        async with running_relay(relay_settings(connection_settings), standby):
            await commit(pool, life_step(tenant, "T-1", 0))
            await wait_until(lambda: len(of_tenant(engine.events, tenant)) == 1, "order.created")
            assert (standby.owned_shards, standby.published) == (0, 0)
            stop_active.set()
            await asyncio.wait_for(active_task, DEADLINE_S)
            await wait_until(lambda: standby.owned_shards == N_SHARDS, "the standby to own every shard")
            await commit(pool, life_step(tenant, "T-1", 1))
            await wait_until(lambda: len(of_tenant(engine.events, tenant)) == 3, "paid and shipped")
    assert by_order(of_tenant(engine.events, tenant))["T-1"] == LIFE_EVENTS[:3]
    assert standby.published >= 2


async def test_published_events_parse_with_the_cloudevents_sdk(
    connection_settings: ConnectionSettings, pool: asyncpg.Pool
) -> None:
    tenant = uuid.uuid4()
    records = [*life_step(tenant, "CE-1", 0), customer_updated(customer(tenant_id=tenant))]
    await commit(pool, records)
    settings = relay_settings(connection_settings)
    async with running_relay(settings):
        got = await _read(connection_settings, ["orders.events.v1", "customers.updated.v1"], tenant, 2)

    events = {record.topic: from_binary(_kafka_message(record), JSONFormat()) for record in got}
    order = events[connection_settings.topic("orders.events.v1")]
    assert order.get_id() == records[0].event_id
    assert order.get_type() == "order.created"
    assert order.get_source() == "/orderinfo/orders"
    assert order.get_subject() == "CE-1"
    assert order.get_extension("tenantid") == str(tenant)
    assert order.get_datacontenttype() == "application/json"
    assert order.get_data() == records[0].payload
    assert order.get_time() is not None
    person = events[connection_settings.topic("customers.updated.v1")]
    assert (person.get_type(), person.get_id()) == ("customer.updated", records[1].event_id)
    assert got[1].key == records[1].key.encode() or got[0].key == records[1].key.encode()


async def test_the_customer_topic_is_compacted(connection_settings: ConnectionSettings) -> None:
    settings = relay_settings(connection_settings)
    await create_topics(settings)
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        name = settings.topic("customers.updated.v1")
        [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
        partitions = (await admin.describe_topics([settings.topic("orders.events.v1")]))[0]["partitions"]
    finally:
        await admin.close()
    configs = {entry[0]: entry[1] for resource in response.resources for entry in resource[4]}
    assert configs["cleanup.policy"] == "compact"
    assert len(partitions) == settings.topic_partitions


async def test_backlog_counts_pending_rows(connection_settings: ConnectionSettings, pool: asyncpg.Pool) -> None:
    tenant = uuid.uuid4()
    async with pool.acquire() as conn:
        before = await backlog(conn)
        await commit(pool, life_step(tenant, "B-1", 1))
        assert await backlog(conn) == before + 2
    async with running_relay(relay_settings(connection_settings)) as metrics:
        await wait_until(lambda: metrics.published >= 2 and metrics.backlog == 0, "the backlog to drain")


async def _read(settings: ConnectionSettings, topics: list[str], tenant: uuid.UUID, count: int) -> list[Any]:
    consumer = AIOKafkaConsumer(
        *(settings.topic(t) for t in topics),
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=settings.topic(f"sdk-check-{uuid.uuid4().hex[:8]}"),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        found: list[Any] = []

        async def collect() -> None:
            while len(found) < count:
                for records in (await consumer.getmany(timeout_ms=200)).values():
                    found.extend(r for r in records if dict(r.headers).get("ce_tenantid") == str(tenant).encode())

        await asyncio.wait_for(collect(), DEADLINE_S)
        return found
    finally:
        await consumer.stop()


def _kafka_message(record: Any) -> KafkaMessage:
    return KafkaMessage(headers=dict(record.headers), key=record.key, value=record.value)


async def test_sent_rows_are_pruned_after_the_retention(pool: asyncpg.Pool) -> None:
    tenant = uuid.uuid4()
    await commit(pool, life_step(tenant, "P-1", 1))
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE outbox SET sent_at = now() - interval '8 days' WHERE tenant_id = $1 AND event_type = 'order.paid'",
            tenant,
        )
        assert await prune(conn, timedelta(days=7)) >= 1
        left = await conn.fetch("SELECT event_type FROM outbox WHERE tenant_id = $1", tenant)
        await conn.execute("UPDATE outbox SET sent_at = now() WHERE tenant_id = $1", tenant)  # not for later tests
    assert [row["event_type"] for row in left] == ["order.shipped"]
