"""The `orders.ingest.v1` consumer: a thin FastStream adapter around `ingest_batch`.

Every record is decided by this code, never by the framework: the subscriber hands the handler the raw bytes of
each record whatever its headers (a pass-through parser and decoder: FastStream would otherwise decode by
`content-type` before the handler runs, and one undecodable record would fail the whole batch unseen). Each
record is then applied or dead-lettered with a reason code; none is skipped.

Acknowledgement: after the batch's database transaction committed and its dead letters were published, the
consumer commits, per partition of the batch, the offset after the last record it handled (`commit({tp:
offset})`, never `msg.ack()`, which commits the position of every assigned partition, including records that
reached no handler). When a batch cannot be decided (the database is unreachable, a dead letter cannot be
published) nothing is committed: each partition is rewound to the batch's first record and redelivered after a
backoff. A process killed mid-batch leaves its offsets uncommitted. At-least-once, and the idempotent ingestion
makes that exactly-once in the database.

Pipelined (`Pipeline`, the consumer process's way): while a batch's transaction runs and its offsets are committed,
the next batch is read ahead (`ingestion.read_ahead`); its transaction starts after the previous one ended, its
offsets are committed after its own transaction and the previous batch's commit, and a batch behind a failed one
is dropped and rewound with it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from aiokafka import ConsumerRecord, TopicPartition
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage as InjectedMessage
from faststream.kafka.message import FAKE_CONSUMER, KafkaMessage

from services.ingest import errors
from services.ingest.adapters.storage import storage_errors
from services.ingest.application.ingestion import (
    Ahead,
    BatchResult,
    EmitEvents,
    IngestOptions,
    Received,
    Rejected,
    count_failed_record,
    ingest_batch,
    read_ahead,
)
from services.ingest.application.personas import FoldResult, fold_personas, lag_note
from services.ingest.contracts.orders_ingest_v1 import CONSUMER_GROUP, DEAD_LETTER_BYTES, DLQ_TOPIC, TOPIC
from services.ingest.domain.dead_letters import letter_headers
from services.ingest.domain.persona import LifecycleThresholds
from services.ingest.settings import IngestSettings
from services.platform.publisher import KeyedPublisher, KeyedRecord

log = logging.getLogger("orderinfo.ingest.consumer")
Ingest = Callable[[Any, Sequence[Received], EmitEvents, IngestOptions], Awaitable[BatchResult]]
Fold = Callable[[Any, EmitEvents, datetime, LifecycleThresholds, Sequence[tuple[Any, Any]]], Awaitable[FoldResult]]
PROCESSING_ERROR = errors.PROCESSING_ERROR
# A whole record of the largest size (bounds.MAX_MESSAGE_BYTES) per partition fetch. (Brokers return an oversized
# first batch anyway, but then one at a time.)
FETCH_BYTES = DEAD_LETTER_BYTES


class ConsumerMetrics(Protocol):
    """What the consumer reports beyond batches (see `services.platform.observability.Metrics`)."""

    def observe_batch(self, records: int, result: Any, seconds: float | None = None) -> None: ...
    def observe_retry(self, kind: str) -> None: ...
    def observe_split(self) -> None: ...
    def observe_restart(self) -> None: ...


class BatchIngestor:
    """Applies batches with bounded retries: a transient failure backs off and retries the whole batch at most
    `max_retries` times; a batch that still fails, or fails for any other reason, is split, so that only a
    record failing on its own is dead-lettered (`processing_error`). While the database is unreachable nothing
    is dead-lettered: `StorageUnavailable` propagates and the caller rewinds the batch.

    With `overlap_folds`, a batch's persona fold (its own transaction, after the batch's) runs on another
    connection while the next batch is fetched, decoded, planned and written; at most one fold is in flight (the
    next batch waits for it after its own commit, and reports its events and lags). A fold that fails or is cut
    short leaves its deltas to the persona stage, which folds them exactly once (`application.personas`). The
    members of `consumer_concurrency` share one ingestor: each fold is reported once and none is left unawaited
    (shutdown's `drain` waits for them all); two members' folds may run at once (claims skip locked customers)."""

    def __init__(
        self,
        pool: Any,
        emit: EmitEvents,
        options: IngestOptions,
        metrics: ConsumerMetrics | None = None,
        ingest: Ingest = ingest_batch,
        max_retries: int = 5,
        overlap_folds: bool = False,
        fold: Fold = fold_personas,
    ) -> None:
        self.pool, self.emit, self.metrics, self.ingest, self.fold = pool, emit, metrics, ingest, fold
        self.options = replace(options, fold_personas=False) if overlap_folds else options
        self.overlap_folds = overlap_folds
        self.max_retries = max_retries
        self.transient_retries = 0
        self.splits = 0
        self.lags: dict[tuple[str, int], int] = {}  # (topic, partition) -> records behind, after the last batch
        self._unreported: list[asyncio.Task[FoldResult]] = []  # folds whose results no batch has taken yet
        self._running: set[asyncio.Task[FoldResult]] = set()  # every fold not finished (a strong reference)
        # The last batch applied was mostly recognised as redelivered: the next read ahead is read with its claims
        # (`ingestion.read_ahead`; in a `Pipeline`, the one after the batch in flight), as a redelivery comes in
        # runs of batches (the range not committed)
        self.redelivering = False

    async def apply(self, records: Sequence[Received]) -> BatchResult:
        result = await self._apply(records)
        self.redelivering = result.recognised * 2 > len(records)
        if self.overlap_folds:
            folded = await self.drain()  # the previous batch's fold, which ran beside this batch
            result.events += folded.events
            result.customers_changed += folded.events
            result.persona_lags_s += folded.lags_s
            if result.touched:
                task = asyncio.create_task(self._fold(result.touched))
                self._running.add(task)
                task.add_done_callback(self._running.discard)
                self._unreported.append(task)
        return result

    async def drain(self) -> FoldResult:
        """The results of the folds no batch has reported yet, once they are done; and wait for the other folds
        running meanwhile (another member's, which it reports): none that started before is left in flight.
        Never raises: a failed fold is logged and left to the stage."""
        running, (tasks, self._unreported) = set(self._running), (self._unreported, [])  # each reported once
        total = FoldResult()
        for task in tasks:
            folded = await task
            total.customers += folded.customers
            total.deltas += folded.deltas
            total.recomputed += folded.recomputed
            total.events += folded.events
            total.lags_s += folded.lags_s
        if running:
            await asyncio.wait(running)
        return total

    async def _fold(self, keys: Sequence[tuple[Any, Any]]) -> FoldResult:
        try:
            async with self.pool.acquire() as conn:
                return await self.fold(conn, self.emit, self.options.clock(), self.options.thresholds, keys)
        except Exception:
            log.exception("persona fold of %d customers failed: the persona stage folds them", len(keys))
            return FoldResult()

    async def _apply(self, records: Sequence[Received]) -> BatchResult:
        try:
            return await self._with_retries(records)
        except errors.StorageUnavailable:
            raise
        except Exception:
            log.exception("batch of %d failed: applying its records one by one", len(records))
        self.splits += 1
        if self.metrics is not None:
            self.metrics.observe_split()
        result = BatchResult()
        for record in records:
            try:
                one = await self._with_retries([record])
            except errors.StorageUnavailable:
                raise
            except Exception as exc:
                log.exception("record %s/%s failed on its own: dead-lettering it", record.partition, record.offset)
                result.rejected.append(await self._dead(record, f"{type(exc).__name__}: {exc}"[:1000]))
                continue
            result.outcomes += one.outcomes
            result.rejected += one.rejected
            result.events += one.events
            result.persona_lags_s += one.persona_lags_s
            result.touched += one.touched
        return result

    async def _dead(self, record: Received, exception: str) -> Rejected:
        message = "the record could not be stored because of an internal error; it was kept for an operator"
        try:
            async with storage_errors(), self.pool.acquire() as conn:
                return await count_failed_record(conn, record, PROCESSING_ERROR, message, exception)
        except errors.StorageUnavailable:
            raise
        except Exception:
            log.exception("could not count the dead letter %s/%s in its import", record.partition, record.offset)
            return Rejected(record.ref, PROCESSING_ERROR, message, exception=exception)

    async def _with_retries(self, records: Sequence[Received]) -> BatchResult:
        for attempt in range(self.max_retries + 1):
            try:
                async with storage_errors(), self.pool.acquire() as conn:
                    return await self.ingest(conn, records, self.emit, self.options)
            except errors.TransientStorage as exc:
                if attempt == self.max_retries:
                    raise
                self._note_retry(exc)
                delay = errors.backoff_delay(attempt)
                log.warning("transient failure (%s); retry %d in %.1f s", exc.detail, attempt + 1, delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    def _note_retry(self, exc: errors.TransientStorage) -> None:
        self.transient_retries += 1
        if self.metrics is not None:
            self.metrics.observe_retry("unavailable" if isinstance(exc, errors.StorageUnavailable) else "conflict")


def dead_letter_headers(record: Received, rejected: Rejected) -> dict[str, str]:
    headers = {
        "x-reason-code": rejected.reason,
        "x-reason": rejected.message[:1000],
        "x-original-topic": record.topic,
        "x-original-partition": str(record.partition),
        "x-original-offset": str(record.offset),
    }
    if rejected.exception:
        headers["x-exception"] = rejected.exception[:1000]
    return headers


# --- the FastStream edge -------------------------------------------------------------------------------------------


class OffsetConsumer(Protocol):
    """The part of `AIOKafkaConsumer` the handler uses."""

    async def commit(self, offsets: Mapping[TopicPartition, int]) -> None: ...
    def seek(self, partition: TopicPartition, offset: int) -> None: ...
    def highwater(self, partition: TopicPartition) -> int | None: ...


async def raw_batch(records: tuple[ConsumerRecord[Any, Any], ...]) -> KafkaMessage:
    """Parser: the batch as it came, no header read (a header value need not even be UTF-8)."""
    return KafkaMessage(
        raw_message=records,
        body=[r.value or b"" for r in records],
        consumer=FAKE_CONSUMER,
        message_id=f"{records[0].partition}-{records[0].offset}" if records else None,
    )


async def raw_body(message: KafkaMessage) -> Any:
    """Decoder: the records' bytes as they are; the handler decides what they mean."""
    return message.body


def subscribe(
    broker: KafkaBroker,
    settings: IngestSettings,
    ingestor: BatchIngestor,
    publisher: KeyedPublisher | None = None,
    offsets: OffsetConsumer | None = None,
    pipelined: bool = False,
) -> list[Pipeline]:
    """Register `settings.consumer_concurrency` members of the consumer group on `broker` (topic and group names
    carry the settings' prefix). Each member owns its own partitions, so one order's records stay in order; while
    one member waits on PostgreSQL another can decode and plan its batch. Dead letters go out through `publisher`
    (by default the keyed publisher over `broker`); offsets are committed on `offsets` (by default each member's own
    aiokafka consumer; FastStream's in-memory broker has none, so handler tests give one that records).
    `pipelined`: each member's batches go through a `Pipeline` (returned, for shutdown to `close`); else each
    batch is handled whole before the handler returns (`handle_batch`: what in-memory tests expect)."""
    dead_letters = DeadLetters(publisher or KeyedPublisher.on_broker(broker), settings.topic(DLQ_TOPIC.name))
    pipelines = []
    for member in range(settings.consumer_concurrency):
        subscriber = broker.subscriber(
            settings.topic(TOPIC.name),
            group_id=settings.topic(CONSUMER_GROUP),
            batch=True,
            max_records=settings.consumer_max_records,
            batch_timeout_ms=settings.consumer_batch_timeout_ms,
            ack_policy=AckPolicy.MANUAL,
            auto_offset_reset="earliest",
            max_poll_interval_ms=600_000,
            max_partition_fetch_bytes=FETCH_BYTES,
            fetch_max_bytes=max(50 * 1024 * 1024, FETCH_BYTES),
            parser=raw_batch,
            decoder=raw_body,
        )
        consumer_of = _consumer_of(subscriber) if offsets is None else lambda: offsets
        pipeline = Pipeline(consumer_of, dead_letters.publish, ingestor) if pipelined else None
        subscriber(_batch_handler(consumer_of, dead_letters, ingestor, member, pipeline))
        pipelines += [pipeline] if pipeline is not None else []
    return pipelines


def _consumer_of(subscriber: Any) -> Callable[[], Any]:
    """The subscriber's aiokafka consumer, which exists once the broker started."""
    return lambda: subscriber.consumer


class DeadLetters:
    """Publishes rejected records to the dead-letter topic, with their key, their reason headers and their own
    headers (`domain.dead_letters.letter_headers`: renamed where they would pass for a dead-letter header, dropped
    with a note where they would make the letter pass `max_bytes`); raises (so the batch commits nothing and is
    redelivered) unless the broker acknowledged every one."""

    def __init__(self, publisher: KeyedPublisher, topic: str, max_bytes: int = DEAD_LETTER_BYTES) -> None:
        self.publisher, self.topic, self.max_bytes = publisher, topic, max_bytes

    async def publish(self, records: Sequence[Received], rejected: Sequence[Rejected]) -> None:
        by_ref = {r.ref: r for r in records}
        outgoing = []
        for item in rejected:
            record = by_ref[item.ref]
            log.warning("dead-lettering %s/%s: %s %s", record.partition, record.offset, item.reason, item.message)
            own = tuple((k, v.encode()) for k, v in dead_letter_headers(record, item).items())
            # an erased customer's data must not come back through the dead letter either (nor its headers)
            erased = item.reason == errors.ERASED_CUSTOMER
            value = b"" if erased else record.value or b""
            headers = letter_headers(own, tuple(record.headers), record.key, value, self.max_bytes, erased=erased)
            outgoing.append(KeyedRecord(self.topic, record.key, value, list(headers)))
        failed = [error for error in await self.publisher.publish_all(outgoing) if error is not None]
        if failed:
            raise failed[0]


def _batch_handler(
    consumer_of: Callable[[], Any],
    dead_letters: DeadLetters,
    ingestor: BatchIngestor,
    member: int,
    pipeline: Pipeline | None = None,
) -> Callable[..., Awaitable[None]]:
    async def on_orders(msg: InjectedMessage) -> None:
        raw = msg.raw_message if isinstance(msg.raw_message, tuple | list) else (msg.raw_message,)
        if pipeline is not None:
            await pipeline.submit(raw)
        else:
            await handle_batch(raw, consumer_of(), dead_letters.publish, ingestor)

    on_orders.__name__ = f"on_orders_{member}"  # FastStream names subscribers after their handler
    return on_orders


PublishDeadLetters = Callable[[Sequence[Received], Sequence[Rejected]], Awaitable[None]]


async def handle_batch(
    raw: Sequence[Any], consumer: OffsetConsumer, publish: PublishDeadLetters, ingestor: BatchIngestor
) -> bool:
    """Decide every record of `raw`, then commit each partition past the batch; on any failure rewind instead.
    Returns whether the batch was committed."""
    if not raw:
        return True
    records = [
        Received(i, r.topic, r.partition, r.offset, r.key, r.value, logged=True, headers=r.headers or ())
        for i, r in enumerate(raw)
    ]
    return await _decide(raw, records, consumer, publish, ingestor)


async def _decide(
    raw: Sequence[Any],
    records: Sequence[Received],
    consumer: OffsetConsumer,
    publish: PublishDeadLetters,
    ingestor: BatchIngestor,
    previous: _InFlight | None = None,
    applied: asyncio.Future[bool] | None = None,
) -> bool:
    """`handle_batch` of `records` (read from `raw`); behind `previous` (a `Pipeline`'s), its transaction waits
    for the previous one to end, and its dead letters (if any) and its commit for the previous commit; `applied`
    learns whether its own transaction committed. Behind a failed batch it does nothing and answers False (its
    caller rewinds it)."""
    started = time.perf_counter()
    try:
        if previous is not None and not await asyncio.shield(previous.applied):
            return False
        try:
            result = await ingestor.apply(records)
        except BaseException:
            _answer(applied, False)
            raise
        _answer(applied, True)
        undecided = result.undecided(records)
        if undecided:
            raise RuntimeError(f"{len(undecided)} records neither applied nor rejected (first {undecided[0].offset})")
        dead = result.dead_letters()
        if previous is not None and dead and not await _settled(previous):
            return False  # dropped: its dead letters go out with its redelivery only, not twice
        await publish(records, dead)
        offsets = next_offsets(raw)
        if previous is not None and not await _settled(previous):
            return False  # never past a batch not committed
        await consumer.commit(offsets)
    except Exception:
        log.exception("batch could not be decided: rewinding it for redelivery, nothing committed")
        if ingestor.metrics is not None:
            ingestor.metrics.observe_restart()
        await asyncio.sleep(errors.backoff_delay(2))
        rewind(consumer, raw)
        return False
    finally:
        _answer(applied, False)  # unless answered
    seconds = time.perf_counter() - started
    ingestor.lags.update(lags(consumer, offsets))
    if ingestor.metrics is not None:
        ingestor.metrics.observe_batch(len(records), result, seconds)
    log.info("batch of %d in %.2f s: %s%s", len(records), seconds, _summary(result), lag_note(result.persona_lags_s))
    return True


@dataclass(eq=False)
class _InFlight:
    """A batch in a `Pipeline`: `applied` answers once its transaction ended (True: committed); `task` answers
    once the batch is decided (True: its offsets committed)."""

    raw: Sequence[Any]
    applied: asyncio.Future[bool]
    task: asyncio.Task[bool] | None = None


READ_AHEAD_CHUNK = 200  # records read ahead between two turns of the event loop (the batch in flight goes on)


class Pipeline:
    """One group member's batches, two at a time: while a batch's transaction runs and its offsets are committed,
    the next one is read ahead (`ingestion.read_ahead`, the Python work that needs no state), on the same event
    loop, a chunk at a time. Guarantees, beyond `handle_batch`'s:
    - A batch's transaction starts after the previous batch's ended (one at a time, in fetch order, as before).
    - A batch's offsets are committed after its own transaction and after the previous batch's offsets: in
      order, and never past a batch whose transaction did not commit.
    - A batch's dead letters, if any, are published after the previous batch's offsets were committed: a batch
      dropped behind a failed one publishes none (its redelivery does), so none goes out twice for that.
    - A batch that fails rewinds itself (`handle_batch`); the batch behind it was fetched past it: it is dropped
      (no transaction if it had not started one, no commit) and rewound with it, so each partition starts again
      at the failed batch's first record (or the dropped one's, where the failed one had none).
    - Killed anywhere: what is not committed is redelivered, and the idempotent ingestion applies it once.
    `submit` returns once the previous batch is decided, so at most two batches are in hand and a rewind
    happens before the next fetch."""

    def __init__(self, consumer_of: Callable[[], Any], publish: PublishDeadLetters, ingestor: BatchIngestor) -> None:
        self.consumer_of, self.publish, self.ingestor = consumer_of, publish, ingestor
        self._last: _InFlight | None = None
        self._closed = False

    async def submit(self, raw: Sequence[Any]) -> None:
        if not raw or self._closed:  # closed: not started, so not committed (redelivered after the restart)
            return
        previous, batch = self._last, _InFlight(raw, asyncio.get_running_loop().create_future())
        batch.task = asyncio.create_task(self._run(batch, previous))
        self._last = batch
        if previous is None or await _settled(previous):
            return
        await _settled(batch)  # behind a failed batch: dropped, or it failed itself
        rewind(self.consumer_of(), [*previous.raw, *raw])
        self._last = None  # the next batch is fetched after the rewind

    async def close(self) -> None:
        """Start no batch any more and wait for those in flight to be decided; before the consumer stops, so
        that their offsets can still be committed."""
        self._closed = True
        if self._last is not None:
            await _settled(self._last)

    async def _run(self, batch: _InFlight, previous: _InFlight | None) -> bool:
        placeholders = self.ingestor.options.placeholder_mobiles
        claims = self.ingestor.redelivering  # (else read only for the records recognised)
        records = []
        for i, r in enumerate(batch.raw):
            if i and i % READ_AHEAD_CHUNK == 0:
                await asyncio.sleep(0)
            ahead: Ahead | None = read_ahead(r.key, r.value, placeholders, claims)
            headers = r.headers or ()
            records.append(
                Received(i, r.topic, r.partition, r.offset, r.key, r.value, logged=True, ahead=ahead, headers=headers)
            )
        consumer, ingestor = self.consumer_of(), self.ingestor
        return await _decide(batch.raw, records, consumer, self.publish, ingestor, previous, batch.applied)


async def _settled(batch: _InFlight) -> bool:
    """Whether `batch` was committed, once decided (shielded: a waiter cancelled leaves the batch going on)."""
    assert batch.task is not None
    return await asyncio.shield(batch.task)


def _answer(future: asyncio.Future[bool] | None, value: bool) -> None:
    if future is not None and not future.done():
        future.set_result(value)


def next_offsets(raw: Sequence[Any]) -> dict[TopicPartition, int]:
    """Per partition of the batch, the offset after its last record: what to commit once all are decided."""
    last: dict[tuple[str, int], int] = {}  # plain tuples while counting: no TopicPartition per record
    for record in raw:
        tp = (record.topic, record.partition)
        last[tp] = max(last.get(tp, -1), record.offset + 1)
    return {TopicPartition(*tp): offset for tp, offset in last.items()}


def rewind(consumer: OffsetConsumer, raw: Sequence[Any]) -> None:
    """Seek each partition of the batch back to its first record: the batch is fetched again."""
    first: dict[TopicPartition, int] = {}
    for record in raw:
        tp = TopicPartition(record.topic, record.partition)
        first[tp] = min(first.get(tp, record.offset), record.offset)
    for tp, offset in first.items():
        try:
            consumer.seek(tp, offset)
        except Exception:  # revoked meanwhile: its new owner starts from the committed offset anyway
            log.warning("could not rewind %s to %d (no longer assigned?)", tp, offset)


def lags(consumer: OffsetConsumer, offsets: Mapping[TopicPartition, int]) -> dict[tuple[str, int], int]:
    """Records behind each partition of a batch (`offsets`: its `next_offsets`): the partition's high watermark
    minus what was consumed. A partition revoked since its commit (a commit retried across a rebalance) has none:
    aiokafka's `highwater` asserts that it is assigned, and a failure here would fail a committed batch (and, in a
    `Pipeline`, drop and rewind the batch behind it)."""
    behind: dict[tuple[str, int], int] = {}
    for tp, offset in offsets.items():
        try:
            high = consumer.highwater(tp)
        except Exception:  # revoked meanwhile: its new owner reports its lag
            continue
        if high is not None:
            behind[(tp.topic, tp.partition)] = max(0, high - offset)
    return behind


def _summary(result: BatchResult) -> str:
    counts: Counter[str] = Counter(str(o.outcome) for o in result.outcomes)
    if result.rejected:
        counts["dead_lettered"] = len(result.rejected)
    return ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items())) or "nothing"
