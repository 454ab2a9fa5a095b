"""A consumer on the real broker with a topic prefix of its own, and ways to feed it raw records and read back what
it did: stored orders, dead letters, the group's committed offsets."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from services.core import bounds
from services.ingest.application.ingestion import IngestOptions
from services.ingest.contracts.orders_ingest_v1 import CONSUMER_GROUP, DLQ_TOPIC, TOPIC
from services.ingest.entrypoints.consumer import BatchIngestor, subscribe
from services.ingest.main import ensure_ingest_topics, producer_broker
from services.ingest.settings import IngestSettings
from services.platform.observability import Metrics
from services.platform.settings import ConnectionSettings
from services.rules_bridge.outbox_writer import emit_events
from tools.verification.checks import TopicRecord, read_topic

Headers = list[tuple[str, bytes]]


@dataclass(frozen=True)
class Sent:
    key: bytes | None
    value: bytes
    headers: Headers
    partition: int
    offset: int


def fresh_settings(base: ConnectionSettings, partitions: int = 3, **extra: object) -> IngestSettings:
    values = base.model_dump() | {
        "topic_prefix": f"{base.topic_prefix}{uuid.uuid4().hex[:6]}.",
        "topic_partitions": partitions,
        **extra,
    }
    return IngestSettings(**values)


async def send_raw(settings: IngestSettings, records: Sequence[tuple[bytes | None, bytes, Headers]]) -> list[Sent]:
    """Send each (key, value, headers) in order, one at a time (so offsets follow the list), on the ingest topic."""
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        enable_idempotence=True,
        max_request_size=bounds.MAX_MESSAGE_BYTES + 64 * 1024,
    )
    await producer.start()
    sent = []
    try:
        for key, value, headers in records:
            meta = await producer.send_and_wait(settings.topic(TOPIC.name), value, key=key, headers=headers)
            sent.append(Sent(key, value, headers, meta.partition, meta.offset))
    finally:
        await producer.stop()
    return sent


async def send_batched(
    settings: IngestSettings, topic: str, records: Sequence[tuple[bytes | None, bytes, Headers]]
) -> None:
    """Send each (key, value, headers) to the logical `topic`, all at once (each key's records stay in order)."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, linger_ms=20)
    await producer.start()
    try:
        physical = settings.topic(topic)
        sent = [await producer.send(physical, value, key=key, headers=headers) for key, value, headers in records]
        for future in sent:
            await future
    finally:
        await producer.stop()


@contextlib.asynccontextmanager
async def running_consumer(
    settings: IngestSettings, pool: asyncpg.Pool, metrics: Metrics | None = None
) -> AsyncIterator[BatchIngestor]:
    await ensure_ingest_topics(settings)
    broker = producer_broker(settings)
    ingestor = BatchIngestor(pool, emit_events, IngestOptions(), metrics, max_retries=settings.consumer_max_retries)
    subscribe(broker, settings, ingestor)
    await broker.start()
    try:
        yield ingestor
    finally:
        await broker.stop()


async def dead_letters(settings: IngestSettings) -> list[TopicRecord]:
    return await read_topic(settings, settings.topic(DLQ_TOPIC.name))


async def committed(settings: IngestSettings) -> dict[int, int]:
    """The consumer group's committed offset per partition of the ingest topic (absent: nothing committed)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(settings.topic(CONSUMER_GROUP))
    finally:
        await admin.close()
    topic = settings.topic(TOPIC.name)
    return {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == topic and meta.offset >= 0}


def ends(sent: Sequence[Sent]) -> dict[int, int]:
    """Per partition, the offset after the last record sent."""
    last: dict[int, int] = {}
    for s in sent:
        last[s.partition] = max(last.get(s.partition, 0), s.offset + 1)
    return last
