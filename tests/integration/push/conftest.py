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
from services.ingest.domain.api_keys import Scope
from services.ingest.main import create_app
from services.ingest.settings import IngestSettings
from services.platform.settings import ConnectionSettings
from tests.support.api import api_with_consumer, own_topics
from tests.support.orders import message
from tools.verification.checks import read_topic


@pytest.fixture(scope="module")
def settings(connection_settings: ConnectionSettings) -> IngestSettings:
    return own_topics(connection_settings)


@pytest.fixture(scope="module")
def app(settings: IngestSettings) -> FastAPI:
    return create_app(settings)


@pytest.fixture(scope="module")
async def client(app: FastAPI, settings: IngestSettings, pool: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:
    async with api_with_consumer(app, settings, pool) as http:
        yield http


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
