"""A small fixed catalogue of orders (ingested through `ingest_batch`) and an API client over the real app.

The app is `create_app` with `state.pool` set to the session pool; its lifespan (Kafka producer) is not run, as
httpx's ASGITransport sends no lifespan events.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from services.ingest.adapters.tenants import create_tenant
from services.ingest.application.ingestion import BatchResult, ingest_batch
from services.ingest.contracts.orders_ingest_v1 import OrderIngestV1
from services.ingest.main import create_app
from services.ingest.settings import IngestSettings
from services.platform.settings import ConnectionSettings
from services.rules_bridge.outbox_writer import emit_events
from tests.support.orders import SHANGHAI, line, message, received

BASE = datetime(2026, 3, 1, 9, 0, tzinfo=SHANGHAI)
STORES = [{"store_no": "S1", "name": "One"}, {"store_id": "X9"}, {"store_no": "S2", "store_id": "S1"}]
SOURCES = ["youzan", "douyin", "taobao"]
STATUSES = ["paid", "shipped", "dealed", "to_be_paid", "deal_closed", "signed_for", "other"]
MOBILES = ["13900000001", "13900000002", "13900000003"]


@dataclass
class Catalogue:
    """Tenant A's orders as sent (the oracle the API answers are compared with) and both tenants' keys."""

    tenant_a: UUID
    key_a: str
    tenant_b: UUID
    key_b: str
    orders: list[OrderIngestV1]
    customer_of_mobile: dict[str, UUID] = field(default_factory=dict)

    def customer_of(self, order: OrderIngestV1) -> UUID:
        return self.customer_of_mobile[order.buyer.mobile or ""]


def newest_first(orders: list[OrderIngestV1]) -> list[str]:
    return [o.order_no for o in sorted(orders, key=lambda o: (o.order_time, o.order_no), reverse=True)]


async def ingest(pool: asyncpg.Pool, *messages: OrderIngestV1) -> BatchResult:
    records = received(*messages)
    async with pool.acquire() as conn:
        result = await ingest_batch(conn, records, emit_events)
    assert not result.rejected, result.rejected
    return result


async def new_tenant(pool: asyncpg.Pool, name: str) -> tuple[UUID, str]:
    async with pool.acquire() as conn:
        tenant, key = await create_tenant(conn, name)
    return tenant.id, key


def catalogue_orders(tenant: UUID) -> list[OrderIngestV1]:
    """18 orders: three prefixes, every status, three sources, stores, customers; two pairs share an order_time."""
    orders = []
    for i in range(18):
        prefix = ("AB1", "AB2", "CD1")[i % 3]
        at = BASE + timedelta(hours=i if i not in (7, 13) else i - 1)  # ties at hours 6 and 12
        orders.append(
            message(
                tenant,
                f"{prefix}{i:02d}",
                status=STATUSES[i % 7],
                source=SOURCES[i % 3],
                order_time=at,
                store=STORES[i % 3 if i % 4 else 2],
                buyer={"mobile": MOBILES[i % 3 if i % 5 else 1]},
                lines=[line("P1"), line(f"Q{i}", quantity=2)] if i % 2 else [line("P1")],
            )
        )
    return orders


@pytest.fixture(scope="session")
async def catalogue(pool: asyncpg.Pool) -> Catalogue:
    tenant_a, key_a = await new_tenant(pool, "query tenant A")
    tenant_b, key_b = await new_tenant(pool, "query tenant B")
    orders = catalogue_orders(tenant_a)
    await ingest(pool, *orders)
    # tenant B shares one order no. and one mobile with A, with data of its own
    await ingest(
        pool,
        message(tenant_b, "AB100", status="dealed", buyer={"mobile": MOBILES[0]}),
        message(tenant_b, "B-ONLY", buyer={"mobile": "13700000000"}),
    )
    rows = await pool.fetch("SELECT mobile, id FROM customers WHERE tenant_id = $1", tenant_a)
    return Catalogue(tenant_a, key_a, tenant_b, key_b, orders, {r["mobile"]: r["id"] for r in rows})


@pytest.fixture(scope="session")
def api(pool: asyncpg.Pool, connection_settings: ConnectionSettings) -> FastAPI:
    app = create_app(IngestSettings(**connection_settings.model_dump()))
    app.state.pool = pool
    return app


ClientFor = Callable[[str | None], httpx.AsyncClient]


@pytest.fixture
async def client_for(api: FastAPI) -> AsyncIterator[ClientFor]:
    """A client sending the given API key (None: no key)."""
    opened: list[httpx.AsyncClient] = []

    def make(key: str | None) -> httpx.AsyncClient:
        headers = {"X-API-Key": key} if key else {}
        client = httpx.AsyncClient(transport=httpx.ASGITransport(api), base_url="http://api", headers=headers)
        opened.append(client)
        return client

    yield make
    for client in opened:
        await client.aclose()


async def all_pages(client: httpx.AsyncClient, params: dict[str, Any], limit: int) -> list[str]:
    """Every order no. of the listing, following next_cursor to the end."""
    seen: list[str] = []
    cursor = None
    while True:
        answer = await client.get(
            "/v1/orders", params={**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        seen += [item["order_no"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return seen
