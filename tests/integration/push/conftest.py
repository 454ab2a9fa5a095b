"""The real app and a consumer of the same topics in this process, for the push API and the keys."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from services.ingest.adapters.tenants import create_key, create_tenant
from services.ingest.contracts.orders_ingest_v1 import TOPIC
from services.ingest.domain.keys import Scope
from services.ingest.entrypoints.consumer import BatchIngestor, subscribe
from services.ingest.main import create_app, ingest_options, producer_broker
from services.ingest.settings import IngestSettings
from services.platform.settings import ConnectionSettings
from services.rules_bridge.outbox_writer import emit_events
from tests.support.orders import message
from tools.verification.checks import read_topic


@pytest.fixture(scope="module")
def settings(connection_settings: ConnectionSettings) -> IngestSettings:
    return IngestSettings(
        kafka_bootstrap_servers=connection_settings.kafka_bootstrap_servers,
        database_url=connection_settings.database_url,
        topic_prefix=f"{connection_settings.topic_prefix}{uuid.uuid4().hex[:6]}.",
        topic_partitions=3,
    )


@pytest.fixture(scope="module")
def app(settings: IngestSettings) -> FastAPI:
    return create_app(settings)


@pytest.fixture(scope="module")
async def client(app: FastAPI, settings: IngestSettings, pool: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:
    consumer = producer_broker(settings)
    subscribe(consumer, settings, BatchIngestor(pool, emit_events, ingest_options(settings)))
    async with app.router.lifespan_context(app):
        await consumer.start()
        try:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as http:
                yield http
        finally:
            await consumer.stop()


class Tenant:
    def __init__(self, id: UUID, admin_key: str) -> None:
        self.id, self.admin_key = id, admin_key


@pytest.fixture
async def tenant(pool: asyncpg.Pool) -> Tenant:
    async with pool.acquire() as conn:
        created, key = await create_tenant(conn, "push tenant")
    return Tenant(created.id, key)


async def new_key(pool: asyncpg.Pool, tenant_id: UUID, name: str, *scopes: Scope) -> str:
    async with pool.acquire() as conn:
        _, secret = await create_key(conn, tenant_id, name, scopes)
    return secret


def pushed_order(order_no: str, **fields: Any) -> dict[str, Any]:
    """An order as an integration pushes it: the contract without tenant_id, import_id and producer."""
    document = message(uuid.uuid4(), order_no, **fields).model_dump(mode="json", exclude_none=True)
    for claim in ("tenant_id", "import_id", "producer"):
        document.pop(claim, None)
    return document


async def topic_size(settings: IngestSettings) -> int:
    return len(await read_topic(settings, settings.topic(TOPIC.name)))


def push(client: httpx.AsyncClient, key: str, orders: list[Any], idempotency_key: str | None = None) -> Any:
    headers = {"X-API-Key": key} | ({"Idempotency-Key": idempotency_key} if idempotency_key else {})
    return client.post("/v1/orders:batch", json={"orders": orders}, headers=headers)
