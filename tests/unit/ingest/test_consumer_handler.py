"""The consumer's handler on FastStream's in-memory broker (the same body runs on the real broker in
tests/integration/ingest/test_consumer_handler.py)."""

from __future__ import annotations

from tests.support.consumer_handler import records_reach_ingest_and_bad_ones_are_dead_lettered


async def test_records_reach_ingest_and_bad_ones_are_dead_lettered_in_memory() -> None:
    await records_reach_ingest_and_bad_ones_are_dead_lettered(real=False)
