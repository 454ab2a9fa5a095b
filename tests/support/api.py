"""The real API app with a consumer of the same topics, in this process (for tests of the HTTP API end to end)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
from fastapi import FastAPI
from fastapi.routing import APIRoute

from services.ingest.entrypoints.consumer import BatchIngestor, subscribe
from services.ingest.main import ingest_options, producer_broker
from services.ingest.settings import IngestSettings
from services.platform.settings import ConnectionSettings
from services.rules_bridge.outbox_writer import emit_events


def own_topics(connection: ConnectionSettings) -> IngestSettings:
    """Settings on the test session's database and on topics of their own (a prefix inside the session's)."""
    return IngestSettings(
        kafka_bootstrap_servers=connection.kafka_bootstrap_servers,
        database_url=connection.database_url,
        topic_prefix=f"{connection.topic_prefix}{uuid.uuid4().hex[:6]}.",
        topic_partitions=3,
    )


@contextlib.asynccontextmanager
async def api_with_consumer(
    app: FastAPI, settings: IngestSettings, pool: asyncpg.Pool
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of `app` while its lifespan runs (which starts the producer), with a consumer of `settings`'
    topics ingesting what it publishes."""
    consumer = producer_broker(settings)
    subscribe(consumer, settings, BatchIngestor(pool, emit_events, ingest_options(settings)))
    async with app.router.lifespan_context(app):
        await consumer.start()
        try:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as http:
                yield http
        finally:
            await consumer.stop()


def api_routes(routes: list[Any]) -> list[APIRoute]:
    """The app's API routes, also those of included routers (FastAPI keeps them apart from `app.routes`)."""
    found = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif getattr(route, "original_router", None) is not None:
            found += api_routes(route.original_router.routes)
    return found
