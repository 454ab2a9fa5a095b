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
    stored = await pool.fetch(
        "SELECT event_id FROM outbox WHERE key = $1 AND topic = 'orders.events.v1' ORDER BY id", f"{tenant}:D1"
    )
    assert [e["event_id"] for e in order["events"]] == [r["event_id"] for r in stored]
    assert order["events_not_shown"] == 0


async def test_unknown_order_is_a_404_problem(pool: asyncpg.Pool, client_for: ClientFor) -> None:
    _, key = await new_tenant(pool, "details 404")
    answer = await client_for(key).get("/v1/orders/NOPE")
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "order_not_found"


async def test_an_order_no_with_surrounding_spaces_reads_the_order(pool: asyncpg.Pool, client_for: ClientFor) -> None:
    """Stored order nos. never hold surrounding whitespace (the contract strips them) and the order list's
    `order_no` filter strips it; the details answered 404 for " D2 " (copied from a sheet with its spaces)."""
    tenant, key = await new_tenant(pool, "details spaces")
    await ingest(pool, message(tenant, "D2"))
    answer = await client_for(key).get("/v1/orders/%20D2%09")
    assert answer.status_code == 200 and answer.json()["order_no"] == "D2", answer.text
    blank = await client_for(key).get("/v1/orders/%20%20")
    assert blank.status_code == 422 and blank.json()["code"] == "blank_filter", blank.text


async def test_order_details_tell_sent_pending_and_parked_events_apart(
    pool: asyncpg.Pool, client_for: ClientFor
) -> None:
    tenant, key = await new_tenant(pool, "details parked")
    for status in ("to_be_paid", "paid", "shipped"):
        await ingest(pool, message(tenant, "PK1", status=status))
    ids = [r["id"] for r in await pool.fetch("SELECT id FROM outbox WHERE key = $1 ORDER BY id", f"{tenant}:PK1")]
    assert len(ids) >= 3, ids
    await pool.execute("UPDATE outbox SET sent_at = now() WHERE id = $1", ids[0])
    await pool.execute(
        "UPDATE outbox SET failed_at = now(), failure = 'too_large', failure_detail = 'secret 5 MB > 4 MB'"
        " WHERE id = $1",
        ids[1],
    )

    answer = await client_for(key).get("/v1/orders/PK1")

    assert answer.status_code == 200, answer.text
    sent, parked, pending = answer.json()["events"][:3]
    assert (sent["state"], sent["parked_at"], sent["parked_reason"]) == ("sent", None, None) and sent["sent_at"]
    assert (parked["state"], parked["sent_at"], parked["parked_reason"]) == ("parked", None, "too_large")
    assert parked["parked_at"] and "secret" not in answer.text  # the operator's detail is never shown
    assert (pending["state"], pending["sent_at"], pending["parked_at"]) == ("pending", None, None)


async def test_order_details_show_the_latest_100_events_and_count_the_rest(
    pool: asyncpg.Pool, client_for: ClientFor
) -> None:
    tenant, key = await new_tenant(pool, "details many events")
    await ingest(pool, message(tenant, "EV1"))
    order_key = f"{tenant}:EV1"
    await pool.execute(
        "INSERT INTO outbox (tenant_id, topic, shard, key, event_id, event_type, headers, payload)"
        " SELECT tenant_id, topic, shard, key, event_id || '-' || n, event_type, headers, payload"
        " FROM outbox, generate_series(1, 130) AS n WHERE key = $1",
        order_key,
    )
    rows = await pool.fetch("SELECT event_id FROM outbox WHERE key = $1 ORDER BY id", order_key)
    stored = [r["event_id"] for r in rows]
    assert len(stored) > 130

    order = (await client_for(key).get("/v1/orders/EV1")).json()

    assert [e["event_id"] for e in order["events"]] == stored[-100:]  # the latest, oldest first
    assert order["events_not_shown"] == len(stored) - 100
