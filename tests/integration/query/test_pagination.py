"""Keyset pages while orders are inserted between fetches: no order that existed at the start is skipped or repeated.

Newer orders (before the first page), older ones (after the last), and ones tied with the page boundary's
order_time on either side of its order no. are inserted after every page.
"""

from __future__ import annotations

import itertools
from datetime import timedelta

import asyncpg

from tests.integration.query.conftest import BASE, ClientFor, ingest, new_tenant
from tests.support.orders import message


async def test_pages_neither_skip_nor_repeat_under_concurrent_inserts(
    pool: asyncpg.Pool, client_for: ClientFor
) -> None:
    tenant, key = await new_tenant(pool, "pagination")
    # 30 orders over 10 instants: three orders share each order_time
    initial = [message(tenant, f"P{i:03d}", order_time=BASE + timedelta(minutes=i // 3)) for i in range(30)]
    await ingest(pool, *initial)
    client, seen, cursor, extra = client_for(key), [], None, itertools.count()
    while True:
        params = {"limit": 4, **({"cursor": cursor} if cursor else {})}
        body = (await client.get("/v1/orders", params=params)).json()
        seen += [item["order_no"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
        boundary = body["items"][-1]
        n = next(extra)
        await ingest(
            pool,
            message(tenant, f"NEW{n:02d}", order_time=BASE + timedelta(days=1, minutes=n)),
            message(tenant, f"OLD{n:02d}", order_time=BASE - timedelta(days=1, minutes=n)),
            message(tenant, f"{boundary['order_no']}+{n}", order_time=boundary["order_time"]),  # sorts before it
            message(tenant, f"{boundary['order_no'][:-1]}!{n}", order_time=boundary["order_time"]),  # sorts after it
        )
    expected = [o.order_no for o in sorted(initial, key=lambda o: (o.order_time, o.order_no), reverse=True)]
    assert len(seen) == len(set(seen)), "an order was repeated"
    assert [no for no in seen if no in set(expected)] == expected, "an initial order was skipped or out of order"
    assert not any(no.startswith("NEW") or "+" in no for no in seen), "an order before the cursor was returned"
