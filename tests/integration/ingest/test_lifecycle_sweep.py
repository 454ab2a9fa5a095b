"""The lifecycle sweep on the real PostgreSQL: a customer becomes dormant by time alone, once, with its event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg

from services.ingest.adapters import sql
from services.ingest.application.ingestion import IngestOptions, Received, ingest_batch
from services.ingest.application.lifecycle import sweep_lifecycles
from services.ingest.contracts.orders_ingest_v1 import message_key
from services.ingest.domain.persona import LifecycleThresholds
from tests.integration.ingest.conftest import RecordingEmitter
from tests.support.orders import message

THRESHOLDS = LifecycleThresholds(dormant_after_days=180)
PAID_AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def stage(pool: asyncpg.Pool, tenant_id: UUID, mobile: str) -> str:
    persona = await pool.fetchval(
        "SELECT persona->>'lifecycle_stage' FROM customers WHERE tenant_id = $1 AND mobile = $2", tenant_id, mobile
    )
    return str(persona)


async def buy(pool: asyncpg.Pool, tenant_id: UUID, order_no: str, mobile: str) -> None:
    order = message(tenant_id, order_no, buyer={"mobile": mobile}, order_time=PAID_AT, payment_time=PAID_AT)
    record = Received(0, "orders.ingest.v1", 0, 0, message_key(tenant_id, order_no), order.model_dump_json().encode())
    options = IngestOptions(thresholds=THRESHOLDS, clock=lambda: PAID_AT + timedelta(days=1))
    async with pool.acquire() as conn:
        await ingest_batch(conn, [record], RecordingEmitter(), options)


async def test_a_customer_turns_dormant_by_the_sweep_alone(pool: asyncpg.Pool, tenant_id: UUID) -> None:
    await buy(pool, tenant_id, "SWEEP-1", "13700000001")
    assert await stage(pool, tenant_id, "13700000001") == "new"

    emitter = RecordingEmitter()
    early = await sweep_lifecycles(pool, emitter, PAID_AT + timedelta(days=179), THRESHOLDS)
    assert early.ran and emitter.customers == [] and await stage(pool, tenant_id, "13700000001") == "new"

    late = await sweep_lifecycles(pool, emitter, PAID_AT + timedelta(days=181), THRESHOLDS)
    mine = [c for c in emitter.customers if c.tenant_id == tenant_id]
    assert late.customers_updated >= 1
    assert [c.persona["lifecycle_stage"] for c in mine] == ["dormant"] and not mine[0].created
    assert await stage(pool, tenant_id, "13700000001") == "dormant"
    # its second change (the first fold was its first): the revision that names its event is raised and stored
    revision = await pool.fetchval("SELECT revision FROM customers WHERE tenant_id = $1", tenant_id)
    assert mine[0].revision == revision == 2

    again = RecordingEmitter()
    await sweep_lifecycles(pool, again, PAID_AT + timedelta(days=200), THRESHOLDS)
    assert [c for c in again.customers if c.tenant_id == tenant_id] == []  # once, not at every sweep


async def test_one_sweep_at_a_time(pool: asyncpg.Pool, tenant_id: UUID) -> None:
    await buy(pool, tenant_id, "SWEEP-2", "13700000002")
    async with pool.acquire() as holder, holder.transaction():
        assert await holder.fetchval(sql.TRY_SWEEP_LOCK)
        emitter = RecordingEmitter()
        blocked = await sweep_lifecycles(pool, emitter, PAID_AT + timedelta(days=400), THRESHOLDS)
        assert not blocked.ran and emitter.customers == []
    assert await stage(pool, tenant_id, "13700000002") == "new"
