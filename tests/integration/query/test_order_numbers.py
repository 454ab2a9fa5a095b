"""Every order no. the import accepts reads back through GET /v1/orders/{order_no} (finding 7), percent-encoded."""

from __future__ import annotations

from urllib.parse import quote

import asyncpg
import pytest

from tests.integration.query.conftest import ClientFor, ingest, new_tenant
from tests.support.orders import message

ORDER_NOS = {
    "slash": "JD/2026/001",
    "leading and trailing slash": "/X1/",
    "double slash": "A//B",
    "dot segments": "../A/./B",
    "percent": "50%OFF-%2F",
    "question mark": "Q?1=2&x",
    "hash": "#42",
    "spaces": "A 1  B",
    "plus and semicolon": "A+B;c=d",
    "backslash": "A\\B",
    "chinese": "订单/二〇二六-一",
    "emoji": "🛒-1",
    "64 characters": "/" * 64,
}


@pytest.mark.parametrize("order_no", ORDER_NOS.values(), ids=ORDER_NOS.keys())
async def test_an_accepted_order_no_reads_back(pool: asyncpg.Pool, client_for: ClientFor, order_no: str) -> None:
    tenant, key = await new_tenant(pool, "order nos")
    await ingest(pool, message(tenant, order_no), message(tenant, "OTHER"))

    answer = await client_for(key).get(f"/v1/orders/{quote(order_no, safe='')}")

    assert answer.status_code == 200, answer.text
    assert answer.json()["order_no"] == order_no


async def test_an_order_no_that_is_a_prefix_of_a_path_is_not_found(pool: asyncpg.Pool, client_for: ClientFor) -> None:
    tenant, key = await new_tenant(pool, "order nos 404")
    await ingest(pool, message(tenant, "A/B"))
    for path in ("/v1/orders/A", "/v1/orders/A%2FB%2F", "/v1/orders/B"):
        answer = await client_for(key).get(path)
        assert answer.status_code == 404, (path, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
