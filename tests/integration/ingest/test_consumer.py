"""The consumer on the real broker: offsets, dead letters with their headers, neighbours of a poison message."""

from __future__ import annotations

import uuid
from uuid import UUID

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from services.ingest.application.ingestion import IngestOptions
from services.ingest.contracts.orders_ingest_v1 import DLQ_TOPIC, TOPIC, message_key
from services.ingest.entrypoints.consumer import BatchIngestor, subscribe
from services.ingest.main import ensure_ingest_topics, producer_broker
from services.ingest.settings import IngestSettings
from services.platform.settings import ConnectionSettings
from tests.integration.ingest.conftest import RecordingEmitter
from tests.support.orders import message
from tests.support.waiting import eventually


def fresh_settings(base: ConnectionSettings) -> IngestSettings:
    return IngestSettings(
        kafka_bootstrap_servers=base.kafka_bootstrap_servers,
        database_url=base.database_url,
        topic_prefix=f"{base.topic_prefix}{uuid.uuid4().hex[:6]}.",
        topic_partitions=3,
    )


async def test_poison_message_is_dead_lettered_while_its_neighbours_land(
    connection_settings: ConnectionSettings, pool: asyncpg.Pool, tenant_id: UUID, emitter: RecordingEmitter
) -> None:
    settings = fresh_settings(connection_settings)
    await ensure_ingest_topics(settings)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, enable_idempotence=True)
    await producer.start()
    topic = settings.topic(TOPIC.name)
    try:
        first, last = message(tenant_id, "C1"), message(tenant_id, "C2")
        for m in (first, last):
            await producer.send_and_wait(topic, m.model_dump_json().encode(), key=message_key(m.tenant_id, m.order_no))
        poison_key = message_key(tenant_id, "C1")  # same partition as C1, between the good ones
        poison = await producer.send_and_wait(topic, b'{"order_no": "C1", "lines": []}', key=poison_key)
    finally:
        await producer.stop()

    broker = producer_broker(settings)
    subscribe(broker, settings, BatchIngestor(pool, emitter, IngestOptions()))
    await broker.start()
    try:
        count = await eventually(
            lambda: pool.fetchval("SELECT count(*) FROM orders WHERE tenant_id = $1", tenant_id), lambda n: n == 2
        )
        assert count == 2
    finally:
        await broker.stop()

    dlq = AIOKafkaConsumer(
        settings.topic(DLQ_TOPIC.name),
        bootstrap_servers=settings.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        group_id=f"dlq-reader-{uuid.uuid4().hex[:6]}",
    )
    await dlq.start()
    try:
        batch = await dlq.getmany(timeout_ms=10_000)
        (record,) = [r for rs in batch.values() for r in rs]
    finally:
        await dlq.stop()
    headers = {k: v.decode() for k, v in record.headers}
    assert headers["x-reason-code"] == "contract_violation"
    assert headers["x-original-topic"] == topic
    assert (int(headers["x-original-partition"]), int(headers["x-original-offset"])) == (
        poison.partition,
        poison.offset,
    )
    assert "source: Field required" in headers["x-reason"]
    assert record.key == poison_key
