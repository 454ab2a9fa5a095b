"""The real HTTP app (its real lifespan: pool, topics, Kafka producer) over httpx's ASGI transport, with a small
upload limit, and two tenants: the attacker's and the victim's."""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from services.ingest.adapters.tenants import create_tenant
from services.ingest.main import create_app
from services.ingest.settings import IngestSettings
from services.platform.settings import ConnectionSettings
from tools.samples import SAMPLE_HEADER, SampleRow, write_sample_csv

MAX_UPLOAD = 256 * 1024


@dataclass(frozen=True)
class Api:
    client: httpx.AsyncClient
    settings: IngestSettings
    tenant_a: UUID
    key_a: str
    tenant_b: UUID
    key_b: str
    app: FastAPI

    def headers(self, key: str | None = None) -> dict[str, str]:
        return {"X-API-Key": key or self.key_a}


@pytest.fixture(scope="module")
async def api(connection_settings: ConnectionSettings, pool: asyncpg.Pool) -> AsyncIterator[Api]:
    values = connection_settings.model_dump() | {
        "topic_prefix": f"{connection_settings.topic_prefix}hostile-{uuid.uuid4().hex[:6]}.",
        "max_upload_bytes": MAX_UPLOAD,
    }
    settings = IngestSettings(**values)
    async with pool.acquire() as conn:
        a, key_a = await create_tenant(conn, "hostile victim")
        b, key_b = await create_tenant(conn, "hostile attacker")
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://orderinfo.test", timeout=60) as client:
            yield Api(client, settings, a.id, key_a, b.id, key_b, app)


def csv_bytes(rows: Iterable[SampleRow], tmp: Path) -> bytes:
    path = tmp / f"{uuid.uuid4().hex}.csv"
    write_sample_csv(path, rows)
    return path.read_bytes()


def header_index(name: str) -> int:
    return next(i for i, h in enumerate(SAMPLE_HEADER) if h.rstrip("*") == name)


async def upload(api: Api, name: str, content: bytes, key: str | None = None, **form: str) -> httpx.Response:
    files = {"file": (name, io.BytesIO(content), "application/octet-stream")}
    return await api.client.post("/v1/imports", files=files, data=form, headers=api.headers(key))
