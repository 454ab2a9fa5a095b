"""A batch redelivered after it committed (its offset commit failed, or the process died between the two): records
that were applied already are applied once, also when one order has several records in the batch (the earlier
ones were planned over the state the later ones left, and flipped the order back and forth: a new version and an
event per record, each time). Records sent again (new offsets, same bytes) are still applied in full."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import asyncpg
from aiokafka import TopicPartition

from services.ingest.application.ingestion import IngestOptions, Received, Rejected
from services.ingest.entrypoints.consumer import BatchIngestor, handle_batch
from tests.integration.hostile.test_probes2 import RawRecord, RecordingConsumer
from tests.integration.ingest.conftest import RecordingEmitter
from tests.integration.query.conftest import new_tenant
from tests.support.orders import line, message, received


class CommitFailsOnce(RecordingConsumer):
    """The offset commit fails the first time (a rebalance, the broker away): the handler rewinds the batch."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 1

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("offset commit failed")
        await super().commit(offsets)


async def _no_dead_letters(_: Sequence[Received], rejected: Sequence[Rejected]) -> None:
    assert not rejected


def _raw(records: Sequence[Received]) -> list[RawRecord]:
    return [RawRecord(r.topic, r.partition, r.offset, r.key, r.value) for r in records]


async def _state(pool: asyncpg.Pool, tenant: UUID, order_no: str) -> tuple[Any, ...]:
    row = await pool.fetchrow(
        "SELECT version, remark, status FROM orders WHERE tenant_id = $1 AND order_no = $2", tenant, order_no
    )
    assert row is not None
    return tuple(row)


async def test_a_batch_redelivered_after_its_commit_changes_nothing_with_two_records_of_one_order(
    pool: asyncpg.Pool, monkeypatch: Any
) -> None:
    monkeypatch.setattr("services.ingest.errors.backoff_delay", lambda attempt: 0)
    tenant, _ = await new_tenant(pool, "redelivery")
    batch = _raw(
        received(
            message(tenant, "RD-1", remark="first"),
            message(tenant, "RD-2"),
            message(tenant, "RD-1", remark="second", lines=[line("P2")]),
        )
    )
    emitter = RecordingEmitter()
    ingestor = BatchIngestor(pool, emitter, IngestOptions(), max_retries=0)
    consumer = CommitFailsOnce()
    assert not await handle_batch(batch, consumer, _no_dead_letters, ingestor)  # committed, offsets not
    applied = await _state(pool, tenant, "RD-1")
    assert applied == (2, "second", "paid")
    emitter.changes.clear(), emitter.customers.clear()

    assert await handle_batch(batch, consumer, _no_dead_letters, ingestor)  # the redelivery
    assert await _state(pool, tenant, "RD-1") == applied
    assert emitter.changes == [] and emitter.customers == []


async def test_a_redelivery_split_record_by_record_changes_nothing(pool: asyncpg.Pool, monkeypatch: Any) -> None:
    """The batch comes back one record at a time (a fetch returns what is buffered)."""
    monkeypatch.setattr("services.ingest.errors.backoff_delay", lambda attempt: 0)
    tenant, _ = await new_tenant(pool, "redelivery")
    batch = _raw(received(message(tenant, "RS-1", remark="first"), message(tenant, "RS-1", remark="second")))
    emitter = RecordingEmitter()
    ingestor = BatchIngestor(pool, emitter, IngestOptions(), max_retries=0)
    assert not await handle_batch(batch, CommitFailsOnce(), _no_dead_letters, ingestor)
    applied = await _state(pool, tenant, "RS-1")
    emitter.changes.clear(), emitter.customers.clear()
    for record in batch:
        assert await handle_batch([record], RecordingConsumer(), _no_dead_letters, ingestor)
    assert await _state(pool, tenant, "RS-1") == applied
    assert emitter.changes == []


async def test_the_same_bytes_sent_again_after_another_record_are_applied(pool: asyncpg.Pool) -> None:
    """B, A, B on the log, B applied and committed alone: A and the second B are new records (other offsets), so
    both apply (B's bytes again after A bring B's remark back), however the batches fall."""
    tenant, _ = await new_tenant(pool, "redelivery")
    a, b = message(tenant, "RB-1", remark="a"), message(tenant, "RB-1", remark="b")
    first, then_a, then_b = received(b, a, b)
    emitter = RecordingEmitter()
    ingestor = BatchIngestor(pool, emitter, IngestOptions(), max_retries=0)
    assert await handle_batch(_raw([first]), RecordingConsumer(), _no_dead_letters, ingestor)
    assert await handle_batch(_raw([then_a, then_b]), RecordingConsumer(), _no_dead_letters, ingestor)
    assert await _state(pool, tenant, "RB-1") == (3, "b", "paid")
    assert [c.after.version for c in emitter.changes] == [1, 2, 3]
    again = received(a)  # A's bytes once more, at a new offset: applied again
    assert await handle_batch(_raw(again), RecordingConsumer(), _no_dead_letters, ingestor)
    assert await _state(pool, tenant, "RB-1") == (4, "a", "paid")


async def test_an_unchanged_record_delivered_again_after_its_batch_created_its_buyer_stays_unchanged(
    pool: asyncpg.Pool, monkeypatch: Any
) -> None:
    """An unchanged record (its order not written) is delivered again after a later record of its batch created
    the customer its buyer's mobile now names: it was applied, so it stays unchanged, not moved to that customer."""
    monkeypatch.setattr("services.ingest.errors.backoff_delay", lambda attempt: 0)
    tenant, _ = await new_tenant(pool, "redelivery")
    moved = message(tenant, "RU-A", buyer={"mobile": "13900000002"}, remark="moved")
    first = received(message(tenant, "RU-A", buyer={"mobile": "13900000001"}), moved)
    emitter = RecordingEmitter()
    ingestor = BatchIngestor(pool, emitter, IngestOptions(), max_retries=0)
    assert await handle_batch(_raw(first), RecordingConsumer(), _no_dead_letters, ingestor)
    applied = await pool.fetchrow("SELECT customer_id, version FROM orders WHERE tenant_id = $1", tenant)
    batch = _raw(received(moved, message(tenant, "RU-B", buyer={"mobile": "13900000002"})))
    assert not await handle_batch(batch, CommitFailsOnce(), _no_dead_letters, ingestor)
    assert (
        await pool.fetchrow(
            "SELECT customer_id, version FROM orders WHERE tenant_id = $1 AND order_no = 'RU-A'", tenant
        )
        == applied
    )
    emitter.changes.clear()
    assert await handle_batch(batch, RecordingConsumer(), _no_dead_letters, ingestor)
    assert (
        await pool.fetchrow(
            "SELECT customer_id, version FROM orders WHERE tenant_id = $1 AND order_no = 'RU-A'", tenant
        )
        == applied
    )
    assert emitter.changes == []
