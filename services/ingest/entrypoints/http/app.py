"""The HTTP API (FastAPI): routers, middlewares and the console, over what the composition root hands in.

`services.ingest.main` builds the app: it gives `resources`, which the lifespan enters (the root's context creates
the topics, opens the pool, recovers interrupted uploads and starts the producer; the app only keeps them on its
state, where the handlers' dependencies find them).
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI

from services.ingest.entrypoints import console
from services.ingest.entrypoints.http import customers, health, imports, orders, problems
from services.ingest.entrypoints.http.dependencies import tenant_of_request
from services.ingest.entrypoints.http.limits import (
    BodyDeadline,
    BodySizeLimit,
    UploadGate,
    UploadSlots,
    head_deadline_protocol,
)
from services.ingest.settings import IngestSettings

UPLOAD_PATH = "/v1/imports"  # POST: its key and slot are checked before its body is read (`limits.UploadGate`)


@dataclass(frozen=True)
class ApiResources:
    pool: Any  # asyncpg.Pool
    broker: Any  # a started FastStream KafkaBroker: handlers publish through `platform.publisher` over it


Resources = Callable[[], AbstractAsyncContextManager[ApiResources]]


def create_app(settings: IngestSettings, resources: Resources, *, events_topic: str) -> FastAPI:
    """The app; `resources` is entered for its lifetime; `events_topic` is where the order events are written."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with resources() as started:
            app.state.pool, app.state.broker = started.pool, started.broker
            # What exists now lives as long as the process: out of the collector's scans, so a collection that an
            # upload's parse triggers on its worker thread (holding the GIL, so the event loop too) stays short.
            gc.freeze()
            yield

    app = FastAPI(
        title="Order Info",
        version="1.0.0",
        description="Imports e-commerce orders, keeps customers' consumption data, serves the order list.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.events_topic = events_topic
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
