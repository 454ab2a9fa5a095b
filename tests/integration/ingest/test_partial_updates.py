"""Partial re-sends on the real database (finding 8): blank fields keep what is stored, totals and the customer's
spend do not grow, and an order that cannot be applied as sent is `rejected`, counted and shown by its import."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg

from services.ingest.adapters import import_jobs
from services.ingest.adapters.import_jobs import ImportRow, NewImport
from services.ingest.domain.bounds import MAX_LINES_PER_ORDER
from tests.integration.ingest.conftest import RecordingEmitter
from tests.integration.ingest.test_ingest_batch import fetch_lines, fetch_order, ingest, outcomes
from tests.support.orders import line, message

FULL = {
    "order_amount": Decimal("100.00"),
    "paid_amount": Decimal("90.00"),
    "remark": "gift wrap",
    "receiver": {"name": "Li Li", "address": "1 Nanjing Rd"},
    "store": {"store_no": "S1", "name": "Flagship"},
}


async def spend(pool: asyncpg.Pool, tenant: UUID, customer: UUID) -> tuple[str, str]:
    persona = await pool.fetchval("SELECT persona FROM customers WHERE tenant_id = $1 AND id = $2", tenant, customer)
    return persona["total_amount"], persona["total_paid"]


async def test_a_partial_resend_keeps_amounts_and_updates_the_only_line_of_the_product(
    pool: asyncpg.Pool, emitter: RecordingEmitter, tenant_id: UUID
) -> None:
    lines = [line("P1", "SKU-A", quantity=2, product_name="Shirt", line_amount=Decimal("18.00"))]
    await ingest(pool, emitter, message(tenant_id, "F8", lines=lines, **FULL))
    before = await fetch_order(pool, tenant_id, "F8")
    spent = await spend(pool, tenant_id, before["customer_id"])

    partial = message(tenant_id, "F8", status="shipped", store={"store_no": "S1"}, lines=[line("P1", quantity=2)])
    assert outcomes(await ingest(pool, emitter, partial)) == ["updated"]
    after = await fetch_order(pool, tenant_id, "F8")
    kept = ("order_amount", "paid_amount", "total_amount", "remark", "receiver", "store", "buyer", "customer_id")
    assert {k: after[k] for k in kept} == {k: before[k] for k in kept}
    assert after["status"] == "shipped"
    assert await fetch_lines(pool, tenant_id, "F8") == {("P1", "SKU-A"): (2, Decimal("10.00"))}
    assert await spend(pool, tenant_id, after["customer_id"]) == spent == ("100.00", "90.00")


async def test_rejected_orders_are_counted_and_shown_by_their_import(
    pool: asyncpg.Pool, emitter: RecordingEmitter, tenant_id: UUID
) -> None:
    await ingest(pool, emitter, message(tenant_id, "AMB", lines=[line("P1", "RED"), line("P1", "BLUE")]))
    await ingest(pool, emitter, message(tenant_id, "BIG", lines=[line(f"P{i}") for i in range(MAX_LINES_PER_ORDER)]))
    import_id = uuid.uuid4()
    async with pool.acquire() as conn:
        job = NewImport(tenant_id, import_id, "partial.xlsx", "partial", "UTC", 3, 3, 0, 3, 0, [], [])
        rows = [ImportRow(n, no, [no], "queued", "") for n, no in enumerate(("AMB", "BIG", "NEW"), start=2)]
        await import_jobs.record_import(conn, job, rows)

    result = await ingest(
        pool,
        emitter,
        message(tenant_id, "AMB", import_id=import_id, lines=[line("P1")]),
        message(tenant_id, "BIG", import_id=import_id, lines=[line("EXTRA")]),
        message(tenant_id, "NEW", import_id=import_id),
    )
    assert outcomes(result) == ["rejected", "rejected", "created"]
    assert len(await fetch_lines(pool, tenant_id, "BIG")) == MAX_LINES_PER_ORDER
    async with pool.acquire() as conn:
        status = await import_jobs.get_import(conn, tenant_id, import_id)
        shown = {r.cells[0]: (r.outcome, r.detail) for r in await import_jobs.row_outcomes(conn, tenant_id, import_id)}
    assert status is not None
    assert (status["state"], status["orders_processed"], status["rejected"], status["created"]) == (
        "completed_with_errors",
        3,
        2,
        1,
    )
    assert shown["AMB"][0] == "rejected" and "'BLUE', 'RED'" in shown["AMB"][1]
    assert shown["BIG"][0] == "rejected" and f"at most {MAX_LINES_PER_ORDER}" in shown["BIG"][1]


async def test_many_records_of_one_order_in_one_batch_store_what_one_batch_each_stores(
    pool: asyncpg.Pool, emitter: RecordingEmitter, tenant_id: UUID
) -> None:
    """Probes 2, notes: successive records of one order share one round (one load, one write of the order) and
    store exactly what one batch per record stores, SKU filled in and stale line amount dropped included."""

    def sent(order_no: str) -> list[Any]:
        return [
            message(tenant_id, order_no, status="to_be_paid", lines=[line("P1", line_amount=Decimal("9.00"))]),
            message(tenant_id, order_no, lines=[line("P1", "RED"), line("P2", "S2")]),  # RED fills in P1's SKU
            message(tenant_id, order_no, status="to_be_paid", lines=[line("P3")]),  # stale: nothing of it
            message(tenant_id, order_no, status="shipped", lines=[line("P1", "RED", quantity=3)], remark="x"),
            message(tenant_id, order_no, status="shipped", lines=[line("P2", "S2")], remark=""),  # unchanged
        ]

    together = await ingest(pool, emitter, *sent("ONE"))
    assert outcomes(together) == ["created", "updated", "stale_status", "updated", "unchanged"]
    assert together.rounds == 1
    for record in sent("EACH"):
        await ingest(pool, emitter, record)
    lines = {no: await fetch_lines(pool, tenant_id, no) for no in ("ONE", "EACH")}
    assert lines["ONE"] == lines["EACH"] == {("P1", "RED"): (3, Decimal("10.00")), ("P2", "S2"): (1, Decimal("10.00"))}
    columns = ("status", "total_amount", "remark", "version", "buyer", "store", "customer_id")
    one, each = await fetch_order(pool, tenant_id, "ONE"), await fetch_order(pool, tenant_id, "EACH")
    assert {k: one[k] for k in columns} == {k: each[k] for k in columns}
    assert (one["total_amount"], one["version"]) == (Decimal("40.00"), 3)
    history = "SELECT status FROM order_status_history WHERE tenant_id = $1 AND order_no = $2 ORDER BY 1"
    assert [r[0] for r in await pool.fetch(history, tenant_id, "ONE")] == ["paid", "shipped", "to_be_paid"]
