"""`POST /v1/orders:batch` on the real broker and database: per-order answers, idempotency, tenant isolation."""

from __future__ import annotations

import json

import asyncpg
import httpx

from services.ingest.domain.api_keys import Scope
from services.ingest.settings import IngestSettings
from tests.integration.push.conftest import Tenant, new_key, push, pushed_order, topic_size
from tests.support.orders import line
from tests.support.waiting import eventually


async def stored(pool: asyncpg.Pool, tenant: Tenant) -> tuple[int, int]:
    row = await pool.fetchrow(
        "SELECT count(*) AS n, count(*) FILTER (WHERE producer = 'mall-sync') AS by_key FROM orders"
        " WHERE tenant_id = $1",
        tenant.id,
    )
    return row["n"], row["by_key"]


def thousand_with_three_invalid() -> list[dict[str, object]]:
    orders = [pushed_order(f"P{i:04}") for i in range(1000)]
    orders[10]["lines"][0]["quantity"] = 0  # type: ignore[index]
    orders[500]["order_time"] = "2026-11-01T10:00:00"  # no offset
    orders[999] = pushed_order("P0999", buyer={"mobile": "13800000000"})  # a placeholder, nothing else
    return orders


async def test_1000_orders_with_3_invalid_store_997_and_answer_3_with_reasons(
    client: httpx.AsyncClient, pool: asyncpg.Pool, tenant: Tenant, settings: IngestSettings
) -> None:
    key = await new_key(pool, tenant.id, "mall-sync", Scope.PUSH)
    orders = thousand_with_three_invalid()
    answer = await push(client, key, orders, idempotency_key="batch-1")
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert (body["accepted"], body["rejected"], len(body["orders"])) == (997, 3, 1000)
    refused = {o["index"]: o for o in body["orders"] if o["outcome"] == "rejected"}
    assert sorted(refused) == [10, 500, 999]
    assert all(o["code"] == "contract_violation" for o in refused.values())
    assert "quantity" in refused[10]["message"] and "order_time" in refused[500]["message"]
    assert "placeholder" in refused[999]["message"]
    assert refused[10]["order_no"] == "P0010"
    await eventually(lambda: stored(pool, tenant), lambda n: n == (997, 997), within=60)
    size = await topic_size(settings)

    again = await push(client, key, orders, idempotency_key="batch-1")
    assert again.status_code == 202 and again.json() == body
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await topic_size(settings) == size  # nothing published again

    other_body = await push(client, key, orders[:5], idempotency_key="batch-1")
    assert other_body.status_code == 409 and other_body.json()["code"] == "idempotency_key_reused"
    assert await topic_size(settings) == size


async def test_a_push_naming_another_tenant_is_refused_and_publishes_nothing(
    client: httpx.AsyncClient, pool: asyncpg.Pool, tenant: Tenant, settings: IngestSettings
) -> None:
    other = await new_key(pool, tenant.id, "mall-sync", Scope.PUSH)
    size = await topic_size(settings)
    stranger = pushed_order("X2") | {"tenant_id": "00000000-0000-4000-8000-000000000001"}
    own = pushed_order("X3") | {"tenant_id": str(tenant.id)}
    answer = await push(client, other, [pushed_order("X1"), stranger, own])
    assert answer.status_code == 403, answer.text
    problem = answer.json()
    assert problem["code"] == "tenant_mismatch" and problem["errors"] == [{"index": 1, "code": "tenant_mismatch"}]
    assert await topic_size(settings) == size
    assert (await push(client, other, [own])).status_code == 202  # its own tenant named: fine


