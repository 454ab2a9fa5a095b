"""Order and payment times reach PostgreSQL as text in the orders' JSON rows (`sql.INSERT_ORDERS`): whatever offset
the contract accepts (RFC 3339 allows -23:59 to +23:59; PostgreSQL reads at most 15:59 in a time's text) is stored
as its instant, with its neighbours in the batch: never a failed batch split record by record, never a
`processing_error` for a value the contract took."""

from __future__ import annotations

import json
from datetime import datetime

import asyncpg
import pytest

from services.ingest.adapters import order_store
from services.ingest.application.ingestion import IngestOptions, Received
from services.ingest.contracts.orders_ingest_v1 import message_key
from services.ingest.entrypoints.consumer import BatchIngestor
from services.rules_bridge.outbox_writer import emit_events
from tests.integration.query.conftest import new_tenant
from tests.support.orders import message

TIMES = [
    ("2026-11-01T10:00:00+23:59", "2026-11-01T10:30:00.000001-23:59"),
    ("2026-11-01T10:00:00-16:00", "2026-11-01T10:00:00+16:00"),
    ("2000-01-01T23:59:00+23:59", "2099-12-31T00:00:59.999999-23:59"),  # the range's ends, as instants
    ("2026-11-01T10:00:00+15:59", "2026-11-01T10:00:00-00:00"),
]


@pytest.mark.parametrize(("order_time", "payment_time"), TIMES)
async def test_any_accepted_offset_is_stored_as_its_instant(
    pool: asyncpg.Pool, order_time: str, payment_time: str
) -> None:
    tenant, _ = await new_tenant(pool, "order times")
    times = {"order_time": order_time, "payment_time": payment_time}
    value = json.dumps(json.loads(message(tenant, "T1").model_dump_json()) | times).encode()
    neighbour = message(tenant, "T2").model_dump_json().encode()
    records = [
        Received(0, "orders.ingest.v1", 0, 1, message_key(tenant, "T1"), value, True),
        Received(1, "orders.ingest.v1", 0, 2, message_key(tenant, "T2"), neighbour, True),
    ]
    ingestor = BatchIngestor(pool, emit_events, IngestOptions(), max_retries=0)
    result = await ingestor.apply(records)
    assert result.rejected == [] and ingestor.splits == 0
    assert sorted(o.outcome for o in result.outcomes) == ["created", "created"]
    async with pool.acquire() as conn:
        row = (await order_store.load_stored(conn, [(tenant, "T1")], lock=False))[(tenant, "T1")].row
    assert row.order_time == datetime.fromisoformat(order_time)
    assert row.payment_time == datetime.fromisoformat(payment_time)
    again = await ingestor.apply(records[:1])
    assert [o.outcome for o in again.outcomes] == ["unchanged"]
