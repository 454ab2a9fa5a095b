"""The HTTP API (FastAPI). The pool and the Kafka producer start and stop in the app's lifespan."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import FastAPI

from services.ingest.adapters import import_jobs
from services.ingest.entrypoints import console
from services.ingest.entrypoints.http import customers, exports, health, imports, orders, problems
from services.ingest.entrypoints.http.dependencies import tenant_of_request
from services.ingest.entrypoints.http.limits import (
    BodyDeadline,
    BodySizeLimit,
    UploadGate,
    UploadSlots,
    head_deadline_protocol,
)
from services.ingest.settings import IngestSettings

INTERRUPTED_AFTER = timedelta(minutes=15)  # far longer than any upload takes to publish
UPLOAD_PATH = "/v1/imports"  # POST: its key and slot are checked before its body is read (`limits.UploadGate`)


def create_app(settings: IngestSettings) -> FastAPI:
    from services.ingest.main import ensure_ingest_topics, producer_broker
    from services.platform.database import open_database

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await ensure_ingest_topics(settings)
        app.state.pool = await open_database(settings.database_url, max_size=10)
        async with app.state.pool.acquire() as conn:
            await import_jobs.fail_interrupted(conn, INTERRUPTED_AFTER)
        app.state.broker = producer_broker(settings)
        await app.state.broker.start()
        # What exists now lives as long as the process: out of the collector's scans, so a collection that an
        # upload's parse triggers on its worker thread (holding the GIL, so the event loop too) stays short.
        gc.freeze()
        try:
            yield
        finally:
            await app.state.broker.stop()
            await app.state.pool.close()

    app = FastAPI(
        title="Order Info",
        version="1.0.0",
        description="Imports e-commerce orders, keeps customers' consumption data, serves the order list.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.upload_slots = UploadSlots(
        settings.max_uploads_in_flight, settings.upload_retry_after_seconds, settings.max_uploads_per_tenant
    )
    problems.install(app)
    app.add_middleware(UploadGate, path=UPLOAD_PATH, authenticate=tenant_of_request)
    # multipart framing adds a little around the file itself
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_upload_bytes + 64 * 1024)
    app.add_middleware(
        BodyDeadline, grace=settings.http_body_grace_seconds, min_rate=settings.http_body_min_bytes_per_second
    )
    app.include_router(imports.router)
    app.include_router(exports.router)  # before `orders`: its /{order_no:path} would take /export
    app.include_router(orders.router)
    app.include_router(customers.router)
    health.install(app, settings)  # request metrics middleware + /healthz, /readyz, /metrics
    console.install(app)  # the operator console at /console, and /docs from local assets
    return app


def server_options(settings: IngestSettings) -> dict[str, Any]:
    """uvicorn's options for the API: read deadlines for slow clients (see `limits`)."""
    return {
        "http": head_deadline_protocol(settings.http_head_timeout_seconds),
        "timeout_keep_alive": settings.http_keep_alive_seconds,
    }
