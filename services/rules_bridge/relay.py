"""The relay: publishes committed outbox rows to Kafka, in commit order per shard, then marks them sent.

Guarantees:
- At least once, never uncommitted: only committed rows are read; a row is marked sent only after the broker
  acknowledged it (idempotent producer, acks=all). A relay that dies between publishing and marking republishes
  the same rows, with the same event ids, when a relay next owns the shard. Subscribers dedupe on `ce_id`.
- One event never blocks the others: each row gets its own verdict (`adapters.outbox_publisher`). A row the broker can
  never take (over `bounds.MAX_MESSAGE_BYTES`, rejected for its size, topic or record) is PARKED in the outbox with
  its reason (`failed_at`, `failure`, `failure_detail`), counted, and skipped from then on; the rows acknowledged
  beside it are marked sent and never published again. A transient failure (broker unavailable, timeouts) ends
  the session after the acknowledged rows were marked: the next session retries the rest, in id order.
- Per-key order: one relay at a time owns a shard (a session advisory lock on its own connection; a relay that
  dies loses it with its connection), and reads the shard in id order behind a barrier that waits for the shard's
  in-flight writers (see `adapters.outbox_store`). Each message is sent with its key; the producer keeps a
  partition's messages in order. Several relay processes may run: each owns the shards it could lock, the others
  stand by and take shards over when their owner goes away. A parked event leaves a gap in its order's sequence:
  the order's later events are still published (each carries the whole order and its `version`), and are parked
  on their own if they are too large as well (see docs/limits.md).
- Wakes on NOTIFY at each writer's commit; polls every `poll_interval_s` in case a notification was missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field

import asyncpg
from aiokafka import AIOKafkaProducer

from services.core.bounds import MAX_MESSAGE_BYTES
from services.platform.observability import LatencyHistogram
from services.platform.partitioning import KeyPartitioner
from services.platform.topics import TopicSpec
from services.rules_bridge.adapters import outbox_store, sql
from services.rules_bridge.adapters.outbox_publisher import Delivery, Publisher
from services.rules_bridge.adapters.outbox_store import N_SHARDS, Parking, PendingRow, ShardBacklog
from services.rules_bridge.contracts import customer_updated_v1, order_events_v1
from services.rules_bridge.domain.delivery import Outcome
from services.rules_bridge.settings import RelaySettings

log = logging.getLogger(__name__)

TOPICS: tuple[TopicSpec, ...] = (order_events_v1.TOPIC, customer_updated_v1.TOPIC)  # all the relay publishes to


# Awaited with each batch's rows after they were published and before they are marked sent.
AfterPublish = Callable[[Sequence[PendingRow]], Awaitable[None]]


class PublishIncomplete(Exception):
    """Some rows were not acknowledged for a reason that may pass: the session ends, a new one retries them."""


@dataclass
class RelayMetrics:
    """Counters and state for health and /metrics; the outbox figures are refreshed every `poll_interval_s`."""

    published: int = 0
    batches: int = 0
    backlog: int = 0  # pending rows (not sent, not parked), every shard
    owned_shards: int = 0
    pruned: int = 0
    writer_waits: int = 0  # shard reads given up because a writer of the shard was still in flight
    restarts: int = 0  # sessions restarted after a failure
    failing_sessions: int = 0  # sessions failed in a row; 0 once a session completes a pass
    last_error: str = ""
    producer_restarts: int = 0  # producers replaced because a rejected batch broke their sequence
    parked: Counter[str] = field(default_factory=Counter)  # rows this process parked, by reason
    parked_rows: int = 0  # rows parked in the outbox (by any relay, not re-queued)
    publish_latency: LatencyHistogram = field(default_factory=LatencyHistogram)  # per batch: send -> last ack
    _oldest_age_s: float | None = None  # at the last refresh: every shard / the shards owned then
    _owned_oldest_age_s: float | None = None
    _refreshed_at: float = 0.0

    def refresh(self, by_shard: Mapping[int, ShardBacklog], owned: Collection[int], parked_rows: int) -> None:
        self.backlog = sum(b.pending for b in by_shard.values())
        self.parked_rows = parked_rows
        self._oldest_age_s = max((b.oldest_age_s for b in by_shard.values()), default=None)
        self._owned_oldest_age_s = max((b.oldest_age_s for s, b in by_shard.items() if s in owned), default=None)
        self._refreshed_at = time.monotonic()

    def oldest_unsent_age_s(self, *, owned: bool = False) -> float | None:
        """Age of the oldest pending event (of the shards this relay owned at the last refresh), now; None: none.

        It keeps growing between refreshes, so a relay stuck before its next refresh shows it."""
        age = self._owned_oldest_age_s if owned else self._oldest_age_s
        return None if age is None else age + time.monotonic() - self._refreshed_at

    def problems(self, stuck_after_s: float) -> list[str]:
        """Why the relay is not ready: failing sessions, or an owned shard whose oldest event waits too long."""
        found = []
        if self.failing_sessions:
            found.append(
                f"{self.failing_sessions} relay session(s) failed in a row, restarting with backoff; "
                f"last error: {self.last_error}"
            )
        age = self.oldest_unsent_age_s(owned=True)
        if age is not None and age > stuck_after_s:
            found.append(
                f"the oldest unsent event of a shard this relay owns is {age:.0f} s old (limit {stuck_after_s:g} s)"
            )
        return found


class Relay:
    """One relay session: a dedicated database connection (shard locks, LISTEN, queries) and one producer."""

    def __init__(
        self, settings: RelaySettings, metrics: RelayMetrics | None = None, after_publish: AfterPublish | None = None
    ) -> None:
        self.settings = settings
        self._after_publish = after_publish  # between publishing and marking sent (a fault scenario's pause)
        self.metrics = metrics or RelayMetrics()
        self._wake = asyncio.Event()
        self._cursors: dict[int, int] = {}  # owned shard -> last id claimed by this session (0: none yet)
        self._wanted = sorted(set(settings.shards)) if settings.shards is not None else list(range(N_SHARDS))
        self._next_stats = 0.0

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until `stop` is set; raises on a database or broker failure (the caller restarts)."""
        conn = await asyncpg.connect(self.settings.database_url)
        publisher = Publisher(
            self._producer,
            self.settings.topic,
            {t.name for t in TOPICS},
            MAX_MESSAGE_BYTES,
            on_replace=self._producer_replaced,
        )
        try:
            await publisher.start()
            await conn.add_listener(sql.NOTIFY_CHANNEL, self._notified)
            await self._loop(conn, publisher, stop)
        finally:
            self._cursors.clear()
            self.metrics.owned_shards = 0
            await publisher.stop()
            await conn.close()  # releases the shard locks

    def _producer(self) -> AIOKafkaProducer:
        return AIOKafkaProducer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            enable_idempotence=True,
            acks="all",
            linger_ms=self.settings.linger_ms,
            max_batch_size=self.settings.producer_batch_bytes,
            max_request_size=MAX_MESSAGE_BYTES,  # = the topics' max.message.bytes and the broker's limit
            partitioner=KeyPartitioner(),  # Kafka's default partitioning, computed faster
        )

    async def _loop(self, conn: asyncpg.Connection, publisher: Publisher, stop: asyncio.Event) -> None:
        clock = time.monotonic
        next_takeover = next_prune = clock()
        while not stop.is_set():
            self._wake.clear()
            if clock() >= next_takeover:
                await self._take_shards(conn)
                next_takeover = clock() + self.settings.shard_retry_interval_s
            if clock() >= next_prune:
                self.metrics.pruned += await outbox_store.prune(conn, self.settings.retention)
                next_prune = clock() + self.settings.prune_interval_s
            await self._refresh_stats(conn)
            await self._drain(conn, publisher, stop)
            self.metrics.failing_sessions = 0  # a whole pass went through
            timeout = self.settings.poll_interval_s
            if len(self._cursors) < len(self._wanted):  # standing by for shards another relay owns
                timeout = min(timeout, max(0.0, next_takeover - clock()))
            await _first_of(self._wake, stop, timeout)

    async def _refresh_stats(self, conn: asyncpg.Connection) -> None:
        """Backlog, parked rows and the oldest pending event's age, at most every `poll_interval_s`."""
        if time.monotonic() < self._next_stats:
            return
        by_shard = await outbox_store.pending_by_shard(conn)
        self.metrics.refresh(by_shard, set(self._cursors), await outbox_store.parked_count(conn))
        self._next_stats = time.monotonic() + self.settings.poll_interval_s

    async def _take_shards(self, conn: asyncpg.Connection) -> None:
        for shard in self._wanted:
            if shard not in self._cursors and await outbox_store.try_own(conn, shard):
                self._cursors[shard] = 0
        self.metrics.owned_shards = len(self._cursors)

    async def _drain(self, conn: asyncpg.Connection, publisher: Publisher, stop: asyncio.Event) -> None:
        """Publish every pending row of the owned shards: per pass, one batch of each pending shard (none starves),
        all published together, then all settled (marked sent or parked).

        Pipelined, so the database and the broker work at once: while a pass is on its way to the broker, the
        previous pass is settled and the next one claimed on the connection. Kafka sees what it saw unpipelined:
        a pass is queued only once every row of the previous pass has its verdict and none is to be retried (a
        retry ends the session first); a row is still marked sent only after the broker acknowledged it."""
        shards = await outbox_store.pending_shards(conn, self._cursors)
        claimed = await self._claim(conn, shards) if shards else {}
        unsettled: list[Delivery] = []  # the previous pass: acknowledged or parked, not yet settled
        while claimed and not stop.is_set():
            rows = [row for batch in claimed.values() for row in batch]
            full = [shard for shard, batch in claimed.items() if len(batch) == self.settings.batch_size]
            self._cursors.update({shard: batch[-1].id for shard, batch in claimed.items() if batch})
            publishing = asyncio.ensure_future(self._publish(publisher, rows))
            try:
                await self._settle(conn, unsettled)
                unsettled = []
                claimed = await self._claim(conn, full) if full and not stop.is_set() else {}
                await self._refresh_stats(conn)  # a long drain keeps the figures current
            except BaseException:
                publishing.cancel()  # what it sent unmarked is sent again by the next session (at least once)
                with contextlib.suppress(BaseException):
                    await publishing
                raise
            unsettled = await publishing
            if any(d.outcome is Outcome.RETRY for d in unsettled):
                await self._settle(conn, unsettled)  # the acknowledged rows are marked before the session ends
                retry = [d for d in unsettled if d.outcome is Outcome.RETRY]
                raise PublishIncomplete(f"{len(retry)} of {len(rows)} rows not acknowledged: {retry[0].verdict.detail}")
        await self._settle(conn, unsettled)

    async def _claim(self, conn: asyncpg.Connection, shards: Sequence[int]) -> dict[int, list[PendingRow]]:
        claimed = {}
        for shard in shards:
            after, limit = self._cursors[shard], self.settings.batch_size
            rows = await outbox_store.claim(conn, shard, after, limit, self.settings.lock_timeout_ms)
            if rows is None:  # writers still in flight: come back on the next pass (or at their NOTIFY)
                self.metrics.writer_waits += 1
                self._wake.set()
            elif rows:
                claimed[shard] = rows
        return claimed

    async def _publish(self, publisher: Publisher, rows: list[PendingRow]) -> list[Delivery]:
        """Publish `rows` and wait for every verdict; `after_publish` sees them before they are settled."""
        started = time.monotonic()
        deliveries = await publisher.publish(rows)
        self.metrics.publish_latency.observe(time.monotonic() - started)
        if self._after_publish is not None:
            await self._after_publish(rows)
        return deliveries

    async def _settle(self, conn: asyncpg.Connection, deliveries: Sequence[Delivery]) -> None:
        """Mark the acknowledged rows sent and park the permanently failing ones (retried ones stay pending)."""
        if not deliveries:
            return
        sent = [d.row.id for d in deliveries if d.outcome is Outcome.SENT]
        parked = [d for d in deliveries if d.outcome is Outcome.PARKED]
        await outbox_store.settle(conn, sent, [_parking(d) for d in parked])
        self.metrics.published += len(sent)
        self.metrics.batches += 1
        for d in parked:
            self.metrics.parked[str(d.verdict.reason)] += 1
            log.warning(
                "parked outbox row %d (event %s, key %s): %s: %s",
                d.row.id,
                d.row.event_id,
                d.row.key,
                d.verdict.reason,
                d.verdict.detail,
            )

    def _producer_replaced(self) -> None:
        self.metrics.producer_restarts += 1

    def _notified(self, *_: object) -> None:
        self._wake.set()


def _parking(d: Delivery) -> Parking:
    return Parking(d.row.id, str(d.verdict.reason), d.verdict.detail)


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
