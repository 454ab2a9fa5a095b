"""Publishing outbox rows to Kafka with one verdict per row; aiokafka's errors are translated here and nowhere else.

Guarantees of `Publisher.publish`:
- One verdict per row, in the rows' order; one failing row never fails the others (no all-or-nothing gather).
- A row is SENT only once the broker acknowledged it (idempotent producer, acks=all).
- A row over the size bound, or for a topic the relay does not provision, is PARKED without a broker round trip.
- A row the broker rejects permanently (size, topic, record) is parked only once it was rejected when sent ALONE
  by a fresh producer: a batch is rejected as a whole, and the idempotent producer then fails every later batch of
  that partition (`OutOfOrderSequenceNumber`), so the rows that shared its fate are sent again, in id order, and
  nothing small is parked for a neighbour's size.
- Per key, nothing is sent after a row of that key that may still be sent later: after a transient failure raised
  while queueing, no later row is queued (they are RETRY); rows resent alone go out in id order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer
from aiokafka import errors as kafka_errors
from aiokafka.record.default_records import DefaultRecordBatchBuilder

from services.platform.publisher import KeyedPublisher, KeyedRecord
from services.rules_bridge.adapters.outbox_store import PendingRow
from services.rules_bridge.domain import delivery
from services.rules_bridge.domain.delivery import Outcome, ParkReason, Verdict

log = logging.getLogger(__name__)

# Errors the broker (or the client, before sending) gives for the record itself: retrying it can never succeed.
PERMANENT: dict[type[Exception], ParkReason] = {
    kafka_errors.MessageSizeTooLargeError: ParkReason.TOO_LARGE,
    kafka_errors.RecordTooLargeError: ParkReason.TOO_LARGE,
    kafka_errors.RecordListTooLargeError: ParkReason.TOO_LARGE,
    kafka_errors.InvalidTopicError: ParkReason.INVALID_TOPIC,
    kafka_errors.CorruptRecordException: ParkReason.REJECTED,
    kafka_errors.InvalidTimestampError: ParkReason.REJECTED,
    kafka_errors.UnsupportedForMessageFormatError: ParkReason.REJECTED,
}
# The producer's state for a partition is broken (after a rejected batch): the record was not written.
BROKEN_PRODUCER = (kafka_errors.OutOfOrderSequenceNumber, kafka_errors.UnknownProducerId)


@dataclass(frozen=True)
class Delivery:
    row: PendingRow
    verdict: Verdict

    @property
    def outcome(self) -> Outcome:
        return self.verdict.outcome


@dataclass(frozen=True)
class _Suspect:
    """A row rejected in company (its batch, its partition): judged again, alone."""

    row: PendingRow


def record_size(row: PendingRow) -> int:
    """The serialized size of the row's record, as the producer measures it against `max_request_size`."""
    size: int = DefaultRecordBatchBuilder.estimate_size_in_bytes(row.key.encode(), row.value, row.headers)
    return size


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:1000]


def judge(exc: BaseException, *, alone: bool) -> Verdict | None:
    """The verdict on a row whose send failed with `exc`; None: rejected in company, to be judged again alone.

    Permanent errors park the row when it was sent alone; everything else (unavailable broker, timeouts, errors
    not known here) is transient: the row is retried, never parked on a guess."""
    reason = next((r for cls, r in PERMANENT.items() if isinstance(exc, cls)), None)
    if reason is not None:
        return delivery.parked(reason, describe(exc)) if alone else None
    if isinstance(exc, BROKEN_PRODUCER) and not alone:
        return None
    return delivery.retry(describe(exc))


