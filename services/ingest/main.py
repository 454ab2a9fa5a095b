"""Composition roots of the ingest processes: settings, pool, broker, publishers and handlers are wired here and
nowhere else; entrypoints get them handed in (the consumer as arguments, HTTP handlers through `Depends`).

`run_consumer` is the `orders.ingest.v1` consumer process; `create_app` builds the HTTP API (uvicorn factory), and
`api_resources` is what its process starts first: topics, pool, recovery of interrupted uploads, the producer.
This is the one ingest module that imports the rules bridge: its outbox writer, which the consumer calls.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from services.ingest.adapters import import_jobs
from services.ingest.application.ingestion import IngestOptions
from services.ingest.application.lifecycle import sweep_forever
from services.ingest.application.personas import fold_forever
from services.ingest.application.push import PushOptions
from services.ingest.application.workers import READERS
from services.ingest.contracts.orders_ingest_v1 import CONSUMER_GROUP, DEAD_LETTER_BYTES, DLQ_TOPIC, TOPIC
from services.ingest.domain.persona import LifecycleThresholds
from services.ingest.domain.spreadsheet.values import DEFAULT_PLACEHOLDER_MOBILES, normalise_mobile
from services.ingest.entrypoints import console
from services.ingest.entrypoints.consumer import BatchIngestor, subscribe
from services.ingest.entrypoints.http import app as http_app
from services.ingest.entrypoints.http.app import ApiResources
from services.ingest.settings import IngestSettings
from services.platform.database import open_database
from services.platform.lag import LagMonitor
from services.platform.observability import Metrics, Process, kafka_check, postgres_check, serve_ops
from services.platform.partitioning import KeyPartitioner
from services.platform.publisher import PUBLISH_BATCH_BYTES, KeyedPublisher
from services.platform.topics import ensure_topics
from services.rules_bridge.outbox_writer import ORDER_EVENTS_TOPIC, emit_events, tombstone_customer

log = logging.getLogger("orderinfo.ingest")
INTERRUPTED_AFTER = timedelta(minutes=15)  # far longer than any upload takes to publish


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
        max_batch_size=PUBLISH_BATCH_BYTES,
        partitioner=KeyPartitioner(),  # the default partitioner's partitions, hashed faster
        max_request_size=DEAD_LETTER_BYTES,  # a dead letter is its record (up to MAX_MESSAGE_BYTES) plus headers
        client_id="orderinfo-ingest",
        logger=log,
        log_level=logging.DEBUG,  # "Received"/"Processed" per batch: the consumer's own logs say what matters
    )


async def ensure_ingest_topics(settings: IngestSettings) -> None:
    specs = [type(TOPIC)(settings.topic(t.name), t.partitions, t.configs) for t in (TOPIC, DLQ_TOPIC)]
    await ensure_topics(settings.kafka_bootstrap_servers, specs, settings.topic_partitions, settings.topic_replication)


def create_app(settings: IngestSettings | None = None) -> FastAPI:
    """The HTTP API over `settings` (read from the environment when not given); uvicorn factory:
    `uvicorn --factory services.ingest.main:create_app`. Its lifespan enters `api_resources(settings)`."""
    settings = settings or IngestSettings()
    # pushed orders are validated with the consumer's own options (placeholder mobiles)
    push_options = PushOptions(placeholder_mobiles=ingest_options(settings).placeholder_mobiles)
    app = http_app.create_app(
        settings,
        lambda: api_resources(settings),
        events_topic=ORDER_EVENTS_TOPIC,
        push_options=push_options,
        tombstone=tombstone_customer,
    )
    console.install(app)  # the operator console at /console, and /docs from local assets, beside the API
    return app


def group_lag_monitor(settings: IngestSettings) -> LagMonitor:
    """The consumer group's lag on orders.ingest.v1 as the broker sees it, read every `consumer_lag_interval_s`."""
    group, topic = settings.topic(CONSUMER_GROUP), settings.topic(TOPIC.name)
    return LagMonitor(settings.kafka_bootstrap_servers, group, topic, settings.consumer_lag_interval_s)


@asynccontextmanager
async def api_resources(settings: IngestSettings) -> AsyncIterator[ApiResources]:
    """What the API process needs, in order: its topics, the pool, interrupted uploads failed (a process that died
    while publishing left them `processing`), the producer, the processes reading uploads; stopped in reverse."""
    await ensure_ingest_topics(settings)
    pool = await open_database(settings.database_url, max_size=10)
    try:
        async with pool.acquire() as conn:
            await import_jobs.fail_interrupted(conn, INTERRUPTED_AFTER)
        broker = producer_broker(settings)
        await broker.start()
        try:
            await asyncio.to_thread(READERS.start)  # the first uploads do not wait for their reader to start
            yield ApiResources(pool, broker)
        finally:
            READERS.close()
            await broker.stop()
    finally:
        await pool.close()


# A batch of 1,000 orders allocates a few hundred thousand short-lived objects (decoded messages, rows, events):
# with the default thresholds the cyclic collector runs full passes over every long-lived object (schemas, modules)
# many times per batch. Measured with `python -m benchmarks.profile_batch`: about 15 % of the consumer's CPU.
# The young generation's threshold is above what a batch of `consumer_max_records` (1,000) holds alive at once
# (about 140,000 containers at its end, nearly all freed by reference counting when it is done): at 50,000 the
# collector still ran twice or three times per batch over everything the batch held, about 45 µs per order.
GC_THRESHOLDS = (400_000, 20, 20)


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
    metrics = Metrics(process=Process.CONSUME)
    ingestor = BatchIngestor(
        pool,
        emit_events,
        ingest_options(settings),
        metrics,
        max_retries=settings.consumer_max_retries,
        overlap_folds=settings.consumer_overlap_folds,
    )
    lag = group_lag_monitor(settings)
    metrics.track_group_lag(lambda: (dict(lag.lag), lag.age_s()))
    lag_reader = asyncio.create_task(lag.run(stop))
    pipelines = subscribe(
        broker, settings, ingestor, KeyedPublisher.on_broker(broker), pipelined=settings.consumer_pipeline
    )
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
        for pipeline in pipelines:  # the batches in flight are decided while their offsets can be committed
            await pipeline.close()
        await broker.stop()
        await ingestor.drain()  # the last batch's fold (cut short, its deltas stay for the persona stage)
        await sweep
        await lag_reader
        await stage
        await pool.close()
        await ops
