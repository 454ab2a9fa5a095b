"""The HTTP API (FastAPI): routers and middlewares, over what the composition root hands in (which also installs
the console beside it: `entrypoints/console`, which shares the app and its state but imports nothing of this package).

`services.ingest.main` builds the app: it gives `resources`, which the lifespan enters (the root's context creates
the topics, opens the pool, recovers interrupted uploads and starts the producer; the app only keeps them on its
state, where the handlers' dependencies find them).
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, FastAPI

from services.ingest.adapters import push_requests
from services.ingest.adapters.storage import TranslatingPool
from services.ingest.adapters.tenants import Tenant
from services.ingest.application.erasure import Tombstone
from services.ingest.application.push import PushOptions
from services.ingest.application.uploads import Slots
from services.ingest.domain.api_keys import Scope
from services.ingest.entrypoints.http import admin, customers, exports, health, imports, keys, orders, problems, push
from services.ingest.entrypoints.http.dependencies import authenticator
from services.ingest.entrypoints.http.limits import (
    BodyDeadline,
    BodySizeLimit,
    IdentityBodies,
    UploadGate,
    head_deadline_protocol,
)
from services.ingest.entrypoints.http.query_strings import SingleQueryValues, refuse_unknown_parameters
from services.ingest.entrypoints.http.quotas import UPLOADS_IN_FLIGHT, UPLOADS_PER_TENANT, QuotaMetrics, Quotas
from services.ingest.settings import IngestSettings

log = logging.getLogger("orderinfo.http")
UPLOAD_PATH = "/v1/imports"  # POST: its key and slot are checked before its body is read (`limits.UploadGate`)
PURGE_EVERY_S = 600.0  # idempotency answers past their retention are deleted this often
_SLOT_QUOTAS = {"too_many_tenant_uploads": UPLOADS_PER_TENANT, "too_many_uploads": UPLOADS_IN_FLIGHT}


@dataclass(frozen=True)
class ApiResources:
    pool: Any  # asyncpg.Pool
    broker: Any  # a started FastStream KafkaBroker: handlers publish through `platform.publisher` over it


Resources = Callable[[], AbstractAsyncContextManager[ApiResources]]


def create_app(
    settings: IngestSettings,
    resources: Resources,
    *,
    events_topic: str,
    push_options: PushOptions,
    tombstone: Tombstone,
) -> FastAPI:
    """The app; `resources` is entered for its lifetime; `events_topic` is where the order events are written;
    pushed orders are validated with `push_options` (the consumer's own); an erased customer's events are replaced
    by `tombstone` (the rules bridge's outbox writer)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with resources() as started:
            # a connection that cannot be had answers 503 `database_unavailable` (`problems`), never a 500
            app.state.pool, app.state.broker = TranslatingPool(started.pool), started.broker
            # What exists now lives as long as the process: out of the collector's scans, so a collection that an
            # upload's parse triggers on its worker thread (holding the GIL, so the event loop too) stays short.
            gc.freeze()
            purging = asyncio.create_task(_purge_push_requests(started.pool, settings))
            stop = asyncio.Event()
            counting = asyncio.create_task(
                health.count_imports(
                    started.pool,
                    app.state.metrics,
                    settings.import_stuck_after_s,
                    settings.import_states_interval_s,
                    stop,
                )
            )
            try:
                yield
            finally:
                purging.cancel()
                stop.set()
                await counting

    app = FastAPI(
        title="Order Info",
        version="1.0.0",
        description="Imports e-commerce orders, keeps customers' consumption data, serves the order list.",
        lifespan=lifespan,
        # a trailing slash is a 404: the redirect would be absolute, built from the request's Host header (a client
        # or a proxy could make it point at any site)
        redirect_slashes=False,
    )
    app.state.settings = settings
    app.state.events_topic = events_topic
    app.state.upload_slots = Slots(
        settings.max_uploads_in_flight, settings.upload_retry_after_seconds, settings.max_uploads_per_tenant
    )
    app.state.export_slots = Slots(
        settings.max_exports_in_flight,
        settings.upload_retry_after_seconds,
        settings.max_exports_per_tenant,
        noun="exports",
    )
    app.state.letter_slots = Slots(
        settings.max_letter_reads_in_flight,
        settings.upload_retry_after_seconds,
        settings.max_letter_reads_per_tenant,
        noun="dead_letter_reads",
    )
    # pushed orders are validated with the consumer's own options (placeholder mobiles)
    app.state.push_options = push_options
    app.state.tombstone = tombstone
    problems.install(app)

    async def admit_upload(request: Any, tenant: Tenant) -> None:
        async with request.app.state.pool.acquire() as conn:
            await app.state.quotas.admit_upload(conn, tenant)

    def refused(code: str) -> None:
        if code in _SLOT_QUOTAS:
            app.state.quotas.metrics.refusals.labels(_SLOT_QUOTAS[code]).inc()

    app.add_middleware(
        UploadGate, path=UPLOAD_PATH, authenticate=authenticator(Scope.IMPORT), admit=admit_upload, refused=refused
    )
    app.add_middleware(IdentityBodies)  # outside the gate: an encoded upload takes no slot
    app.add_middleware(SingleQueryValues)
    # multipart framing adds a little around the file itself
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_upload_bytes + 64 * 1024,
        upload_paths=frozenset({UPLOAD_PATH}),
        file_limit=settings.max_upload_bytes,
    )
    app.add_middleware(
        BodyDeadline, grace=settings.http_body_grace_seconds, min_rate=settings.http_body_min_bytes_per_second
    )
    # `exports` before `orders`: its /{order_no:path} would take /export
    for router in (imports, exports, orders, customers, push, keys, admin):
        app.include_router(router.router, dependencies=[Depends(refuse_unknown_parameters)])
    metrics = health.install(app, settings)  # request metrics middleware + /healthz, /readyz, /metrics
    app.state.quotas = Quotas(
        settings.push_orders_per_second, settings.import_rows_per_hour, QuotaMetrics(metrics.registry)
    )
    return app


async def _purge_push_requests(pool: Any, settings: IngestSettings) -> None:
    retention_s = settings.push_idempotency_retention_hours * 3600
    while True:
        try:
            async with pool.acquire() as conn:
                await push_requests.purge(conn, retention_s)
        except Exception:  # the database may be down a while: the next round tries again
            log.warning("could not purge old idempotency answers", exc_info=True)
        await asyncio.sleep(min(PURGE_EVERY_S, retention_s))


def server_options(settings: IngestSettings) -> dict[str, Any]:
    """uvicorn's options for the API: read deadlines for slow clients (see `limits`)."""
    return {
        "http": head_deadline_protocol(settings.http_head_timeout_seconds),
        "timeout_keep_alive": settings.http_keep_alive_seconds,
    }
