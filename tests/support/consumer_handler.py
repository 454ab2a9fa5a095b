"""One test body for the consumer's Kafka handler, run on FastStream's in-memory broker (tests/unit, every commit)
and on the real broker (tests/integration): records in -> the ingest step -> dead letters out -> offsets committed.

The ingest step is a fake that records what reached it and refuses what is not JSON, so the body checks the
handler (raw bytes whatever the headers, keys kept, dead letters with their reason, the batch committed), not the
database; `tests/integration/ingest` covers the real ingest step.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import TopicPartition
from faststream.kafka import KafkaMessage, TestKafkaBroker

from services.ingest import errors
from services.ingest.application.ingestion import BatchResult, EmitEvents, IngestOptions, Received, Rejected
from services.ingest.contracts.orders_ingest_v1 import DLQ_TOPIC, TOPIC
from services.ingest.domain.planning import Outcome
from services.ingest.entrypoints.consumer import BatchIngestor, raw_body, subscribe
from services.ingest.main import ensure_ingest_topics, producer_broker
from services.ingest.settings import IngestSettings
from tests.support.waiting import eventually


class FakePool:
    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[object]:
        yield object()


@dataclass
class RecordingOffsets:
    """The in-memory broker has no consumer to commit on: this one records the commits."""

    commits: list[dict[TopicPartition, int]] = field(default_factory=list)

    async def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        self.commits.append(dict(offsets))

    def seek(self, partition: TopicPartition, offset: int) -> None:
        raise AssertionError(f"nothing should be rewound ({partition} to {offset})")

    def highwater(self, partition: TopicPartition) -> int | None:
        return None


@dataclass
class RecordingIngest:
    seen: list[tuple[bytes | None, bytes | None]] = field(default_factory=list)

    async def __call__(self, conn: Any, records: Sequence[Received], emit: EmitEvents, o: IngestOptions) -> BatchResult:
        self.seen += [(r.key, r.value) for r in records]
        result = BatchResult()
        for r in records:
            if (r.value or b"").startswith(b"{"):
                result.outcomes.append(Outcome(r.ref, None, str(r.ref), None, "created"))  # type: ignore[arg-type]
            else:
                result.rejected.append(Rejected(r.ref, errors.INVALID_JSON, "the value is not JSON"))
        return result


async def _no_events(*_: object) -> int:
    return 0


GOOD, BAD = b'{"order_no": "A-1"}', b"\xff\xfe not json"


async def records_reach_ingest_and_bad_ones_are_dead_lettered(real: bool) -> None:
    """The body both layers run."""
    settings = IngestSettings(topic_prefix=f"handler-{uuid.uuid4().hex[:8]}.", topic_partitions=1)
    ingest, offsets = RecordingIngest(), None if real else RecordingOffsets()
    broker = producer_broker(settings)
    dead: list[tuple[bytes | None, str]] = []

    dlq, reader = settings.topic(DLQ_TOPIC.name), settings.topic("dlq-reader")

    @broker.subscriber(dlq, group_id=reader, auto_offset_reset="earliest", decoder=raw_body)
    async def on_dead_letter(message: KafkaMessage) -> None:
        dead.append((message.raw_message.key, message.headers["x-reason-code"]))

    ingestor = BatchIngestor(FakePool(), _no_events, IngestOptions(), ingest=ingest, max_retries=0)
    subscribe(broker, settings, ingestor, offsets=offsets)
    if real:
        await ensure_ingest_topics(settings)
    topic, json_header = settings.topic(TOPIC.name), {"content-type": "application/json"}
    async with TestKafkaBroker(broker, with_real=real) as running:
        await running.publish(GOOD, topic, key=b"t:A-1", headers=json_header)
        await running.publish(BAD, topic, key=b"t:B-1", headers=json_header)  # FastStream alone would fail to decode
        await eventually(lambda: _value(dead), lambda found: len(found) == 1)
    assert ingest.seen == [(b"t:A-1", GOOD), (b"t:B-1", BAD)]
    assert dead == [(b"t:B-1", errors.INVALID_JSON)]
    if offsets is not None:  # in memory each record is its own batch; nothing was rewound (`seek` would raise)
        assert len(offsets.commits) == 2


async def _value(found: list[Any]) -> list[Any]:
    return found
