"""ingest_batch against the real PostgreSQL: upserts, merges, buyer resolution, status machine, idempotency."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg

from services.ingest.application.ingestion import BatchResult, ingest_batch
from services.ingest.contracts.orders_ingest_v1 import OrderIngestV1
from tests.integration.ingest.conftest import RecordingEmitter
from tests.support.orders import line, message
from tests.support.orders import received as records


async def ingest(pool: asyncpg.Pool, emitter: RecordingEmitter, *messages: OrderIngestV1 | bytes) -> BatchResult:
    async with pool.acquire() as conn:
        return await ingest_batch(conn, records(*messages), emitter)


def outcomes(result: BatchResult) -> list[str]:
    return [o.outcome for o in sorted(result.outcomes, key=lambda o: o.ref)]


async def fetch_order(pool: asyncpg.Pool, tenant: UUID, order_no: str) -> dict[str, Any]:
    row = await pool.fetchrow("SELECT * FROM orders WHERE tenant_id = $1 AND order_no = $2", tenant, order_no)
    assert row is not None
    return dict(row)


async def fetch_lines(pool: asyncpg.Pool, tenant: UUID, order_no: str) -> dict[tuple[str, str], tuple[int, Decimal]]:
    rows = await pool.fetch(
        "SELECT product_id, sku, quantity, unit_price FROM order_lines WHERE tenant_id = $1 AND order_no = $2",
        tenant,
        order_no,
    )
    return {(r["product_id"], r["sku"]): (r["quantity"], r["unit_price"]) for r in rows}


async def test_create_then_same_content_is_unchanged(
    pool: asyncpg.Pool, emitter: RecordingEmitter, tenant_id: UUID
) -> None:
    order = message(tenant_id, "A1", lines=[line("P1"), line("P2", "red", 2, "5.50")])
    assert outcomes(await ingest(pool, emitter, order)) == ["created"]
    stored = await fetch_order(pool, tenant_id, "A1")
    assert stored["status"] == "paid" and stored["total_amount"] == Decimal("21.00") and stored["version"] == 1
    assert len(emitter.changes) == 1 and len(emitter.customers) == 1 and emitter.customers[0].created

    emitter.changes.clear(), emitter.customers.clear()
    assert outcomes(await ingest(pool, emitter, order)) == ["unchanged"]
    assert (await fetch_order(pool, tenant_id, "A1"))["version"] == 1
    assert emitter.changes == [] and emitter.customers == []


async def test_same_product_updates_the_line_and_a_new_product_merges(
    pool: asyncpg.Pool, emitter: RecordingEmitter, tenant_id: UUID
) -> None:
    await ingest(pool, emitter, message(tenant_id, "L1", lines=[line("P1", quantity=1), line("P2")]))
    result = await ingest(pool, emitter, message(tenant_id, "L1", lines=[line("P1", quantity=3), line("P3")]))
    assert outcomes(result) == ["updated"]
    assert result.outcomes[0].detail == "1 line(s) added, 1 updated"
    lines = await fetch_lines(pool, tenant_id, "L1")
    assert lines == {
        ("P1", ""): (3, Decimal("10.00")),
        ("P2", ""): (1, Decimal("10.00")),
        ("P3", ""): (1, Decimal("10.00")),
    }
    assert (await fetch_order(pool, tenant_id, "L1"))["version"] == 2


async def test_status_moves_forward_and_a_backward_status_is_stale(
    pool: asyncpg.Pool, emitter: RecordingEmitter, tenant_id: UUID
) -> None:
    await ingest(pool, emitter, message(tenant_id, "S1", status="to_be_paid"))
    assert outcomes(await ingest(pool, emitter, message(tenant_id, "S1", status="shipped"))) == ["updated"]
    result = await ingest(pool, emitter, message(tenant_id, "S1", status="paid", lines=[line("P9")]))
    assert outcomes(result) == ["stale_status"]
    assert (await fetch_order(pool, tenant_id, "S1"))["status"] == "shipped"
    assert ("P9", "") not in await fetch_lines(pool, tenant_id, "S1")  # an older snapshot writes nothing
    history = await pool.fetch(
        "SELECT status FROM order_status_history WHERE tenant_id = $1 AND order_no = 'S1' ORDER BY first_seen_at",
        tenant_id,
    )
    assert [r["status"] for r in history] == ["to_be_paid", "shipped"]
    assert outcomes(await ingest(pool, emitter, message(tenant_id, "S1", status="other"))) == ["unchanged"]


async def test_two_messages_of_one_order_in_one_batch_apply_in_order(
    pool: asyncpg.Pool, emitter: RecordingEmitter, tenant_id: UUID
) -> None:
    first = message(tenant_id, "R1", status="to_be_paid")
    second = message(tenant_id, "R1", status="paid", lines=[line("P1"), line("P2")])
    result = await ingest(pool, emitter, first, second)
    assert outcomes(result) == ["created", "updated"] and result.rounds == 1  # one round: planned in turn
    assert (await fetch_order(pool, tenant_id, "R1"))["status"] == "paid"


async def test_buyer_priority_and_identifier_merge(
    pool: asyncpg.Pool, emitter: RecordingEmitter, tenant_id: UUID
) -> None:
    await ingest(pool, emitter, message(tenant_id, "B1", buyer={"mobile": "13900000001"}))
    await ingest(pool, emitter, message(tenant_id, "B2", buyer={"unionid": "U-1", "nickname": "amy"}))
    # sobot id is new, mobile matches the first customer: matched by mobile, sobot id and unionid... unionid is
    # held by the second customer: conflict, not merged
    result = await ingest(
        pool,
        emitter,
        message(tenant_id, "B3", buyer={"sobot_customer_id": "SB-1", "mobile": "13900000001", "unionid": "U-1"}),
    )
    assert outcomes(result) == ["created"]
    b1, b2, b3 = [await fetch_order(pool, tenant_id, n) for n in ("B1", "B2", "B3")]
    assert b3["customer_id"] == b1["customer_id"] and b3["matched_by"] == "mobile"
    customer = await pool.fetchrow(
        "SELECT * FROM customers WHERE tenant_id = $1 AND id = $2", tenant_id, b1["customer_id"]
    )
    assert customer is not None
    assert (customer["sobot_customer_id"], customer["mobile"], customer["unionid"]) == ("SB-1", "13900000001", None)
    conflict = await pool.fetchrow(
        "SELECT * FROM identity_conflicts WHERE tenant_id = $1 AND order_no = 'B3'", tenant_id
    )
    assert conflict is not None and conflict["identifier"] == "unionid" and conflict["held_by"] == b2["customer_id"]
    # the sobot id now outranks everything
    await ingest(pool, emitter, message(tenant_id, "B4", buyer={"sobot_customer_id": "SB-1", "unionid": "U-1"}))
    b4 = await fetch_order(pool, tenant_id, "B4")
    assert (b4["customer_id"], b4["matched_by"]) == (b1["customer_id"], "sobot_customer_id")


async def test_nickname_only_buyers_are_new_customers_and_keep_them(
    pool: asyncpg.Pool, emitter: RecordingEmitter, tenant_id: UUID
) -> None:
    await ingest(pool, emitter, message(tenant_id, "N1", buyer={"nickname": "bob"}))
    await ingest(pool, emitter, message(tenant_id, "N2", buyer={"nickname": "bob"}))
    n1, n2 = await fetch_order(pool, tenant_id, "N1"), await fetch_order(pool, tenant_id, "N2")
    assert n1["customer_id"] != n2["customer_id"]
    assert outcomes(await ingest(pool, emitter, message(tenant_id, "N1", buyer={"nickname": "bob"}))) == ["unchanged"]
    assert (await fetch_order(pool, tenant_id, "N1"))["customer_id"] == n1["customer_id"]


async def test_persona_is_recomputed_not_incremented(
    pool: asyncpg.Pool, emitter: RecordingEmitter, tenant_id: UUID
) -> None:
    buyer = {"mobile": "13911112222"}
    batch = [
        message(tenant_id, "P1", buyer=buyer, lines=[line("X", quantity=2, price="50")], paid_amount=Decimal("100")),
        message(tenant_id, "P2", buyer=buyer, status="deal_closed", lines=[line("Y", price="30")]),
        message(tenant_id, "P3", buyer=buyer, status="to_be_paid", lines=[line("X", price="20")]),
    ]
    await ingest(pool, emitter, *batch)
    await ingest(pool, emitter, *batch)  # a redelivery must not double-count
    persona = await pool.fetchval(
        "SELECT persona FROM customers WHERE tenant_id = $1 AND mobile = '13911112222'", tenant_id
    )
    assert persona["order_count"] == 3
    assert persona["paid_order_count"] == 1
    assert persona["total_amount"] == "120.00"  # closed excluded
    assert persona["total_paid"] == "100.00"
    assert persona["orders_by_status"] == {"deal_closed": 1, "paid": 1, "to_be_paid": 1}
    assert persona["top_products"][0] == {"product_id": "X", "quantity": 3, "name": None}
    assert persona["lifecycle_stage"] in {"new", "dormant"}


async def test_invalid_records_are_rejected_and_neighbours_land(
    pool: asyncpg.Pool, emitter: RecordingEmitter, tenant_id: UUID
) -> None:
    good = message(tenant_id, "G1")
    other_tenant = message(UUID(int=7), "G2")
    result = await ingest(pool, emitter, b"{not json", good, b'{"order_no": "x"}', other_tenant)
    assert outcomes(result) == ["created"]
    assert sorted(r.reason for r in result.rejected) == ["contract_violation", "invalid_json", "unknown_tenant"]


async def test_tenants_cannot_overwrite_each_other(
    pool: asyncpg.Pool, emitter: RecordingEmitter, tenant_id: UUID
) -> None:
    async with pool.acquire() as conn:
        from services.ingest.adapters.tenants import create_tenant

        other, _ = await create_tenant(conn, "other")
    await ingest(pool, emitter, message(tenant_id, "T1", status="paid"))
    await ingest(pool, emitter, message(other.id, "T1", status="to_be_paid", lines=[line("Z")]))
    mine = await fetch_order(pool, tenant_id, "T1")
    assert mine["status"] == "paid" and set(await fetch_lines(pool, tenant_id, "T1")) == {("P1", "")}
    theirs = await fetch_order(pool, other.id, "T1")
    assert theirs["customer_id"] != mine["customer_id"]


async def test_a_corrected_buyer_moves_the_order_and_both_personas_are_exact(
    pool: asyncpg.Pool, emitter: RecordingEmitter, tenant_id: UUID
) -> None:
    """docs/merging.md rule 7: a redelivered order whose buyer's identifiers contradict its customer's moves."""

    async def persona(customer: UUID) -> dict[str, Any]:
        return dict(
            await pool.fetchval("SELECT persona FROM customers WHERE tenant_id = $1 AND id = $2", tenant_id, customer)
        )

    def announced() -> set[UUID]:
        ids = {c.customer_id for c in emitter.customers}
        emitter.customers.clear()
        return ids

    await ingest(pool, emitter, message(tenant_id, "OTHER-1", buyer={"mobile": "13900000003"}))
    other = (await fetch_order(pool, tenant_id, "OTHER-1"))["customer_id"]
    await ingest(pool, emitter, message(tenant_id, "FIX-1", buyer={"mobile": "13800000001"}))
    first = (await fetch_order(pool, tenant_id, "FIX-1"))["customer_id"]
    announced()

    # Corrected to a mobile nobody holds: a person of its own, not the first buyer.
    fixed = message(tenant_id, "FIX-1", buyer={"mobile": "13900000002"})
    assert outcomes(await ingest(pool, emitter, fixed)) == ["updated"]
    moved = await fetch_order(pool, tenant_id, "FIX-1")
    assert moved["customer_id"] not in (first, other) and moved["matched_by"] == "new"
    assert announced() == {first, moved["customer_id"]}
    assert (await persona(first))["order_count"] == 0 and (await persona(moved["customer_id"]))["order_count"] == 1
    first_mobile = await pool.fetchval("SELECT mobile FROM customers WHERE id = $1", first)
    assert first_mobile == "13800000001"

    # Corrected again, to the mobile of an existing customer: it moves there.
    assert outcomes(await ingest(pool, emitter, message(tenant_id, "FIX-1", buyer={"mobile": "13900000003"}))) == [
        "updated"
    ]
    assert (await fetch_order(pool, tenant_id, "FIX-1"))["customer_id"] == other
    assert announced() == {moved["customer_id"], other}
    assert (await persona(moved["customer_id"]))["order_count"] == 0 and (await persona(other))["order_count"] == 2
    assert outcomes(await ingest(pool, emitter, message(tenant_id, "FIX-1", buyer={"mobile": "13900000003"}))) == [
        "unchanged"
    ]


async def test_a_customer_given_an_identifier_is_announced_even_when_its_persona_stays(
    pool: asyncpg.Pool, emitter: RecordingEmitter, tenant_id: UUID
) -> None:
    """customers.updated.v1 publishes identifiers too: a re-sent order naming the buyer's unionid changes no persona
    field, and the customer's latest record must still show the unionid."""
    await ingest(pool, emitter, message(tenant_id, "AD-1", buyer={"mobile": "13900000011"}))
    (created,) = emitter.customers
    emitter.customers.clear()
    named = message(tenant_id, "AD-1", buyer={"mobile": "13900000011", "unionid": "U-11", "nickname": "Lily"})
    assert outcomes(await ingest(pool, emitter, named)) == ["updated"]
    (announced,) = emitter.customers
    assert (announced.customer_id, announced.unionid, announced.nickname) == (created.customer_id, "U-11", "Lily")
    assert announced.persona == created.persona and not announced.created
    assert announced.revision == (created.revision or 0) + 1
    emitter.customers.clear()
    assert outcomes(await ingest(pool, emitter, named)) == ["unchanged"] and emitter.customers == []


