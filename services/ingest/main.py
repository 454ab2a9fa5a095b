"""Composition roots of the ingest processes: settings, pool, broker and handlers are wired here and nowhere else.

`run_consumer` is the `orders.ingest.v1` consumer process; `create_app` builds the HTTP API (uvicorn factory).
"""

from __future__ import annotations

import asyncio
import gc
import logging

from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from services.ingest.application.ingestion import IngestOptions
from services.ingest.application.lifecycle import sweep_forever
from services.ingest.application.personas import fold_forever
from services.ingest.contracts.orders_ingest_v1 import DEAD_LETTER_BYTES, DLQ_TOPIC, TOPIC
from services.ingest.domain.persona import LifecycleThresholds
from services.ingest.domain.validation import DEFAULT_PLACEHOLDER_MOBILES, normalise_mobile
from services.ingest.entrypoints.consumer import BatchIngestor, subscribe
from services.ingest.settings import IngestSettings
from services.platform.database import open_database
from services.platform.observability import Metrics, kafka_check, postgres_check, serve_ops
from services.platform.topics import ensure_topics
from services.rules_bridge.outbox import emit_events

log = logging.getLogger("orderinfo.ingest")


def ingest_options(settings: IngestSettings) -> IngestOptions:
    thresholds = LifecycleThresholds(settings.repeat_after_paid_orders, settings.dormant_after_days)
    placeholders = DEFAULT_PLACEHOLDER_MOBILES | {normalise_mobile(m) for m in settings.mobile_placeholders}
    return IngestOptions(thresholds=thresholds, placeholder_mobiles=placeholders)


def producer_broker(settings: IngestSettings) -> KafkaBroker:
    """An idempotent producer (acks=all) that batches for a few ms: publishing never awaits each ack in turn."""
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        enable_idempotence=True,
        acks="all",
        linger_ms=settings.publish_linger_ms,
        max_request_size=DEAD_LETTER_BYTES,  # a dead letter is its record (up to MAX_MESSAGE_BYTES) plus headers
        client_id="orderinfo-ingest",
        logger=log,
        log_level=logging.DEBUG,  # "Received"/"Processed" per batch: the consumer's own logs say what matters
    )


async def ensure_ingest_topics(settings: IngestSettings) -> None:
    specs = [type(TOPIC)(settings.topic(t.name), t.partitions, t.configs) for t in (TOPIC, DLQ_TOPIC)]
    await ensure_topics(settings.kafka_bootstrap_servers, specs, settings.topic_partitions, settings.topic_replication)


def create_app() -> FastAPI:
    """uvicorn factory: `uvicorn --factory services.ingest.main:create_app`."""
    from services.ingest.entrypoints.http.app import create_app as build

    return build(IngestSettings())


# A batch of 1,000 orders allocates a few hundred thousand short-lived objects (decoded messages, rows, events):
# with the default thresholds the cyclic collector runs full passes over every long-lived object (schemas, modules)
# many times per batch. Measured with `python -m benchmarks.profile_batch`: about 15 % of the consumer's CPU.
GC_THRESHOLDS = (50_000, 20, 20)


def tune_collector() -> None:
    """Move what start-up allocated out of the collector's sight (`gc.freeze`) and collect young objects less
    often. Reference counting still frees almost everything at once; only cycles wait a little longer."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


async def run_consumer(settings: IngestSettings, stop: asyncio.Event) -> None:
    """Consume until `stop` is set; then the in-flight batch finishes (or, if cut short, is redelivered later)."""
    await ensure_ingest_topics(settings)
    pool = await open_database(settings.database_url, max_size=4)
    tune_collector()
    broker = producer_broker(settings)
    metrics = Metrics()
    ingestor = BatchIngestor(
        pool, emit_events, ingest_options(settings), metrics, max_retries=settings.consumer_max_retries
    )
    metrics.track_consumer_lag(lambda: dict(ingestor.lags))
    subscribe(broker, settings, ingestor)
    checks = {"postgres": postgres_check(lambda: pool), "kafka": kafka_check(settings.kafka_bootstrap_servers)}
    ops = asyncio.create_task(serve_ops(settings.ops_host, settings.consumer_ops_port, checks, metrics, stop))
    thresholds = ingest_options(settings).thresholds
    sweep = asyncio.create_task(sweep_forever(pool, emit_events, thresholds, settings.lifecycle_sweep_interval_s, stop))
    stage = asyncio.create_task(fold_forever(pool, emit_events, thresholds, settings.persona_stage_interval_s, stop))
    try:
        await broker.start()
        log.info("ingest consumer running on %s", settings.topic(TOPIC.name))
        await stop.wait()
    finally:
        await broker.stop()
        await sweep
        await stage
        await pool.close()
        await ops
