"""Reading the dead-letter topic (bounded) and re-publishing letters; the replay records in PostgreSQL.

`read_letters` reads from each partition's beginning up to its end offset as it was when the call started (records
written meanwhile wait for the next call), keeps the letters its `keep` filter takes (a tenant's: another tenant's
letters are counted as scanned, never held, so no flood of them hides a tenant's own or fills the memory), stops
at `limit` letters kept, `max_bytes` of them or `within` seconds, and returns at once on an empty topic: it never
waits for records that may never come. `republish` sends through an idempotent
producer (acks=all) with each letter's key, so one order's records stay on one partition, in order.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from services.ingest.contracts.orders_ingest_v1 import DEAD_LETTER_BYTES
from services.ingest.domain.dead_letters import DeadLetter
from services.ingest.errors import BrokerUnavailable
from services.platform.topics import partitions_of

READ_WITHIN_S = 20.0
FETCH_TIMEOUT_MS = 200
MAX_HELD_BYTES = 64 * 1024 * 1024  # of the letters kept by one read (a letter may hold up to DEAD_LETTER_BYTES)

RECORD_REPLAY = """
INSERT INTO dead_letter_replays (dlq_topic, dlq_partition, dlq_offset, tenant_id, reason, replayed_by)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (dlq_topic, dlq_partition, dlq_offset) DO UPDATE
    SET replays = dead_letter_replays.replays + 1, last_replayed_at = now(), replayed_by = EXCLUDED.replayed_by
    WHERE $7
RETURNING replays
"""

REPLAYED_ALREADY = """
SELECT dlq_partition, dlq_offset FROM dead_letter_replays
WHERE dlq_topic = $1 AND (dlq_partition, dlq_offset) IN (SELECT * FROM unnest($2::int[], $3::bigint[]))
"""


@contextlib.asynccontextmanager
async def broker_errors() -> AsyncIterator[None]:
    """Re-raise the client's errors of the block (broker unreachable, timeouts, refusals) as `BrokerUnavailable`."""
    try:
        yield
    except (TimeoutError, KafkaError, OSError) as exc:
        raise BrokerUnavailable(f"{type(exc).__name__}: {exc}"[:300]) from exc


@dataclass(frozen=True)
class Scan:
    """What one bounded read found: the letters kept, whether it reached every partition's end, and how many
    records it read."""

    letters: list[DeadLetter]
    complete: bool
    scanned: int = 0


async def read_letters(
    bootstrap: str,
    topic: str,
    limit: int,
    within: float = READ_WITHIN_S,
    *,
    newest: bool = False,
    keep: Callable[[DeadLetter], bool] | None = None,
    max_bytes: int = MAX_HELD_BYTES,
) -> Scan:
    """See the module; `keep`: which letters count (default: all); `newest`: the latest `limit` records of each
    partition instead (each read from `limit` records before its end)."""
    assigned = [TopicPartition(topic, p) for p in await partitions_of(bootstrap, topic)]
    if not assigned:  # a topic not created yet holds no letter
        return Scan([], True)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        max_partition_fetch_bytes=DEAD_LETTER_BYTES,
        fetch_max_bytes=max(50 * 1024 * 1024, DEAD_LETTER_BYTES),
    )
    await consumer.start()
    try:
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        ends = await consumer.end_offsets(assigned)
        if newest:  # `limit` per partition
            for tp in assigned:
                consumer.seek(tp, max(await consumer.position(tp), ends[tp] - limit))
        cap = limit * len(assigned) if newest else limit
        bound = _Bound(cap, max_bytes, time.monotonic() + within)
        return await _read_until(consumer, ends, bound, keep or _every)
    finally:
        await consumer.stop()


@dataclass(frozen=True)
class _Bound:
    letters: int
    bytes: int
    deadline: float


def _every(letter: DeadLetter) -> bool:
    return True


async def _read_until(
    consumer: Any, ends: dict[TopicPartition, int], bound: _Bound, keep: Callable[[DeadLetter], bool]
) -> Scan:
    letters: list[DeadLetter] = []
    scanned = held = 0
    full = left_unread = False
    open_ = {tp for tp, end in ends.items() if await consumer.position(tp) < end}
    while open_ and not full and time.monotonic() < bound.deadline:
        batches = await consumer.getmany(*open_, timeout_ms=FETCH_TIMEOUT_MS, max_records=5000)
        for tp, records in batches.items():
            for record in records:
                if record.offset >= ends[tp]:
                    continue
                if full:  # fetched, but past the bound: the scan is not complete
                    left_unread = True
                    continue
                scanned += 1
                letter = _letter(record)
                if keep(letter):
                    letters.append(letter)
                    held += len(record.value or b"")
                    full = len(letters) >= bound.letters or held >= bound.bytes
        open_ = {tp for tp in open_ if await consumer.position(tp) < ends[tp]}
    return Scan(letters, not open_ and not left_unread, scanned)


def _letter(record: Any) -> DeadLetter:
    at = datetime.fromtimestamp(record.timestamp / 1000, UTC)
    headers = tuple((k, None if v is None else bytes(v)) for k, v in (record.headers or ()))
    return DeadLetter(record.partition, record.offset, at, record.key, record.value, headers)


async def republish(bootstrap: str, topic: str, letters: Sequence[DeadLetter]) -> None:
    """Send every letter's record to `topic` and wait until the broker acknowledged them all."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", max_request_size=DEAD_LETTER_BYTES
    )
    await producer.start()
    try:
        futures = [
            await producer.send(topic, letter.value, key=letter.key, headers=list(letter.replay_headers()))
            for letter in letters
        ]
        for future in futures:
            await future
    finally:
        await producer.stop()


async def replayed_already(conn: Any, topic: str, letters: Sequence[DeadLetter]) -> set[tuple[int, int]]:
    rows = await conn.fetch(REPLAYED_ALREADY, topic, [x.partition for x in letters], [x.offset for x in letters])
    return {(r["dlq_partition"], r["dlq_offset"]) for r in rows}


async def record_replay(conn: Any, topic: str, letter: DeadLetter, by: str, force: bool) -> bool:
    """Record that `letter` is being replayed (in the caller's transaction); False: it was already, and not `force`."""
    replays = await conn.fetchval(
        RECORD_REPLAY, topic, letter.partition, letter.offset, letter.tenant_id, letter.reason, by, force
    )
    return replays is not None
