"""GET /v1/customers/{id} and /v1/customers?<identifier>=: identifiers, persona, the latest 10 orders."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from tests.integration.query.conftest import BASE, ClientFor, ingest, new_tenant
from tests.support.orders import message

BUYER = {"mobile": "13955556666", "unionid": "UN-9", "sobot_customer_id": "SB-9", "nickname": "Bo"}


@pytest.fixture(scope="module")
async def customer(pool: asyncpg.Pool) -> tuple[str, str]:
    """(API key, customer id) of a tenant whose one customer has 12 orders."""
    tenant, key = await new_tenant(pool, "customers")
    await ingest(
        pool, *[message(tenant, f"C{i:02d}", buyer=BUYER, order_time=BASE + timedelta(days=i)) for i in range(12)]
    )
    customer_id = await pool.fetchval("SELECT id FROM customers WHERE tenant_id = $1", tenant)
    return key, str(customer_id)


def _assert_sidebar(body: dict[str, Any], customer_id: str) -> None:
    assert body["id"] == customer_id
    assert (body["mobile"], body["unionid"], body["sobot_customer_id"]) == ("13955556666", "UN-9", "SB-9")
    assert body["persona"]["order_count"] == 12
    assert [o["order_no"] for o in body["recent_orders"]] == [f"C{i:02d}" for i in range(11, 1, -1)]


async def test_by_id(customer: tuple[str, str], client_for: ClientFor) -> None:
    key, customer_id = customer
    answer = await client_for(key).get(f"/v1/customers/{customer_id}")
    assert answer.status_code == 200, answer.text
    _assert_sidebar(answer.json(), customer_id)


@pytest.mark.parametrize("identifier", ["mobile", "unionid", "sobot_customer_id"])
async def test_by_identifier(identifier: str, customer: tuple[str, str], client_for: ClientFor) -> None:
    key, customer_id = customer
    answer = await client_for(key).get("/v1/customers", params={identifier: BUYER[identifier]})
    assert answer.status_code == 200, answer.text
    _assert_sidebar(answer.json(), customer_id)


@pytest.mark.parametrize("params", [{}, {"mobile": "13955556666", "unionid": "UN-9"}])
async def test_exactly_one_identifier(params: dict[str, str], customer: tuple[str, str], client_for: ClientFor) -> None:
    answer = await client_for(customer[0]).get("/v1/customers", params=params)
    assert answer.status_code == 422 and answer.json()["code"] == "one_identifier_required"


@pytest.mark.parametrize(
    "path", ["/v1/customers/00000000-0000-4000-8000-000000000000", "/v1/customers?mobile=13900001111"]
)
async def test_unknown_customer_is_a_404_problem(path: str, customer: tuple[str, str], client_for: ClientFor) -> None:
    answer = await client_for(customer[0]).get(path)
    assert answer.status_code == 404 and answer.json()["code"] == "customer_not_found"


@pytest.mark.parametrize("written", ["+86 139-5555-6666", "139 5555 6666", "+8613955556666", "008613955556666"])
async def test_a_mobile_is_looked_up_as_imports_store_it(
    written: str, customer: tuple[str, str], client_for: ClientFor
) -> None:
    key, customer_id = customer
    answer = await client_for(key).get("/v1/customers", params={"mobile": written})
    assert answer.status_code == 200, answer.text
    _assert_sidebar(answer.json(), customer_id)


@pytest.mark.parametrize("written", ["123", "1395555666", "23955556666", "abc"])
async def test_an_invalid_mobile_is_a_422(written: str, customer: tuple[str, str], client_for: ClientFor) -> None:
    answer = await client_for(customer[0]).get("/v1/customers", params={"mobile": written})
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "invalid_mobile" and "11 digits" in answer.json()["detail"]


@pytest.mark.parametrize("identifier", ["unionid", "sobot_customer_id"])
async def test_a_blank_identifier_is_a_422_naming_it(
    identifier: str, customer: tuple[str, str], client_for: ClientFor
) -> None:
    """`?unionid=%20` looked for a customer whose unionid is "" and answered 404 "no customer with this unionid",
    as if the buyer were unknown; the order list answers a blank filter 422 blank_filter."""
    answer = await client_for(customer[0]).get("/v1/customers", params={identifier: "   "})
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "blank_filter" and identifier in answer.json()["detail"]
