"""Attacks on the redelivery window (`domain.deliveries`) and the pre-filter (`domain.redelivery`), issue 15:
a committed batch delivered again changes nothing, however many records of one order it holds."""

from __future__ import annotations

from typing import Any

import asyncpg

from services.ingest.application.ingestion import IngestOptions
from services.ingest.domain import deliveries
from services.ingest.entrypoints.consumer import BatchIngestor, handle_batch
from tests.integration.hostile.test_probes2 import RecordingConsumer
from tests.integration.hostile.test_redelivery import CommitFailsOnce, _no_dead_letters, _raw, _state
from tests.integration.ingest.conftest import RecordingEmitter
from tests.integration.query.conftest import new_tenant
from tests.support.orders import message, received


async def test_a_batch_of_more_records_of_one_order_than_the_window_redelivered_changes_nothing(
    pool: asyncpg.Pool, monkeypatch: Any
) -> None:
    """WINDOW + 2 records of one order in one batch, committed, its offsets not: the redelivery's first records
    are older than the window kept, were planned in full over the state the last one left, and flipped the
    order back and forth (a version and an event per record)."""
    monkeypatch.setattr("services.ingest.errors.backoff_delay", lambda attempt: 0)
    tenant, _ = await new_tenant(pool, "deliveries-window")
    count = deliveries.WINDOW + 2
    batch = _raw(received(*(message(tenant, "AW-1", remark=f"r{i}") for i in range(count))))
    emitter = RecordingEmitter()
    ingestor = BatchIngestor(pool, emitter, IngestOptions(), max_retries=0)
    assert not await handle_batch(batch, CommitFailsOnce(), _no_dead_letters, ingestor)  # committed, offsets not
    applied = await _state(pool, tenant, "AW-1")
    assert applied == (count, f"r{count - 1}", "paid")
    emitter.changes.clear(), emitter.customers.clear()

    assert await handle_batch(batch, RecordingConsumer(), _no_dead_letters, ingestor)  # the redelivery
    assert await _state(pool, tenant, "AW-1") == applied
    assert emitter.changes == [] and emitter.customers == []
