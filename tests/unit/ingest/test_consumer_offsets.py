"""What the handler commits (issue 10, finding 1): per partition, the offset after the last record of the batch,
once every record was applied or dead-lettered; on any failure nothing, and each partition is rewound."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from aiokafka import TopicPartition

from services.ingest import errors
from services.ingest.application.ingestion import Received, Rejected
from services.ingest.entrypoints.consumer import handle_batch
from tests.unit.ingest.test_consumer_retries import ScriptedIngest, ingestor


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None = b"k"
    value: bytes | None = b"{}"
    headers: tuple[tuple[str, bytes | None], ...] = ()


class RecordingConsumer:
    def __init__(self) -> None:
        self.commits: list[dict[TopicPartition, int]] = []
        self.seeks: list[tuple[TopicPartition, int]] = []

    async def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        self.commits.append(dict(offsets))

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.seeks.append((partition, offset))

    def highwater(self, partition: TopicPartition) -> int | None:
        return None


BATCH = [Record("t", 0, 5), Record("t", 1, 9), Record("t", 0, 6), Record("t", 1, 10), Record("t", 0, 7)]


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(errors, "backoff_delay", lambda attempt: 0.0)


async def no_dead_letters(records: Sequence[Received], rejected: Sequence[Rejected]) -> None:
    pass


async def test_each_partition_is_committed_after_its_last_record() -> None:
    consumer = RecordingConsumer()
    batches, _ = ingestor(ScriptedIngest(poison={2}))
    assert await handle_batch(BATCH, consumer, no_dead_letters, batches)
    assert consumer.commits == [{TopicPartition("t", 0): 8, TopicPartition("t", 1): 11}] and consumer.seeks == []


async def test_a_failure_commits_nothing_and_rewinds_every_partition() -> None:
    consumer = RecordingConsumer()
    batches, metrics = ingestor(ScriptedIngest(always=ConnectionRefusedError()), max_retries=0)
    assert not await handle_batch(BATCH, consumer, no_dead_letters, batches)
    assert consumer.commits == [] and metrics.restarts == 1
    assert sorted(consumer.seeks) == [(TopicPartition("t", 0), 5), (TopicPartition("t", 1), 9)]


async def test_a_dead_letter_that_cannot_be_published_commits_nothing() -> None:
    async def broken(records: Sequence[Received], rejected: Sequence[Rejected]) -> Any:
        raise ConnectionError("broker gone")

    consumer = RecordingConsumer()
    batches, _ = ingestor(ScriptedIngest(poison={0}))
    assert not await handle_batch(BATCH, consumer, broken, batches)
    assert consumer.commits == [] and len(consumer.seeks) == 2
