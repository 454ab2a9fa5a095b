"""Tenant isolation on every read endpoint: tenant B's key never sees tenant A's orders or customers."""

from __future__ import annotations

import pytest

from tests.integration.query.conftest import Catalogue, ClientFor, all_pages


async def test_lists_hold_only_the_callers_orders(catalogue: Catalogue, client_for: ClientFor) -> None:
    assert sorted(await all_pages(client_for(catalogue.key_b), {}, limit=50)) == ["AB100", "B-ONLY"]
    a_orders = await all_pages(client_for(catalogue.key_a), {}, limit=50)
    assert "B-ONLY" not in a_orders and len(a_orders) == len(catalogue.orders)


@pytest.mark.parametrize("params", [{"order_no": "AB109"}, {"order_no_prefix": "CD"}, {"store": "X9"}])
async def test_filters_never_reach_another_tenant(
    params: dict[str, str], catalogue: Catalogue, client_for: ClientFor
) -> None:
    answer = await client_for(catalogue.key_b).get("/v1/orders", params=params)
    assert answer.status_code == 200 and answer.json()["items"] == []


async def test_customer_filter_of_another_tenant_is_empty(catalogue: Catalogue, client_for: ClientFor) -> None:
    a_customer = str(catalogue.customer_of_mobile["13900000001"])
    answer = await client_for(catalogue.key_b).get("/v1/orders", params={"customer_id": a_customer})
    assert answer.json()["items"] == []


async def test_shared_order_no_shows_each_tenant_its_own(catalogue: Catalogue, client_for: ClientFor) -> None:
    a = (await client_for(catalogue.key_a).get("/v1/orders/AB100")).json()
    b = (await client_for(catalogue.key_b).get("/v1/orders/AB100")).json()
    assert a["status"] == "paid" and b["status"] == "dealed" and a["customer_id"] != b["customer_id"]


async def test_another_tenants_order_and_customer_are_404(catalogue: Catalogue, client_for: ClientFor) -> None:
    b = client_for(catalogue.key_b)
    a_customer = catalogue.customer_of_mobile["13900000002"]
    for path in ("/v1/orders/AB109", f"/v1/customers/{a_customer}", "/v1/customers?mobile=13900000002"):
        answer = await b.get(path)
        assert answer.status_code == 404, path
        assert answer.headers["content-type"] == "application/problem+json"


async def test_same_mobile_in_two_tenants_resolves_to_each_tenants_customer(
    catalogue: Catalogue, client_for: ClientFor
) -> None:
    a = (await client_for(catalogue.key_a).get("/v1/customers", params={"mobile": "13900000001"})).json()
    b = (await client_for(catalogue.key_b).get("/v1/customers", params={"mobile": "13900000001"})).json()
    assert a["id"] == str(catalogue.customer_of_mobile["13900000001"]) and b["id"] != a["id"]
    assert {o["order_no"] for o in b["recent_orders"]} == {"AB100"}


@pytest.mark.parametrize("path", ["/v1/orders", "/v1/orders/AB100", "/v1/customers?mobile=13900000001"])
@pytest.mark.parametrize("key", [None, "oik_wrong", "not-a-key"])
async def test_no_or_wrong_key_is_401(path: str, key: str | None, catalogue: Catalogue, client_for: ClientFor) -> None:
    answer = await client_for(key).get(path)
    assert answer.status_code == 401 and answer.headers["content-type"] == "application/problem+json"
