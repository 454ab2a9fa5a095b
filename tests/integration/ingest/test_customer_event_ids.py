"""The ids of `customers.updated.v1` events as the outbox stores them: one per effective change of a customer, so a
subscriber that de-duplicates by `ce_id` never drops a real change (a persona back to an earlier state)."""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

import asyncpg

from services.ingest.application.ingestion import ingest_batch
from services.ingest.contracts.orders_ingest_v1 import OrderIngestV1
from services.rules_bridge.contracts.customer_updated_v1 import TOPIC as CUSTOMERS
from services.rules_bridge.outbox_writer import emit_events
from tests.support.orders import message, received


async def _ingest(pool: asyncpg.Pool, *messages: OrderIngestV1) -> None:
    async with pool.acquire() as conn:
        await ingest_batch(conn, received(*messages), emit_events)


async def _customer_events(pool: asyncpg.Pool, tenant: UUID) -> list[tuple[str, str]]:
    rows = await pool.fetch(
        "SELECT event_id, payload::jsonb -> 'persona' ->> 'total_amount' AS total FROM outbox "
        "WHERE tenant_id = $1 AND topic = $2 ORDER BY id",
        tenant,
        CUSTOMERS.name,
    )
    return [(r["event_id"], r["total"]) for r in rows]


async def test_a_persona_back_to_an_earlier_state_gets_an_id_of_its_own(pool: asyncpg.Pool, tenant_id: UUID) -> None:
    # The customer's persona goes A -> B -> A -> B (the first A is announced as created: its payload differs).
    amounts = ["10.00", "20.00", "10.00", "20.00", "10.00"]
    for amount in amounts:
        await _ingest(pool, message(tenant_id, "ID-1", order_amount=Decimal(amount)))
    shaped = await _customer_events(pool, tenant_id)
    assert [total for _, total in shaped] == amounts
    assert len({event_id for event_id, _ in shaped}) == len(amounts), shaped

    await _ingest(pool, message(tenant_id, "ID-1", order_amount=Decimal("10.00")))  # the same change again
    assert await _customer_events(pool, tenant_id) == shaped  # nothing new: no second id for it