async def test_a_push_with_an_empty_tenant_id_says_so_in_both_languages_and_publishes_nothing(
    client: httpx.AsyncClient, pool: asyncpg.Pool, tenant: Tenant, settings: IngestSettings
) -> None:
    """`"tenant_id": ""` was refused as naming "another tenant" (403 tenant_mismatch): it names none."""
    key = await new_key(pool, tenant.id, "mall-sync-empty", Scope.PUSH)
    size = await topic_size(settings)
    orders = [pushed_order("Y1"), pushed_order("Y2") | {"tenant_id": ""}]
    for lang, words in (("zh", "tenant_id 为空（orders 中 index 为 1 的订单）"), ("en", "tenant_id is empty")):
        answer = await client.post(f"/v1/orders:batch?lang={lang}", json={"orders": orders}, headers={"X-API-Key": key})
        assert answer.status_code == 422, answer.text
        problem = answer.json()
        assert problem["code"] == "empty_tenant_id" and problem["errors"] == [{"index": 1, "code": "empty_tenant_id"}]
        assert words in problem["detail"] and "another tenant" not in problem["detail"], problem["detail"]
        assert str(tenant.id) in problem["detail"]
    stranger = pushed_order("Y3") | {"tenant_id": "00000000-0000-4000-8000-000000000001"}
    mixed = await client.post("/v1/orders:batch", json={"orders": [*orders, stranger]}, headers={"X-API-Key": key})
    assert mixed.status_code == 403 and mixed.json()["errors"] == [
        {"index": 1, "code": "empty_tenant_id"},
        {"index": 2, "code": "tenant_mismatch"},
    ]
    assert await topic_size(settings) == size


async def test_more_than_1000_orders_is_413_with_a_clear_message(client: httpx.AsyncClient, tenant: Tenant) -> None:
    answer = await push(client, tenant.admin_key, [pushed_order(f"Q{i}") for i in range(1001)])
    assert answer.status_code == 413
    assert answer.json()["code"] == "too_many_orders" and "at most 1,000 orders" in answer.json()["detail"]


async def test_orders_keep_their_text_and_the_producer_is_the_keys_name(
    client: httpx.AsyncClient, pool: asyncpg.Pool, tenant: Tenant
) -> None:
    key = await new_key(pool, tenant.id, "mall-sync", Scope.PUSH)
    order = pushed_order("T1", lines=[line(price="12.5")]) | {"producer": "someone else"}
    text = json.dumps({"orders": [order]}).replace('"12.50"', "12.5")  # a JSON number, as sent
    answer = await client.post("/v1/orders:batch", content=text, headers={"X-API-Key": key})
    assert answer.status_code == 202 and answer.json()["accepted"] == 1, answer.text

    async def order_row() -> asyncpg.Record | None:
        return await pool.fetchrow("SELECT producer FROM orders WHERE tenant_id = $1 AND order_no = 'T1'", tenant.id)

    row = await eventually(order_row, lambda r: r is not None, within=30)
    assert row is not None and row["producer"] == "mall-sync"


async def test_bodies_that_are_not_a_batch_are_422_naming_why(client: httpx.AsyncClient, tenant: Tenant) -> None:
    cases = {
        b"": "invalid_json",
        b"[]": "invalid_json",
        b'{"orders": []}': "no_orders",
        b'{"orders": [1, 2}': "invalid_json",
        b'{"orders": [], "more": 1}': "invalid_json",
        b'{"items": []}': "invalid_body",
        b"\xff": "invalid_encoding",
        b'\xef\xbb\xbf{"orders": [{}]}': "invalid_encoding",  # a UTF-8 BOM
        '{"orders": [{}]}'.encode("utf-16"): "invalid_encoding",
    }
    for body, code in cases.items():
        answer = await client.post("/v1/orders:batch", content=body, headers={"X-API-Key": tenant.admin_key})
        assert (answer.status_code, answer.json()["code"]) == (422, code), body[:40]
    deep = b'{"orders": [' + b"[" * 50_000 + b"]" * 50_000 + b"]}"  # only its order refused (was the body's 422)
    answer = await client.post("/v1/orders:batch", content=deep, headers={"X-API-Key": tenant.admin_key})
    assert answer.status_code == 202 and answer.json()["orders"][0]["code"] == "invalid_json", answer.text
    odd = await push(client, tenant.admin_key, [1, pushed_order("I1") | {"import_id": str(tenant.id)}])
    assert odd.status_code == 202
    assert [o["code"] for o in odd.json()["orders"]] == ["not_an_object", "import_id_not_allowed"]