class Publisher:
    """Owns the relay's producer: publishes rows, replaces the producer when a rejection broke it."""

    def __init__(
        self,
        new_producer: Callable[[], AIOKafkaProducer],
        physical_topic: Callable[[str], str],
        known_topics: Collection[str],
        limit: int,
        on_replace: Callable[[], None] = lambda: None,
    ) -> None:
        self._new_producer, self._topic = new_producer, physical_topic
        self._known, self._limit, self._on_replace = known_topics, limit, on_replace
        self._producer: AIOKafkaProducer | None = None
        self._keyed: KeyedPublisher | None = None  # over `_producer`

    async def start(self) -> None:
        producer = self._new_producer()
        try:
            await producer.start()
        except BaseException:
            await producer.stop()  # a half-started producer holds a client and tasks
            raise
        self._producer, self._keyed = producer, KeyedPublisher.on_producer(producer)

    async def stop(self) -> None:
        producer, self._producer, self._keyed = self._producer, None, None
        if producer is not None:
            await producer.stop()

    async def publish(self, rows: Sequence[PendingRow]) -> list[Delivery]:
        """One `Delivery` per row, in order (see the module's guarantees)."""
        together = await self._together(rows)
        suspects = [d.row for d in together if isinstance(d, _Suspect)]
        if not suspects:
            return [d for d in together if isinstance(d, Delivery)]
        await self._replace()
        alone = {d.row.id: d for d in await self._alone(suspects)}
        return [alone[d.row.id] if isinstance(d, _Suspect) else d for d in together]

    async def _together(self, rows: Sequence[PendingRow]) -> list[Delivery | _Suspect]:
        """Queue every row (in order, with its key), then collect every acknowledgement or error."""
        queued: list[Delivery | asyncio.Future[object]] = []
        for i, row in enumerate(rows):
            if (verdict := self._before_sending(row)) is not None:
                queued.append(Delivery(row, verdict))
                continue
            try:
                queued.append(await self._send(row))
            except Exception as exc:  # raised while queueing: this row only, nothing of it was sent
                verdict = judge(exc, alone=True) or delivery.retry(describe(exc))
                queued.append(Delivery(row, verdict))
                if verdict.outcome is Outcome.RETRY:
                    queued += [_not_sent(r) for r in rows[i + 1 :]]
                    break
        futures = [q for q in queued if isinstance(q, asyncio.Future)]
        acks = iter(await asyncio.gather(*futures, return_exceptions=True))
        return [
            _acknowledged(row, next(acks)) if isinstance(q, asyncio.Future) else q
            for row, q in zip(rows, queued, strict=True)
        ]

    async def _alone(self, rows: Sequence[PendingRow]) -> list[Delivery]:
        """Send each row by itself and wait for it, in id order; a rejection alone parks the row."""
        out: list[Delivery] = []
        for i, row in enumerate(rows):
            try:
                await (await self._send(row))
            except Exception as exc:
                verdict = judge(exc, alone=True) or delivery.retry(describe(exc))
            else:
                verdict = delivery.SENT
            out.append(Delivery(row, verdict))
            if verdict.outcome is Outcome.PARKED:
                await self._replace()  # a rejection breaks the partition's sequence again
            elif verdict.outcome is Outcome.RETRY:
                out += [_not_sent(r) for r in rows[i + 1 :]]
                break
        return out

    def _before_sending(self, row: PendingRow) -> Verdict | None:
        return delivery.before_sending(row.topic, record_size(row), self._known, self._limit)

    async def _send(self, row: PendingRow) -> asyncio.Future[object]:
        assert self._keyed is not None, "start() first"
        record = KeyedRecord(self._topic(row.topic), row.key.encode(), row.value, row.headers)
        future = await self._keyed.queue(record)
        assert isinstance(future, asyncio.Future), "aiokafka answers a future per record"
        return future

    async def _replace(self) -> None:
        log.warning("replacing the relay's producer: a rejected batch broke its sequence for a partition")
        await self.stop()
        await self.start()
        self._on_replace()


def _acknowledged(row: PendingRow, ack: object) -> Delivery | _Suspect:
    if not isinstance(ack, BaseException):
        return Delivery(row, delivery.SENT)
    verdict = judge(ack, alone=False)
    return _Suspect(row) if verdict is None else Delivery(row, verdict)


def _not_sent(row: PendingRow) -> Delivery:
    return Delivery(row, delivery.retry("not sent: an earlier row of the batch failed and will be retried first"))
