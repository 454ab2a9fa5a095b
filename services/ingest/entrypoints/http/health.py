"""Operations endpoints of the HTTP API: `/healthz`, `/readyz` (PostgreSQL and Kafka), `/metrics`, and the
request metrics middleware. The metrics live on `app.state.metrics` for the rest of the app to count into."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from fastapi import FastAPI

from services.ingest.adapters.pipeline import active_imports
from services.platform.observability import (
    ImportStates,
    Metrics,
    Process,
    RequestMetrics,
    health_router,
    kafka_check,
    postgres_check,
)
from services.platform.settings import ConnectionSettings


def install(app: FastAPI, settings: ConnectionSettings) -> Metrics:
    """Add the request metrics middleware and the operations routes to `app`; the pool is looked up per check
    (it is created by the lifespan, after this runs)."""
    metrics = Metrics(process=Process.API)
    app.state.metrics = metrics
    checks = {
        "postgres": postgres_check(lambda: app.state.pool),
        "kafka": kafka_check(settings.kafka_bootstrap_servers),
    }
    app.add_middleware(RequestMetrics, metrics=metrics)
    app.include_router(health_router(checks, metrics))
    return metrics


log = logging.getLogger("orderinfo.http.health")


async def count_imports(pool: Any, metrics: Metrics, stuck_after_s: float, every_s: float, stop: asyncio.Event) -> None:
    """Refresh the imports gauges (`imports_active`, `imports_stuck`) every `every_s` until `stop` is set; a
    failed count keeps the previous figures."""
    states = ImportStates()
    metrics.track_imports(lambda: states)
    while not stop.is_set():
        try:
            async with pool.acquire() as conn:
                active, stuck = await active_imports(conn, stuck_after_s)
            states = ImportStates(active, stuck)
        except Exception:
            log.exception("could not count the active imports")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every_s)
