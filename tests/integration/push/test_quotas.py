"""Quotas per tenant on the real stack: a tenant over its limit is answered 429 with Retry-After, another is not."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import httpx

from services.ingest.adapters.tenants import TenantQuotas, create_tenant, set_quotas
from tests.integration.push.conftest import Tenant, push, pushed_order
from tools.samples import sample_rows, write_sample_csv


async def push_rate_and_another_tenant(pool: asyncpg.Pool, tenant: Tenant, rate: int) -> str:
    """Set `tenant`'s push rate; answer the key of another tenant, with the default rate."""
    async with pool.acquire() as conn:
        await set_quotas(conn, tenant.id, TenantQuotas(push_orders_per_second=rate))
        _, other = await create_tenant(conn, "other pusher")
    return other


async def test_a_tenant_over_its_push_rate_is_429_while_another_is_not(
    client: httpx.AsyncClient, pool: asyncpg.Pool, tenant: Tenant
) -> None:
    other = await push_rate_and_another_tenant(pool, tenant, 1)
    full = await push(client, tenant.admin_key, [{}] * 1000)  # a bucket holds one full batch; invalid orders count
    assert full.status_code == 202 and full.json()["rejected"] == 1000
    over = await push(client, tenant.admin_key, [pushed_order("R1")])
    assert over.status_code == 429 and over.json()["code"] == "rate_limited", over.text
    assert int(over.headers["Retry-After"]) >= 1 and "1 orders per second" in over.json()["detail"]
    assert (await push(client, other, [pushed_order("R1")])).status_code == 202
    metrics = (await client.get("/metrics")).text
    assert 'orderinfo_quota_refusals_total{quota="push_orders_per_second"}' in metrics
    assert 'orderinfo_pushed_orders_total{outcome="rejected"}' in metrics


async def test_a_tenant_over_its_import_rows_per_hour_is_429_while_another_is_not(
    client: httpx.AsyncClient, pool: asyncpg.Pool, tenant: Tenant, tmp_path: Path
) -> None:
    path = tmp_path / "orders.csv"
    write_sample_csv(path, sample_rows(2, 1))
    data = path.read_bytes()
    async with pool.acquire() as conn:
        await set_quotas(conn, tenant.id, TenantQuotas(import_rows_per_hour=2))
        _, other = await create_tenant(conn, "other importer")

    async def upload(key: str) -> httpx.Response:
        return await client.post("/v1/imports", headers={"X-API-Key": key}, files={"file": ("o.csv", data, "text/csv")})

    assert (await upload(tenant.admin_key)).status_code == 202
    over = await upload(tenant.admin_key)
    assert over.status_code == 429 and over.json()["code"] == "quota_exceeded", over.text
    assert 0 < int(over.headers["Retry-After"]) <= 3600
    assert (await upload(other)).status_code == 202


async def test_an_order_of_many_lines_is_charged_for_its_lines_not_as_one_order(
    client: httpx.AsyncClient, pool: asyncpg.Pool, tenant: Tenant
) -> None:
    # Each pushed order counted once whatever its lines: within its quota one tenant pushed 1,000 orders of 500
    # lines in 27 s, and another tenant's order waited 57 s behind them in the consumer (measured on the stack).
    other = await push_rate_and_another_tenant(pool, tenant, 100)
    lines = [{"product_id": f"P{k}", "quantity": 1, "unit_price": "1.00"} for k in range(500)]
    giant = [pushed_order(f"G{n}", lines=lines) for n in range(20)]  # 20 x 125 = 2,500 orders' worth
    first = await push(client, tenant.admin_key, giant)  # admitted: the bucket (1,000) was full
    assert first.status_code == 202 and first.json()["accepted"] == 20, first.text
    again = await push(client, tenant.admin_key, giant)
    assert again.status_code == 429 and again.json()["code"] == "rate_limited", again.text
    assert int(again.headers["Retry-After"]) > 10  # 1,500 orders' worth owed at 100 a second
    assert (await push(client, other, [pushed_order("S1")])).status_code == 202
