"""The consumer's handler on the real broker: the body tests/unit/ingest/test_consumer_handler.py runs in memory."""

from __future__ import annotations

import pytest

from tests.support.consumer_handler import records_reach_ingest_and_bad_ones_are_dead_lettered

pytestmark = pytest.mark.integration


async def test_records_reach_ingest_and_bad_ones_are_dead_lettered_on_the_real_broker() -> None:
    await records_reach_ingest_and_bad_ones_are_dead_lettered(real=True)
