"""GET /v1/orders/{order_no}: lines, customer, matched identifier, status history and emitted events."""

from __future__ import annotations

import asyncpg

from tests.integration.query.conftest import ClientFor, ingest, new_tenant
from tests.support.orders import line, message


async def test_order_details(pool: asyncpg.Pool, client_for: ClientFor) -> None:
    tenant, key = await new_tenant(pool, "details")
    buyer = {"mobile": "13911112222", "unionid": "U-1", "nickname": "Ann"}
    await ingest(pool, message(tenant, "D1", status="to_be_paid", buyer=buyer, lines=[line("P1"), line("P2", "red")]))
    await ingest(pool, message(tenant, "D1", status="paid", buyer=buyer, lines=[line("P1"), line("P2", "red")]))

    answer = await client_for(key).get("/v1/orders/D1")

    assert answer.status_code == 200, answer.text
    order = answer.json()
    assert order["status"] == "paid" and order["line_count"] == 2 and order["matched_by"]
    assert [(x["product_id"], x["sku"]) for x in order["lines"]] == [("P1", ""), ("P2", "red")]
    customer = order["customer"]
    assert customer["id"] == order["customer_id"]
    assert (customer["mobile"], customer["unionid"], customer["nickname"]) == ("13911112222", "U-1", "Ann")
    assert [h["status"] for h in order["status_history"]] == ["to_be_paid", "paid"]
    assert order["events"], "the ingest emitted order events into the outbox"
    assert all(e["event_id"] and e["event_type"] and e["sent_at"] is None for e in order["events"])
    stored = await pool.fetch("SELECT event_id FROM outbox WHERE key = $1 AND topic = 'orders.events.v1' ORDER BY id",
                              f"{tenant}:D1")  # fmt: skip
    assert [e["event_id"] for e in order["events"]] == [r["event_id"] for r in stored]


async def test_unknown_order_is_a_404_problem(pool: asyncpg.Pool, client_for: ClientFor) -> None:
    _, key = await new_tenant(pool, "details 404")
    answer = await client_for(key).get("/v1/orders/NOPE")
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "order_not_found"
