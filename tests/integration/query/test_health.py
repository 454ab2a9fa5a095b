"""/healthz, /readyz and /metrics of the API, the consumer's and relay's ops server, and the Metrics callbacks."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import asyncpg
import httpx
from fastapi import FastAPI

from services.ingest.main import create_app
from services.ingest.settings import IngestSettings
from services.platform.observability import Metrics, kafka_check, postgres_check, postgres_url_check, serve_ops
from services.platform.settings import ConnectionSettings
from tests.integration.query.conftest import ClientFor
from tests.support.ops import free_port, until_serving


async def test_healthz_and_readyz(client_for: ClientFor) -> None:
    client = client_for(None)
    assert (await client.get("/healthz")).json() == {"status": "ok", "checks": {}}
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json() == {"status": "ready", "checks": {"postgres": "ok", "kafka": "ok"}}


async def test_readyz_is_a_503_problem_when_kafka_is_unreachable(
    pool: asyncpg.Pool, connection_settings: ConnectionSettings
) -> None:
    settings = IngestSettings(
        **{**connection_settings.model_dump(), "kafka_bootstrap_servers": f"127.0.0.1:{free_port()}"}
    )
    app = create_app(settings)
    app.state.pool = pool
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://api") as client:
        answer = await client.get("/readyz")
    assert answer.status_code == 503 and answer.headers["content-type"] == "application/problem+json"
    body = answer.json()
    assert body["code"] == "not_ready" and body["checks"]["postgres"] == "ok" and body["checks"]["kafka"] != "ok"


async def test_metrics_count_requests_by_route_template(api: FastAPI, client_for: ClientFor) -> None:
    client = client_for(None)
    await client.get("/v1/orders/SOME-ORDER")  # 401: no key
    text = (await client.get("/metrics")).text
    assert 'orderinfo_http_requests_total{method="GET",route="/v1/orders/{order_no}",status="401"}' in text
    assert "orderinfo_http_request_duration_seconds_bucket" in text


@dataclass
class _Outcome:
    outcome: str


@dataclass
class _Rejected:
    reason: str


@dataclass
class _Result:
    outcomes: list[_Outcome] = field(default_factory=list)
    rejected: list[_Rejected] = field(default_factory=list)
    events: int = 0


def test_batch_metrics_and_callback_gauges() -> None:
    metrics = Metrics()
    metrics.observe_batch(3, _Result([_Outcome("created"), _Outcome("created")], [_Rejected("invalid_json")], 4), 0.2)
    metrics.observe_import("queued", valid_rows=10, invalid_rows=2)
    metrics.track_group_lag(lambda: ({0: 7, 1: 0}, 3.0))
    metrics.track_outbox_backlog(lambda: 12)
    text = metrics.exposition().decode()
    for expected in (
        'orderinfo_ingest_orders_total{outcome="created"} 2.0',
        'orderinfo_ingest_dead_letters_total{reason="invalid_json"} 1.0',
        "orderinfo_ingest_events_total 4.0",
        "orderinfo_ingest_batch_records_count 1.0",
        "orderinfo_ingest_batch_duration_seconds_count 1.0",
        'orderinfo_imports_total{state="queued"} 1.0',
        'orderinfo_consumer_group_lag{partition="0"} 7.0',
        "orderinfo_consumer_group_lag_age_seconds 3.0",
        "orderinfo_outbox_backlog 12.0",
    ):
        assert expected in text, expected


def test_a_failing_callback_does_not_break_the_scrape() -> None:
    metrics = Metrics()
    metrics.track_outbox_backlog(lambda: 1 // 0)
    assert "orderinfo_outbox_backlog" not in metrics.exposition().decode()


async def test_serve_ops_serves_until_stopped(pool: asyncpg.Pool, database_url: str, kafka_bootstrap: str) -> None:
    port, stop, metrics = free_port(), asyncio.Event(), Metrics()
    checks = {
        "pool": postgres_check(lambda: pool),
        "url": postgres_url_check(database_url),
        "kafka": kafka_check(kafka_bootstrap),
    }
    server = asyncio.create_task(serve_ops("127.0.0.1", port, checks, metrics, stop))
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        await until_serving(client)
        ready = await client.get("/readyz")
        assert ready.status_code == 200 and set(ready.json()["checks"].values()) == {"ok"}
        assert "# TYPE orderinfo_ingest_batch_records histogram" in (await client.get("/metrics")).text
    stop.set()
    await asyncio.wait_for(server, 10)
