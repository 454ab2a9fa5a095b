"""The `orders.ingest.v1` consumer: a thin FastStream adapter around `ingest_batch`.

Acknowledgement: offsets are committed (`msg.ack()`) only after the batch's database transaction committed and its
dead letters were published: at-least-once, and the idempotent ingestion makes that exactly-once in the database.
FastStream's default (ACK_FIRST, auto-commit) would be at-most-once, so the policy is MANUAL. When a batch cannot
be applied at all it is rewound (`nack`), never skipped; a process killed mid-batch leaves its offsets uncommitted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka import TopicPartition
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from services.ingest import errors
from services.ingest.application.ingestion import (
    BatchResult,
    EmitEvents,
    IngestOptions,
    Received,
    Rejected,
    count_failed_record,
    ingest_batch,
)
from services.ingest.contracts.orders_ingest_v1 import CONSUMER_GROUP, DLQ_TOPIC, TOPIC
from services.ingest.settings import IngestSettings

log = logging.getLogger("orderinfo.ingest.consumer")
Ingest = Callable[[Any, Sequence[Received], EmitEvents, IngestOptions], Awaitable[BatchResult]]
PROCESSING_ERROR = "processing_error"


class BatchIngestor:
    """Applies batches with retries: transient failures back off and retry the whole batch; a batch that fails for
    another reason is split, so only the record that fails on its own is dead-lettered."""

    def __init__(
        self, pool: Any, emit: EmitEvents, options: IngestOptions, metrics: Any = None, ingest: Ingest = ingest_batch
    ) -> None:
        self.pool, self.emit, self.options, self.metrics, self.ingest = pool, emit, options, metrics, ingest
        self.transient_retries = 0
        self.lags: dict[tuple[str, int], int] = {}  # (topic, partition) -> records behind, after the last batch

    async def apply(self, records: Sequence[Received]) -> BatchResult:
        try:
            return await self._with_retries(records)
        except Exception:
            log.exception("batch of %d failed: applying its records one by one", len(records))
        result = BatchResult()
        for record in records:
            try:
                one = await self._with_retries([record])
            except Exception as exc:
                log.exception("record %s/%s failed on its own: dead-lettering it", record.partition, record.offset)
                result.rejected.append(await self._dead(record, f"{type(exc).__name__}: {exc}"[:500]))
                continue
            result.outcomes += one.outcomes
            result.rejected += one.rejected
            result.events += one.events
        return result

    async def _dead(self, record: Received, message: str) -> Rejected:
        try:
            async with self.pool.acquire() as conn:
                return await count_failed_record(conn, record, PROCESSING_ERROR, message)
        except Exception:
            log.exception("could not count the dead letter %s/%s in its import", record.partition, record.offset)
            return Rejected(record.ref, PROCESSING_ERROR, message)

    async def _with_retries(self, records: Sequence[Received]) -> BatchResult:
        attempt = 0
        while True:
            try:
                async with self.pool.acquire() as conn:
                    return await self.ingest(conn, records, self.emit, self.options)
            except Exception as exc:
                if not errors.is_transient(exc):
                    raise
                self.transient_retries += 1
                delay = errors.backoff_delay(attempt)
                log.warning("transient failure (%s: %s); retrying in %.1f s", type(exc).__name__, exc, delay)
                await asyncio.sleep(delay)
                attempt += 1


def dead_letter_headers(record: Received, rejected: Rejected) -> dict[str, str]:
    return {
        "x-reason-code": rejected.reason,
        "x-reason": rejected.message[:1000],
        "x-original-topic": record.topic,
        "x-original-partition": str(record.partition),
        "x-original-offset": str(record.offset),
    }


def subscribe(broker: KafkaBroker, settings: IngestSettings, ingestor: BatchIngestor) -> None:
    """Register `settings.consumer_concurrency` members of the consumer group on `broker` (topic and group names
    carry the settings' prefix). Each member owns its own partitions, so one order's records stay in order; while
    one member waits on PostgreSQL another can decode and plan its batch."""
    dlq = settings.topic(DLQ_TOPIC.name)
    for member in range(settings.consumer_concurrency):
        broker.subscriber(
            settings.topic(TOPIC.name),
            group_id=settings.topic(CONSUMER_GROUP),
            batch=True,
            max_records=settings.consumer_max_records,
            batch_timeout_ms=settings.consumer_batch_timeout_ms,
            ack_policy=AckPolicy.MANUAL,
            auto_offset_reset="earliest",
            max_poll_interval_ms=600_000,
        )(_batch_handler(broker, dlq, ingestor, member))


def _batch_handler(
    broker: KafkaBroker, dlq: str, ingestor: BatchIngestor, member: int
) -> Callable[..., Awaitable[None]]:
    async def on_orders(msg: KafkaMessage) -> None:
        raw = msg.raw_message if isinstance(msg.raw_message, tuple) else (msg.raw_message,)
        records = [Received(i, r.topic, r.partition, r.offset, r.key, r.value) for i, r in enumerate(raw)]
        started = time.perf_counter()
        try:
            result = await ingestor.apply(records)
            await _publish_dead_letters(broker, dlq, records, result.rejected)
        except Exception:
            log.exception("batch could not be applied: rewinding it for redelivery")
            await asyncio.sleep(1.0)
            await msg.nack()
            return
        await msg.ack()
        seconds = time.perf_counter() - started
        _note_lag(ingestor, msg, raw)
        if ingestor.metrics is not None:
            ingestor.metrics.observe_batch(len(records), result, seconds)
        log.info("batch of %d in %.2f s: %s", len(records), seconds, _summary(result))

    on_orders.__name__ = f"on_orders_{member}"  # FastStream names subscribers after their handler
    return on_orders


def _summary(result: BatchResult) -> str:
    counts = Counter(o.outcome for o in result.outcomes)
    if result.rejected:
        counts["dead_lettered"] = len(result.rejected)
    return ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items())) or "nothing"


def _note_lag(ingestor: BatchIngestor, msg: Any, raw: Sequence[Any]) -> None:
    """Records behind each partition of the batch: the partition's high watermark minus what was consumed."""
    consumer = getattr(msg, "consumer", None)
    highwater = getattr(consumer, "highwater", None)
    if highwater is None:
        return
    last: dict[tuple[str, int], int] = {}
    for record in raw:
        last[(record.topic, record.partition)] = max(last.get((record.topic, record.partition), -1), record.offset)
    for (topic, partition), offset in last.items():
        high = highwater(TopicPartition(topic, partition))
        if high is not None:
            ingestor.lags[(topic, partition)] = max(0, high - offset - 1)


async def _publish_dead_letters(
    broker: KafkaBroker, topic: str, records: Sequence[Received], rejected: Sequence[Rejected]
) -> None:
    by_ref = {r.ref: r for r in records}
    pending = []
    for item in rejected:
        record = by_ref[item.ref]
        log.warning("dead-lettering %s/%s: %s %s", record.partition, record.offset, item.reason, item.message)
        pending.append(
            await broker.publish(
                record.value or b"", topic, key=record.key, headers=dead_letter_headers(record, item), no_confirm=True
            )
        )
    await asyncio.gather(*[p for p in pending if p is not None])
