"""The outbox rows as written (binary COPY): the JSON text the relay publishes, byte for byte, ids in record order."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg
import pytest

from services.core.order import OrderStatus
from services.rules_bridge.adapters.outbox_store import enqueue, shard_of
from services.rules_bridge.domain import events
from services.rules_bridge.domain.events import OutboxRecord
from tests.unit.rules_bridge.factories import change, customer

pytestmark = pytest.mark.integration

AT = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)


def _records(tenant: uuid.UUID) -> list[OutboxRecord]:
    shaped = events.order_events(change(None, OrderStatus.PAID, tenant_id=tenant, order_no="订单\t\\1"), at=AT)
    nickname = 'a "quoted" 名字 \\ with\nnewline and 😀'
    shaped.append(events.customer_updated(customer(tenant_id=tenant, nickname=nickname), at=AT))
    shaped.append(events.customer_erased(tenant, uuid.uuid4(), at=AT))  # a tombstone: no payload
    return shaped


async def _stored(conn: asyncpg.Connection, tenant: uuid.UUID) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            "SELECT tenant_id, topic, shard, key, event_id, event_type, headers::text AS headers, "
            "payload::text AS payload FROM outbox WHERE tenant_id = $1 ORDER BY id",
            tenant,
        )
    )


def _expected(records: list[OutboxRecord]) -> list[tuple[object, ...]]:
    return [
        (r.tenant_id, r.topic, shard_of(r.key), r.key, r.event_id, r.event_type, r.headers_json, r.payload_json)
        for r in records
    ]


async def test_rows_hold_the_relayed_text_in_record_order(pool: asyncpg.Pool, database_url: str) -> None:
    tenant = uuid.uuid4()
    records = _records(tenant)
    async with pool.acquire() as conn, conn.transaction():  # the pool's codecs
        await enqueue(conn, records)
    async with pool.acquire() as conn:
        assert [tuple(r) for r in await _stored(conn, tenant)] == _expected(records)


async def test_a_connection_without_the_pool_codecs_writes_the_same(database_url: str) -> None:
    tenant = uuid.uuid4()
    records = _records(tenant)
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction():
            await enqueue(conn, records)
        assert [tuple(r) for r in await _stored(conn, tenant)] == _expected(records)
    finally:
        await conn.close()
