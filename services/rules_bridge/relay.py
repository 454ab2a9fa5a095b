"""The relay: publishes committed outbox rows to Kafka, in commit order per shard, then marks them sent.

Guarantees:
- At least once, never uncommitted: only committed rows are read; a row is marked sent only after the broker
  acknowledged it (idempotent producer, acks=all). A relay that dies between publishing and marking republishes
  the same rows, with the same event ids, when a relay next owns the shard. Subscribers dedupe on `ce_id`.
- Per-key order: one relay at a time owns a shard (a session advisory lock on its own connection; a relay that
  dies loses it with its connection), and reads the shard in id order behind a barrier that waits for the shard's
  in-flight writers (see `adapters.outbox_store`). Each message is sent with its key; the producer keeps a
  partition's messages in order. Several relay processes may run: each owns the shards it could lock, the others
  stand by and take shards over when their owner goes away.
- Wakes on NOTIFY at each writer's commit; polls every `poll_interval_s` in case a notification was missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
from aiokafka import AIOKafkaProducer

from services.rules_bridge.adapters import outbox_store, sql
from services.rules_bridge.adapters.outbox_store import N_SHARDS, PendingRow
from services.rules_bridge.settings import RelaySettings

log = logging.getLogger(__name__)


@dataclass
class RelayMetrics:
    """Counters for health and /metrics; `backlog` is refreshed at most every `poll_interval_s`."""

    published: int = 0
    batches: int = 0
    backlog: int = 0
    owned_shards: int = 0
    pruned: int = 0
    writer_waits: int = 0  # shard reads given up because a writer of the shard was still in flight
    restarts: int = 0


class Relay:
    """One relay session: a dedicated database connection (shard locks, LISTEN, queries) and one producer."""

    def __init__(self, settings: RelaySettings, metrics: RelayMetrics | None = None) -> None:
        self.settings = settings
        self.metrics = metrics or RelayMetrics()
        self._wake = asyncio.Event()
        self._cursors: dict[int, int] = {}  # owned shard -> last id sent by this session (0: none yet)
        self._wanted = sorted(set(settings.shards)) if settings.shards is not None else list(range(N_SHARDS))

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until `stop` is set; raises on a database or broker failure (the caller restarts)."""
        conn = await asyncpg.connect(self.settings.database_url)
        producer = AIOKafkaProducer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            enable_idempotence=True,
            acks="all",
            linger_ms=self.settings.linger_ms,
            max_batch_size=self.settings.producer_batch_bytes,
        )
        try:
            await producer.start()
            await conn.add_listener(sql.NOTIFY_CHANNEL, self._notified)
            await self._loop(conn, producer, stop)
        finally:
            self._cursors.clear()
            self.metrics.owned_shards = 0
            await producer.stop()
            await conn.close()  # releases the shard locks

    async def _loop(self, conn: asyncpg.Connection, producer: AIOKafkaProducer, stop: asyncio.Event) -> None:
        clock = asyncio.get_running_loop().time
        next_takeover = next_prune = next_backlog = clock()
        while not stop.is_set():
            self._wake.clear()
            if clock() >= next_takeover:
                await self._take_shards(conn)
                next_takeover = clock() + self.settings.shard_retry_interval_s
            if clock() >= next_prune:
                self.metrics.pruned += await outbox_store.prune(conn, self.settings.retention)
                next_prune = clock() + self.settings.prune_interval_s
            await self._drain(conn, producer, stop)
            if clock() >= next_backlog:
                self.metrics.backlog = await outbox_store.backlog(conn)
                next_backlog = clock() + self.settings.poll_interval_s
            timeout = self.settings.poll_interval_s
            if len(self._cursors) < len(self._wanted):  # standing by for shards another relay owns
                timeout = min(timeout, max(0.0, next_takeover - clock()))
            await _first_of(self._wake, stop, timeout)

    async def _take_shards(self, conn: asyncpg.Connection) -> None:
        for shard in self._wanted:
            if shard not in self._cursors and await outbox_store.try_own(conn, shard):
                self._cursors[shard] = 0
        self.metrics.owned_shards = len(self._cursors)

    async def _drain(self, conn: asyncpg.Connection, producer: AIOKafkaProducer, stop: asyncio.Event) -> None:
        """Publish every pending row of the owned shards: per pass, one batch of each pending shard (none starves),
        all published together, then all marked sent."""
        shards = await outbox_store.pending_shards(conn, self._cursors)
        while shards and not stop.is_set():
            claimed = await self._claim(conn, shards)
            rows = [row for batch in claimed.values() for row in batch]
            if rows:
                await self._relay(conn, producer, rows)
                self._cursors.update({shard: batch[-1].id for shard, batch in claimed.items() if batch})
            shards = [shard for shard, batch in claimed.items() if len(batch) == self.settings.batch_size]

    async def _claim(self, conn: asyncpg.Connection, shards: Sequence[int]) -> dict[int, list[PendingRow]]:
        claimed = {}
        for shard in shards:
            after, limit = self._cursors[shard], self.settings.batch_size
            rows = await outbox_store.claim(conn, shard, after, limit, self.settings.lock_timeout_ms)
            if rows is None:  # writers still in flight: come back on the next pass (or at their NOTIFY)
                self.metrics.writer_waits += 1
                self._wake.set()
            else:
                claimed[shard] = rows
        return claimed

    async def _relay(self, conn: asyncpg.Connection, producer: AIOKafkaProducer, rows: list[PendingRow]) -> None:
        await self._publish(producer, rows)
        await self._after_publish(rows)
        await outbox_store.mark_sent(conn, [row.id for row in rows])
        self.metrics.published += len(rows)
        self.metrics.batches += 1

    async def _publish(self, producer: AIOKafkaProducer, rows: Sequence[PendingRow]) -> None:
        """Send every row with its key (queued in order), then wait for all acknowledgements together."""
        futures = [
            await producer.send(self.settings.topic(row.topic), row.value, key=row.key.encode(), headers=row.headers)
            for row in rows
        ]
        await asyncio.gather(*futures)

    async def _after_publish(self, rows: Sequence[PendingRow]) -> None:
        """Between publishing and marking sent: a seam for tests that simulate a crash here."""

    def _notified(self, *_: object) -> None:
        self._wake.set()


async def _first_of(wake: asyncio.Event, stop: asyncio.Event, seconds: float) -> None:
    """Wait until `wake` or `stop` is set, or `seconds` pass."""
    waiters = [asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stop.wait())]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*waiters)
