"""Helpers of the rules bridge's integration tests: a running relay, a running reference subscriber, deadlines."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import asyncpg

from services.core.order import OrderStatus
from services.platform.settings import ConnectionSettings
from services.rules_bridge.adapters.outbox_store import PendingRow, enqueue, shard_of
from services.rules_bridge.examples.rule_engine import OrderEvent, RuleEngine
from services.rules_bridge.main import create_topics, serve
from services.rules_bridge.outbox_writer import OutboxRecord, order_events
from services.rules_bridge.relay import Relay, RelayMetrics
from services.rules_bridge.settings import RelaySettings
from tests.unit.rules_bridge.factories import change
from tools.verification.scenarios import large_order_events, payload_bytes

DEADLINE_S = 30.0


def relay_settings(connection: ConnectionSettings, **overrides: Any) -> RelaySettings:
    """Relay settings on this session's database and topics, tuned to react fast."""
    values: dict[str, Any] = {
        "kafka_bootstrap_servers": connection.kafka_bootstrap_servers,
        "database_url": connection.database_url,
        "topic_prefix": connection.topic_prefix,
        "topic_partitions": connection.topic_partitions,
        "poll_interval_s": 0.5,
        "shard_retry_interval_s": 0.2,
        "lock_timeout_ms": 200,
    }
    return RelaySettings(**(values | overrides))


async def wait_until(condition: Callable[[], bool], what: str, deadline_s: float = DEADLINE_S) -> None:
    """Wait for `condition` to hold, checking every 20 ms; fail with `what` after the deadline."""
    end = time.monotonic() + deadline_s
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {deadline_s} s waiting for {what}")
        await asyncio.sleep(0.02)


class SimulatedCrash(Exception):
    pass


async def _crash(rows: Sequence[PendingRow]) -> None:
    raise SimulatedCrash(f"killed after publishing {len(rows)} rows")


class CrashingRelay(Relay):
    """Dies after its first batch reached the broker, before marking it sent (the relay's `after_publish` hook)."""

    def __init__(self, settings: RelaySettings, metrics: RelayMetrics | None = None) -> None:
        super().__init__(settings, metrics, after_publish=_crash)


@contextlib.asynccontextmanager
async def running_relay(settings: RelaySettings, metrics: RelayMetrics | None = None) -> AsyncIterator[RelayMetrics]:
    metrics = metrics or RelayMetrics()
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, stop, metrics))
    try:
        yield metrics
    finally:
        stop.set()
        await asyncio.wait_for(task, DEADLINE_S)


@contextlib.asynccontextmanager
async def running_engine(settings: ConnectionSettings) -> AsyncIterator[RuleEngine]:
    """The reference subscriber, in a consumer group of its own, reading from the earliest offset."""
    await create_topics(relay_settings(settings))
    engine = RuleEngine(settings, group=f"rule-engine-test-{uuid.uuid4().hex[:8]}")
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(engine.run(stop, ready))
    try:
        await asyncio.wait_for(ready.wait(), DEADLINE_S)
        yield engine
    finally:
        stop.set()
        await asyncio.wait_for(task, DEADLINE_S)


def of_tenant(events: Sequence[OrderEvent], tenant: uuid.UUID) -> list[OrderEvent]:
    return [e for e in events if e.tenant_id == str(tenant)]


def by_order(events: Sequence[OrderEvent]) -> dict[str, list[tuple[str, bool]]]:
    """Each order's (event type, inferred) in the order received."""
    sequences: dict[str, list[tuple[str, bool]]] = {}
    for event in events:
        sequences.setdefault(event.subject, []).append((event.type, event.inferred))
    return sequences


# One order's life, one transaction per step: (before, after, content_changed).
LIFE = [
    (None, OrderStatus.TO_BE_PAID, False),
    (OrderStatus.TO_BE_PAID, OrderStatus.SHIPPED, False),
    (OrderStatus.SHIPPED, OrderStatus.SHIPPED, True),
    (OrderStatus.SHIPPED, OrderStatus.DEALED, False),
]
LIFE_EVENTS = [
    ("order.created", False),
    ("order.paid", True),
    ("order.shipped", False),
    ("order.updated", False),
    ("order.signed", True),
    ("order.completed", False),
]


def life_step(tenant: uuid.UUID, order_no: str, step: int) -> list[OutboxRecord]:
    before, after, content = LIFE[step]
    return order_events(
        change(before, after, content_changed=content, tenant_id=tenant, order_no=order_no, version=step + 1)
    )


async def commit(pool: asyncpg.Pool, records: Sequence[OutboxRecord]) -> None:
    """Enqueue `records` in a transaction of their own and commit it."""
    async with pool.acquire() as conn, conn.transaction():
        await enqueue(conn, records)


def fresh_topics(connection: ConnectionSettings) -> ConnectionSettings:
    """`connection` with a topic prefix of this test's own (fresh topics, whatever other tests did to theirs)."""
    return connection.model_copy(update={"topic_prefix": f"{connection.topic_prefix}{uuid.uuid4().hex[:6]}."})


def big_order_events(tenant: uuid.UUID, order_no: str, min_bytes: int) -> list[OutboxRecord]:
    """The events of a new paid order (created, paid) whose every event's payload is over `min_bytes`."""
    records = large_order_events(tenant, order_no, min_bytes)
    assert all(payload_bytes(r) > min_bytes for r in records)
    return records


def keys_on_shard(tenant: uuid.UUID, prefix: str, shard: int, count: int, same: bool = True) -> list[str]:
    """`count` order numbers `prefix-N` of `tenant` whose keys are (or, `same=False`, are not) on `shard`."""
    found = (f"{prefix}-{i}" for i in range(10_000))
    return [o for o in found if (shard_of(f"{tenant}:{o}") == shard) is same][:count]


async def outbox_rows(pool: asyncpg.Pool, tenant: uuid.UUID) -> list[dict[str, Any]]:
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT * FROM outbox WHERE tenant_id = $1 ORDER BY id", tenant)
    return [dict(row) for row in rows]