async def test_text_that_is_no_text_is_an_answer_not_a_500(client: httpx.AsyncClient, tenant: Tenant) -> None:
    """A lone UTF-16 surrogate escape (JSON allows it, UTF-8 cannot hold it) anywhere in an order: that order is
    rejected with its reason, its neighbours accepted, and nothing of it is echoed back that cannot be encoded."""
    good = json.dumps(pushed_order("S-GOOD"))
    lone = json.dumps(pushed_order("S-LONE")).replace('"S-LONE"', '"S-\\ud800"', 1)
    in_store = json.dumps(pushed_order("S-STORE")).replace('"S-STORE"', '"S-STORE\\udfff"', 1)
    with_import = json.dumps(pushed_order("S-IMP") | {"import_id": str(tenant.id)}).replace('"S-IMP"', '"\\udc00"')
    mobile = pushed_order("S-MOB")
    mobile["buyer"]["mobile"] = "1380013800\\ud83d"  # the high half of an emoji alone
    in_buyer = json.dumps(mobile).replace("\\\\ud83d", "\\ud83d")
    body = '{"orders": [' + ",".join([good, lone, in_store, with_import, in_buyer]) + "]}"
    answer = await client.post("/v1/orders:batch", content=body.encode(), headers={"X-API-Key": tenant.admin_key})
    assert answer.status_code == 202, answer.text
    orders = answer.json()["orders"]
    assert [o["outcome"] for o in orders] == ["accepted", "rejected", "rejected", "rejected", "rejected"]
    assert orders[0]["order_no"] == "S-GOOD"
    assert all("order_no" not in o for o in orders[1:4]), orders
    assert orders[4]["order_no"] == "S-MOB"
    assert all(o["message"] for o in orders[1:]), orders


async def test_an_invisible_character_in_an_identifier_rejects_that_order_naming_it(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    """`A001` and `A001` + U+200B would be two orders that look alike: the second is rejected, with the character
    and its position; the same character in a name is kept."""
    named = pushed_order("Z-NAMED")
    named["store"]["name"] = "店铺\u200b一号"
    hidden = pushed_order("Z-001") | {"order_no": "Z-001\u200b"}  # built valid, then given the character
    answer = await push(client, tenant.admin_key, [hidden, named])
    assert answer.status_code == 202, answer.text
    rejected, accepted = answer.json()["orders"]
    assert (rejected["outcome"], rejected["code"]) == ("rejected", "contract_violation")
    assert "U+200B at position 6" in rejected["message"]
    assert accepted["outcome"] == "accepted"


async def test_a_blank_buyer_mobile_is_absent_not_a_refusal(
    client: httpx.AsyncClient, pool: asyncpg.Pool, tenant: Tenant
) -> None:
    orders = [
        pushed_order("BLANK-1") | {"buyer": {"mobile": "", "nickname": "Lily"}},  # as a mall integration sends it
        pushed_order("BLANK-2") | {"buyer": {"mobile": " "}},  # nothing else identifies the buyer: as if missing
    ]
    answer = await push(client, tenant.admin_key, orders)
    assert answer.status_code == 202, answer.text
    outcomes = [(o["outcome"], o.get("code")) for o in answer.json()["orders"]]
    assert outcomes[0][0] != "rejected" and outcomes[1] == ("rejected", "contract_violation"), outcomes

    async def buyer() -> asyncpg.Record | None:
        return await pool.fetchrow(
            "SELECT o.buyer, c.mobile FROM orders o"
            " JOIN customers c ON c.tenant_id = o.tenant_id AND c.id = o.customer_id"
            " WHERE o.tenant_id = $1 AND o.order_no = 'BLANK-1'",
            tenant.id,
        )

    row = await eventually(buyer, lambda r: r is not None, within=30)
    assert row is not None and row["mobile"] is None and "mobile" not in row["buyer"]