async def test_two_records_of_one_order_naming_a_held_identifier_apply_in_one_batch(
    pool: asyncpg.Pool, emitter: RecordingEmitter, tenant_id: UUID
) -> None:
    """The conflict both records name is recorded once (before: the conflicts' upsert met its key twice and the
    whole batch failed, to be applied record by record)."""
    await ingest(pool, emitter, message(tenant_id, "C-0", buyer={"unionid": "U-B"}))
    await ingest(pool, emitter, message(tenant_id, "C-1", buyer={"mobile": "13900000021"}))
    both = [message(tenant_id, "C-1", buyer={"mobile": "13900000021", "unionid": "U-B"}, remark=r) for r in "ab"]
    assert outcomes(await ingest(pool, emitter, *both)) == ["updated", "updated"]
    rows = await pool.fetch("SELECT identifier, value FROM identity_conflicts WHERE tenant_id = $1", tenant_id)
    assert [tuple(r) for r in rows] == [("unionid", "U-B")]
    assert (await fetch_order(pool, tenant_id, "C-1"))["remark"] == "b"


async def test_a_buyer_of_another_sobot_id_sharing_a_mobile_is_a_customer_of_its_own(
    pool: asyncpg.Pool, emitter: RecordingEmitter, tenant_id: UUID
) -> None:
    """Priority decides: the Sobot customer ID outranks the mobile, so two Sobot customers sharing a mobile are two
    customers (the second without the mobile, its conflict recorded), never one persona of both."""
    mobile = "13900000031"
    await ingest(pool, emitter, message(tenant_id, "SH-1", buyer={"sobot_customer_id": "SB-A", "mobile": mobile}))
    other = message(tenant_id, "SH-2", buyer={"sobot_customer_id": "SB-Z", "mobile": mobile})
    result = await ingest(pool, emitter, other)
    assert outcomes(result) == ["created"]
    first, second = [await fetch_order(pool, tenant_id, n) for n in ("SH-1", "SH-2")]
    assert first["customer_id"] != second["customer_id"] and second["matched_by"] == "new"
    rows = await pool.fetch(
        "SELECT sobot_customer_id, mobile, (persona->>'order_count')::int AS orders FROM customers"
        " WHERE tenant_id = $1 ORDER BY sobot_customer_id",
        tenant_id,
    )
    assert [tuple(r) for r in rows] == [("SB-A", "13900000031", 1), ("SB-Z", None, 1)]
    conflict = await pool.fetchrow("SELECT identifier, held_by FROM identity_conflicts WHERE tenant_id = $1", tenant_id)
    assert conflict is not None and tuple(conflict) == ("mobile", first["customer_id"])
