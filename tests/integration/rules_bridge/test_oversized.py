"""One event the broker can never take (too large, rejected) is parked with its reason; every other event, of every
tenant and shard, is published exactly once; readiness and metrics say what happened (issue 10, finding 2)."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections import Counter
from collections.abc import Sequence

import asyncpg
import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from services.core.bounds import MAX_MESSAGE_BYTES
from services.platform.observability import Metrics
from services.platform.settings import ConnectionSettings
from services.rules_bridge.adapters.outbox_store import N_SHARDS, parked_count, shard_of
from services.rules_bridge.contracts import order_events_v1
from services.rules_bridge.domain.events import OutboxRecord
from services.rules_bridge.main import relay_readiness, serve
from services.rules_bridge.relay import RelayMetrics
from tests.integration.rules_bridge.support import (
    DEADLINE_S,
    CrashingRelay,
    big_order_events,
    commit,
    fresh_topics,
    keys_on_shard,
    life_step,
    outbox_rows,
    relay_settings,
    running_engine,
    running_relay,
    wait_until,
)
from tools.verification.checks import eventually, read_topic

pytestmark = pytest.mark.integration

MB = 1024 * 1024


def small_events(tenant: uuid.UUID, orders: Sequence[str], step: int) -> list[OutboxRecord]:
    return [record for order_no in orders for record in life_step(tenant, order_no, step)]


async def published(settings: ConnectionSettings, tenants: set[uuid.UUID]) -> Counter[str]:
    """How often each event id of `tenants` is on the events topic, read from its beginning to its end."""
    wanted = {str(t).encode() for t in tenants}
    records = await read_topic(settings, settings.topic(order_events_v1.TOPIC.name))
    return Counter(r.headers["ce_id"].decode() for r in records if r.headers.get("ce_tenantid") in wanted)


async def test_an_oversized_event_is_parked_and_every_other_tenants_events_flow_once(
    connection_settings: ConnectionSettings, pool: asyncpg.Pool
) -> None:
    settings = fresh_topics(connection_settings)
    first, second, big = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    shard = shard_of(f"{big}:BIG-1")
    near, far = keys_on_shard(first, "N", shard, 3), keys_on_shard(second, "F", shard, 3, same=False)
    oversized = big_order_events(big, "BIG-1", MAX_MESSAGE_BYTES + MB)  # created + paid, both too large
    two_mb = big_order_events(second, "TWO-MB", 2 * MB)  # over the old 1 MB limits, within the bound
    before = small_events(first, near, 0) + small_events(second, far, 0)
    after = small_events(first, near, 1) + small_events(second, far, 1)
    for records in (before, oversized, two_mb, after):
        await commit(pool, records)
    small = {r.event_id for r in before + after + two_mb}
    parked_before = await _parked_rows(pool)

    async with running_engine(settings) as engine, running_relay(relay_settings(settings)) as metrics:
        await wait_until(lambda: small <= {e.id for e in engine.events}, f"the {len(small)} other events")
        drained = parked_before + 2
        await wait_until(lambda: metrics.backlog == 0 and metrics.parked_rows == drained, "the backlog drained")
        ready = relay_readiness(metrics, relay_settings(settings))
        await ready()  # parked events are the events' problem, not the relay's: it stays ready

    counts = await published(settings, {first, second, big})
    assert counts == Counter({ident: 1 for ident in small})  # each once, the oversized ones never
    parked = [row for row in await outbox_rows(pool, big)]
    assert [(row["event_type"], row["failure"]) for row in parked] == [
        ("order.created", "too_large"),
        ("order.paid", "too_large"),
    ]
    assert all(row["sent_at"] is None and row["failed_at"] is not None for row in parked)
    assert f"limit {MAX_MESSAGE_BYTES}" in parked[0]["failure_detail"]
    assert metrics.parked == {"too_large": 2} and metrics.restarts == 0
    exposition = _exposition(metrics)
    assert 'orderinfo_relay_parked_total{reason="too_large"} 2.0' in exposition
    assert f"orderinfo_outbox_parked {parked_before + 2}.0" in exposition
    assert "orderinfo_outbox_backlog 0.0" in exposition


async def test_a_row_the_broker_rejects_is_parked_and_nothing_acknowledged_is_sent_twice(
    connection_settings: ConnectionSettings, pool: asyncpg.Pool
) -> None:
    """A topic whose limit is below the producer's (an older topic, a hand-made one): the broker rejects the batch
    holding the large row, and the producer's later batches of that partition with it. The row is parked, every
    other row is published exactly once, in order per key, and the relay session carries on."""
    settings = fresh_topics(connection_settings)
    small_tenant, big = uuid.uuid4(), uuid.uuid4()
    orders = [f"R-{i}" for i in range(24)]
    rejected = big_order_events(big, "REJECTED-1", 200 * 1024)[:1]
    records = small_events(small_tenant, orders[:12], 0) + rejected + small_events(small_tenant, orders[12:], 0)
    records += small_events(small_tenant, orders, 1)

    async with running_engine(settings) as engine, running_relay(relay_settings(settings)) as metrics:
        await wait_until(lambda: metrics.owned_shards == N_SHARDS, "the relay to own every shard")
        await _limit_topic(settings, settings.topic(order_events_v1.TOPIC.name), 64 * 1024)
        await commit(pool, records)  # one transaction: claimed and published together
        expected = {r.event_id for r in records} - {rejected[0].event_id}
        await wait_until(lambda: expected <= {e.id for e in engine.events}, f"the {len(expected)} small events")
        await wait_until(lambda: metrics.parked == {"too_large": 1} and metrics.backlog == 0, "the row parked")

    assert await published(settings, {small_tenant, big}) == Counter({ident: 1 for ident in expected})
    [row] = await outbox_rows(pool, big)
    assert row["failure"] == "too_large" and "MessageSizeTooLargeError" in row["failure_detail"]
    by_order: dict[str, list[str]] = {}
    for event in engine.events:
        by_order.setdefault(event.subject, []).append(event.type)
    assert all(by_order[o] == ["order.created", "order.paid", "order.shipped"] for o in orders)
    assert metrics.restarts == 0 and metrics.producer_restarts >= 1


async def _parked_rows(pool: asyncpg.Pool) -> int:
    async with pool.acquire() as conn:
        return await parked_count(conn)


async def _limit_topic(settings: ConnectionSettings, topic: str, limit: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, {"max.message.bytes": str(limit)})])
    finally:
        await admin.close()


async def test_readiness_and_metrics_show_a_failing_and_stuck_relay(
    connection_settings: ConnectionSettings, pool: asyncpg.Pool
) -> None:
    """Served by the relay process itself: /readyz is 503 naming the failing sessions and the waiting event."""
    port = _free_port()
    settings = relay_settings(fresh_topics(connection_settings), stuck_after_s=1.0, ops_port=port)
    tenant = uuid.uuid4()
    await commit(pool, life_step(tenant, "STUCK-1", 0))
    metrics, stop = RelayMetrics(), asyncio.Event()
    task = asyncio.create_task(serve(settings, stop, metrics, session=CrashingRelay))
    try:
        await wait_until(lambda: metrics.restarts >= 2, "two failed sessions")
        await wait_until(lambda: (metrics.oldest_unsent_age_s() or 0) > 1.0, "the oldest unsent event aging")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            ready = await eventually(lambda: _get(client, "/readyz"), lambda r: r is not None, 10, "/readyz")
            exposition = (await client.get("/metrics")).text
    finally:
        stop.set()
        await asyncio.wait_for(task, DEADLINE_S)
    assert metrics.backlog >= 1  # refreshed even though no session gets through a pass
    assert ready is not None and ready.status_code == 503
    relay = ready.json()["checks"]["relay"]
    assert "failed in a row" in relay and "SimulatedCrash" in relay and "oldest unsent event" in relay
    assert ready.json()["checks"]["kafka"] == ready.json()["checks"]["postgres"] == "ok"
    for family in ("relay_failing_sessions", "relay_restarts_total", "outbox_oldest_unsent_age_seconds"):
        assert f"orderinfo_{family} " in exposition
    async with running_relay(relay_settings(settings, ops_port=0)) as healthy:  # a working relay drains it: ready
        await wait_until(lambda: healthy.published >= 1 and healthy.backlog == 0, "the backlog drained")
        await relay_readiness(healthy, settings)()


async def _get(client: httpx.AsyncClient, path: str) -> httpx.Response | None:
    try:
        return await client.get(path)
    except httpx.TransportError:  # not serving yet
        return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _exposition(metrics: RelayMetrics) -> str:
    registry = Metrics()
    registry.track_relay(lambda: metrics)
    return registry.exposition().decode()
