"""Operations endpoints of the HTTP API: `/healthz`, `/readyz` (PostgreSQL and Kafka), `/metrics`, and the
request metrics middleware. The metrics live on `app.state.metrics` for the rest of the app to count into."""

from __future__ import annotations

from fastapi import FastAPI

from services.platform.observability import Metrics, RequestMetrics, health_router, kafka_check, postgres_check
from services.platform.settings import ConnectionSettings


def install(app: FastAPI, settings: ConnectionSettings) -> Metrics:
    """Add the request metrics middleware and the operations routes to `app`; the pool is looked up per check
    (it is created by the lifespan, after this runs)."""
    metrics = Metrics()
    app.state.metrics = metrics
    checks = {
        "postgres": postgres_check(lambda: app.state.pool),
        "kafka": kafka_check(settings.kafka_bootstrap_servers),
    }
    app.add_middleware(RequestMetrics, metrics=metrics)
    app.include_router(health_router(checks, metrics))
    return metrics
