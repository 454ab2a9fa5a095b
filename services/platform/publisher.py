"""The one keyed publisher: the upload (`orders.ingest.v1`), the consumer (dead letters) and the relay (outbox rows)
publish through it.

Guarantees:
- Every record goes out with its key, so one order's (or one customer's) records stay on one partition, in the
  order they were queued.
- Records are queued without awaiting each acknowledgement in turn (the producer batches them, `linger_ms`), then
  settled together: `publish_all` answers, per record and in order, None (acknowledged) or the error, and never
  raises. A record refused before it was sent (size, serialisation, producer closed) is that record's error only.
- Over FastStream's broker (`on_broker`) or a bare aiokafka producer (`on_producer`, the relay's, which it replaces
  when a rejected batch broke it): the same records, the same answers. A started broker's records go straight to
  its own aiokafka producer (idempotent, acks=all, as the composition root built it): FastStream's per-message
  publish path (codec, command, a correlation id header per record) costs a third more CPU for nothing these
  records need; an in-memory `TestKafkaBroker` has no such producer and is published to as before.
- The producers place keys with `platform.partitioning.KeyPartitioner` (Kafka's default partitions, cheaper).
- `PUBLISH_BATCH_BYTES` is the producers' `max_batch_size`: a 5,000-row upload (~2,500 records of ~1 KB) goes out
  in a few dozen requests instead of ~200 (aiokafka's 16 KB default), each still acknowledged by every replica.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer

Headers = dict[str, str] | Sequence[tuple[str, bytes | None]]  # a Kafka header's value may be null
YIELD_EVERY = 100  # a send rarely suspends: let other tasks run between slices of a large batch
PUBLISH_BATCH_BYTES = 256 * 1024  # a record larger than this still goes out, in a batch of its own


@dataclass(frozen=True, slots=True)
class KeyedRecord:
    topic: str  # the physical topic name
    key: bytes | None
    value: bytes | None  # None: a tombstone (a compacted topic drops the key's earlier records)
    headers: Headers | None = None


# Queues one record; answers what to await for its acknowledgement (None: nothing to await, as in memory).
Send = Callable[[KeyedRecord], Awaitable[Awaitable[object] | None]]


class KeyedPublisher:
    def __init__(self, send: Send) -> None:
        self._send = send

    @classmethod
    def on_broker(cls, broker: Any) -> KeyedPublisher:
        """Over a FastStream `KafkaBroker` (its producer: idempotent, acks=all, as the composition root built it)."""

        async def send(record: KeyedRecord) -> Awaitable[object] | None:
            producer = broker_producer(broker)
            if producer is not None:
                future: Awaitable[object] = await producer.send(
                    record.topic, record.value, key=record.key, headers=_as_list(record.headers)
                )
                return future
            pending: Awaitable[object] | None = await broker.publish(
                record.value, record.topic, key=record.key, headers=_as_dict(record.headers), no_confirm=True
            )
            return pending

        return cls(send)

    @classmethod
    def on_producer(cls, producer: Any) -> KeyedPublisher:
        """Over an `aiokafka.AIOKafkaProducer`."""

        async def send(record: KeyedRecord) -> Awaitable[object] | None:
            future: Awaitable[object] = await producer.send(
                record.topic, record.value, key=record.key, headers=_as_list(record.headers)
            )
            return future

        return cls(send)

    async def queue(self, record: KeyedRecord) -> Awaitable[object] | None:
        """Queue one record; raises when it is refused before it was sent. Await the answer for its ack."""
        return await self._send(record)

    async def publish_all(self, records: Sequence[KeyedRecord]) -> list[BaseException | None]:
        """Queue every record in order, then settle every one (see the module's guarantees)."""
        pending: list[Awaitable[object] | BaseException | None] = []
        for number, record in enumerate(records, 1):
            if number % YIELD_EVERY == 0:
                await asyncio.sleep(0)
            try:
                pending.append(await self._send(record))
            except Exception as exc:  # refused before it was sent: this record only
                pending.append(exc)
        return [await _settled(p) for p in pending]


def broker_producer(broker: Any) -> AIOKafkaProducer | None:
    """The aiokafka producer of a started FastStream 0.7 `KafkaBroker` (pinned: `config.producer._producer`), or
    None (an in-memory test broker, a broker not started)."""
    state = getattr(getattr(getattr(broker, "config", None), "producer", None), "_producer", None)
    producer = getattr(state, "producer", None) if state else None
    return producer if isinstance(producer, AIOKafkaProducer) else None


async def _settled(pending: Awaitable[object] | BaseException | None) -> BaseException | None:
    if pending is None or isinstance(pending, BaseException):
        return pending
    try:
        await pending
    except Exception as exc:
        return exc
    return None


def _as_dict(headers: Headers | None) -> dict[str, str] | None:
    if headers is None or isinstance(headers, dict):
        return headers
    # (in memory only: FastStream's own publish takes text headers, one per name)
    return {name: (value or b"").decode("utf-8", "replace") for name, value in headers}


def _as_list(headers: Headers | None) -> list[tuple[str, bytes | None]] | None:
    if headers is None or isinstance(headers, list):
        return headers
    if isinstance(headers, dict):
        return [(name, value.encode()) for name, value in headers.items()]
    return list(headers)
