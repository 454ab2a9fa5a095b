"""A consumer group's lag as the broker sees it: per partition, the end offset minus the group's committed offset.

This is the view that matters when the consumer is stopped, stuck or rebalancing (its own view, after its last
batch, stays where it was: 0 while the group fell behind). A partition the group never committed counts from the
partition's beginning (the consumer starts there: `auto_offset_reset="earliest"`). Read with an admin client (the
committed offsets) and a group-less consumer (the beginning and end offsets); neither joins the group.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from services.platform.topics import partitions_of

log = logging.getLogger("orderinfo.lag")


def lag_of(ends: Mapping[int, int], beginnings: Mapping[int, int], committed: Mapping[int, int]) -> dict[int, int]:
    """Records behind per partition: from the committed offset (else the beginning) to the end. Pure."""
    return {p: max(0, end - committed.get(p, beginnings.get(p, 0))) for p, end in sorted(ends.items())}


async def group_lag(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    """One reading of `group`'s lag on `topic` (no partitions: the topic does not exist yet)."""
    partitions = [TopicPartition(topic, p) for p in await partitions_of(bootstrap, topic)]
    if not partitions:
        return {}
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await admin.start()
    try:
        await consumer.start()
        try:
            ends = await consumer.end_offsets(partitions)
            beginnings = await consumer.beginning_offsets(partitions)
        finally:
            await consumer.stop()
        offsets = await admin.list_consumer_group_offsets(group, partitions=partitions)
    finally:
        await admin.close()
    committed = {tp.partition: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}
    return lag_of(
        {tp.partition: o for tp, o in ends.items()}, {tp.partition: o for tp, o in beginnings.items()}, committed
    )


@dataclass
class LagMonitor:
    """The latest reading of a group's lag, refreshed every `interval_s` by `run` (a failed reading is logged and
    the previous one kept, with its age on `/metrics`: a broker that does not answer shows as a stale reading)."""

    bootstrap: str
    group: str
    topic: str
    interval_s: float = 15.0
    lag: dict[int, int] = field(default_factory=dict)
    read_at: float | None = None  # time.monotonic() of the last successful reading

    async def refresh(self) -> None:
        self.lag = await group_lag(self.bootstrap, self.group, self.topic)
        self.read_at = time.monotonic()

    def age_s(self) -> float | None:
        return None if self.read_at is None else time.monotonic() - self.read_at

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.refresh()
            except Exception:
                log.exception("could not read the consumer group's lag from the broker")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval_s)
