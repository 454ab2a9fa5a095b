"""Orders and lines go to PostgreSQL as one JSON array of rows (`sql.INSERT_ORDERS`, `sql.UPDATE_ORDERS`, and
`INSERT_LINES`, `UPSERT_LINES` for their lines): every value comes back as planned (money exactly, times to the
microsecond, any text, a missing receiver as NULL), and the digest of the message that wrote the order is stored
(migration 0013) and short-circuits its redelivery."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from uuid import UUID

import asyncpg
import pytest

from services.ingest.adapters import order_store, sql
from services.ingest.application.ingestion import IngestOptions, decode, ingest_batch
from tests.integration.ingest.conftest import RecordingEmitter
from tests.support.orders import line, message, received

TEXT = 'a "quoted" \\ back\\slash, a tab\there, 中文 and 🙂'


async def test_every_value_comes_back_as_planned_and_a_redelivery_is_unchanged(
    pool: asyncpg.Pool, emitter: RecordingEmitter, tenant_id: UUID
) -> None:
    order = message(
        tenant_id,
        "W1",
        order_time=datetime(2026, 11, 1, 10, 0, 0, 123456, tzinfo=timezone(timedelta(hours=-3, minutes=-30))),
        payment_time=datetime(2026, 11, 1, 10, 5, tzinfo=UTC),
        order_amount=Decimal("123456789012.34"),
        paid_amount=Decimal("0.01"),
        remark=TEXT,
        store={"store_no": "S1", "name": TEXT},
        buyer={"mobile": "13912345678", "nickname": TEXT},
        lines=[
            line("P1", "SKU-A", quantity=1_000_000, price="0.10", product_name=TEXT, line_amount=Decimal("999.99")),
            line("P2"),
        ],
    )
    records = received(order)
    (item,), _ = decode(records)
    async with pool.acquire() as conn:
        first = await ingest_batch(conn, records, emitter, IngestOptions())
        assert [o.outcome for o in first.outcomes] == ["created"]
        stored = (await order_store.load_stored(conn, [(tenant_id, "W1")], lock=False))[(tenant_id, "W1")]
        row = stored.row
        assert (row.order_time, row.payment_time) == (order.order_time, order.payment_time)
        assert (row.order_amount, row.paid_amount, row.total_amount) == (
            Decimal("123456789012.34"),
            Decimal("0.01"),
            Decimal("123456789012.34"),
        )
        assert row.remark == TEXT and row.store["name"] == TEXT and row.buyer["nickname"] == TEXT
        assert row.receiver is None and row.version == 1
        assert row.digest == item.digest and row.digest is not None
        a = stored.lines[("P1", "SKU-A")]
        assert (a.product_name, a.quantity, a.unit_price, a.line_amount) == (
            TEXT,
            1_000_000,
            Decimal("0.10"),
            Decimal("999.99"),
        )
        assert stored.lines[("P2", "")].line_amount is None
        assert await conn.fetchval("SELECT receiver IS NULL FROM orders WHERE order_no = 'W1'")
        emitted = len(emitter.changes)
        again = await ingest_batch(conn, received(order), emitter, IngestOptions())
        assert [o.outcome for o in again.outcomes] == ["unchanged"] and again.events == 0
        assert len(emitter.changes) == emitted


async def test_a_stored_order_updated_comes_back_as_planned_with_its_lines(
    pool: asyncpg.Pool, emitter: RecordingEmitter, tenant_id: UUID
) -> None:
    """A stored order is updated (`sql.UPDATE_ORDERS`), not inserted: every column it changes is written, its
    changed line updated and its new line inserted (`sql.UPSERT_LINES`), beside a new order in the same batch."""
    first = message(tenant_id, "U1", status="to_be_paid", lines=[line("P1", quantity=1)])
    changed = message(
        tenant_id,
        "U1",
        status="paid",
        payment_time=datetime(2026, 11, 1, 11, 0, tzinfo=UTC),
        paid_amount=Decimal("7.50"),
        remark=TEXT,
        store={"store_no": "S2", "name": TEXT},
        receiver={"name": TEXT},
        lines=[line("P1", quantity=3), line("P9", "SKU-9", price="2.50")],
    )
    async with pool.acquire() as conn:
        await ingest_batch(conn, received(first), emitter, IngestOptions())
        result = await ingest_batch(conn, received(changed, message(tenant_id, "U2")), emitter, IngestOptions())
        assert [o.outcome for o in result.outcomes] == ["updated", "created"]
        stored = await order_store.load_stored(conn, [(tenant_id, "U1"), (tenant_id, "U2")], lock=False)
    row, lines = stored[(tenant_id, "U1")].row, stored[(tenant_id, "U1")].lines
    assert (row.status.value, row.payment_time, row.paid_amount) == ("paid", changed.payment_time, Decimal("7.50"))
    assert row.remark == TEXT and row.store == {"store_no": "S2", "name": TEXT} and row.receiver == {"name": TEXT}
    assert row.version == 2 and (tenant_id, "U2") in stored
    assert {k: (x.quantity, x.unit_price) for k, x in lines.items()} == {
        ("P1", ""): (3, Decimal("10.00")),
        ("P9", "SKU-9"): (1, Decimal("2.50")),
    }


async def test_stores_products_customers_and_history_come_back_as_planned(
    pool: asyncpg.Pool, emitter: RecordingEmitter, tenant_id: UUID
) -> None:
    order = message(
        tenant_id,
        "W2",
        store={"store_no": "S2", "store_id": "SID2", "name": TEXT},
        buyer={"mobile": "13912345679", "unionid": "U2", "nickname": TEXT},
        lines=[line("P9", "SKU-9", price="1234.50", product_name=TEXT)],
    )
    async with pool.acquire() as conn:
        await ingest_batch(conn, received(order), emitter, IngestOptions())
        store = await conn.fetchrow("SELECT store_no, store_id, name FROM stores WHERE tenant_id = $1", tenant_id)
        assert tuple(store) == ("S2", "SID2", TEXT)
        product = await conn.fetchrow("SELECT sku, name, unit_price FROM products WHERE tenant_id = $1", tenant_id)
        assert tuple(product) == ("SKU-9", TEXT, Decimal("1234.50"))
        buyer = await conn.fetchrow("SELECT mobile, unionid, nickname FROM customers WHERE tenant_id = $1", tenant_id)
        assert tuple(buyer) == ("13912345679", "U2", TEXT)
        statuses = await conn.fetch("SELECT status FROM order_status_history WHERE tenant_id = $1", tenant_id)
        assert [r["status"] for r in statuses] == [order.status.value]


async def test_a_tenant_is_never_deleted(pool: asyncpg.Pool, tenant_id: UUID) -> None:
    """Its rows name it (migration 0016 checks that once per batch, not by a foreign key per row)."""
    async with pool.acquire() as conn:
        with pytest.raises(asyncpg.RestrictViolationError):
            await conn.execute("DELETE FROM tenants WHERE id = $1", tenant_id)
        with pytest.raises(asyncpg.RestrictViolationError):
            await conn.execute("UPDATE tenants SET id = gen_random_uuid() WHERE id = $1", tenant_id)
        assert await conn.fetchval("SELECT count(*) FROM tenants WHERE id = $1", tenant_id) == 1


class _Statements:
    """A connection that notes the text of each statement fetched through it."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn, self.sent = conn, []

    async def fetch(self, query: str, *args: object) -> list[asyncpg.Record]:
        self.sent.append(query)
        return list(await self.conn.fetch(query, *args))


async def test_lines_are_read_for_the_stored_orders_only(
    pool: asyncpg.Pool, emitter: RecordingEmitter, tenant_id: UUID
) -> None:
    """A round of new orders reads no lines (none can be stored without their order); a round naming stored
    orders reads theirs, and only theirs."""
    async with pool.acquire() as conn:
        await ingest_batch(conn, received(message(tenant_id, "L1", lines=[line("P1"), line("P2")])), emitter)
        noted = _Statements(conn)
        async with conn.transaction():
            assert await order_store.load_stored(noted, [(tenant_id, "N1"), (tenant_id, "N2")]) == {}
        assert noted.sent == [sql.LOCK_ORDERS]
        async with conn.transaction():
            stored = await order_store.load_stored(noted, [(tenant_id, "L1"), (tenant_id, "N1")])
    assert noted.sent[1:] == [sql.LOCK_ORDERS, sql.LINES_OF_ORDERS]
    assert list(stored) == [(tenant_id, "L1")] and set(stored[(tenant_id, "L1")].lines) == {("P1", ""), ("P2", "")}
