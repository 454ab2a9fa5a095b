"""Listing and replaying dead letters, for the CLI (`orderinfo dlq`) and the admin API.

Guarantees of `replay`:
- A letter is re-published at most once unless `force`: each replay is recorded in `dead_letter_replays` in a
  transaction that commits only after the broker acknowledged the re-published records (two replays running at
  once serialise on the letters' rows; the second finds them recorded). A process that dies between the
  acknowledgement and the commit leaves the letters unrecorded: a later replay sends them again, which the
  consumer's idempotent ingestion absorbs (the same order content changes nothing).
- A broker that does not answer raises `errors.BrokerUnavailable` (nothing recorded, maybe some letters sent:
  the next replay sends them again, which the idempotent ingestion absorbs).
- The records go to `orders.ingest.v1` with their original key, value and headers (not the dead-letter ones; a
  letter whose record's headers were dropped, `x-original-headers-dropped`, goes out without any):
  the consumer decides them again like any record, so a cause not fixed dead-letters them again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta, tzinfo
from typing import Any
from uuid import UUID

from services.ingest.adapters import dead_letter_topic
from services.ingest.adapters.dead_letter_topic import Scan
from services.ingest.contracts.orders_ingest_v1 import DLQ_TOPIC, TOPIC
from services.ingest.domain.dead_letters import HEADERS_DROPPED, DeadLetter, LetterFilter, by_day, counts_by_reason
from services.platform.settings import ConnectionSettings

DEFAULT_LIMIT = 1000  # letters answered per call
MAX_LIMIT = 100_000


@dataclass(frozen=True)
class Listing:
    letters: list[DeadLetter]
    by_reason: dict[str, int]
    scanned: int
    complete: bool  # every letter up to the topic's end was scanned (else `limit`, bytes or the deadline stopped it)
    replayed: set[tuple[int, int]] = field(default_factory=set)  # (partition, offset) of letters replayed before


@dataclass(frozen=True)
class Replay:
    listing: Listing
    replayed: list[DeadLetter]
    skipped: list[DeadLetter]  # replayed before (not forced)
    dry_run: bool


async def list_letters(settings: ConnectionSettings, pool: Any, where: LetterFilter, limit: int) -> Listing:
    """The first `limit` letters matching `where` of the dead-letter topic (oldest first in each partition), with
    their counts by reason; another tenant's letters count as scanned only (see `dead_letter_topic`)."""
    topic = settings.topic(DLQ_TOPIC.name)
    async with dead_letter_topic.broker_errors():
        scan: Scan = await dead_letter_topic.read_letters(
            settings.kafka_bootstrap_servers, topic, limit, keep=where.matches
        )
    letters = scan.letters
    async with pool.acquire() as conn:
        replayed = await dead_letter_topic.replayed_already(conn, topic, letters)
    return Listing(letters, counts_by_reason(letters), scan.scanned, scan.complete, replayed)


async def replay(
    settings: ConnectionSettings,
    pool: Any,
    where: LetterFilter,
    limit: int,
    *,
    by: str,
    dry_run: bool = False,
    force: bool = False,
) -> Replay:
    """Re-publish the letters matching `where` (see the module's guarantees); `dry_run` says what would be sent."""
    listing = await list_letters(settings, pool, where, limit)
    due = [x for x in listing.letters if force or _where(x) not in listing.replayed]
    skipped = [x for x in listing.letters if not force and _where(x) in listing.replayed]
    if dry_run or not due:
        return Replay(listing, due, skipped, dry_run)
    topic = settings.topic(DLQ_TOPIC.name)
    async with dead_letter_topic.broker_errors(), pool.acquire() as conn, conn.transaction():
        claimed = [x for x in due if await dead_letter_topic.record_replay(conn, topic, x, by, force)]
        await dead_letter_topic.republish(settings.kafka_bootstrap_servers, settings.topic(TOPIC.name), claimed)
    sent = {_where(x) for x in claimed}
    skipped += [x for x in due if _where(x) not in sent]
    return Replay(listing, claimed, skipped, dry_run)


def _where(letter: DeadLetter) -> tuple[int, int]:
    return letter.partition, letter.offset


@dataclass(frozen=True)
class Daily:
    """A tenant's latest dead letters by reason and day (the console's pipeline page)."""

    days: list[date]
    series: dict[str, list[int]]
    scanned: int
    complete: bool


async def daily_letters(
    settings: ConnectionSettings, tenant_id: UUID, today: date, zone: tzinfo, days: int = 14, limit: int = 1000
) -> Daily:
    """The tenant's letters among the latest `limit` of each partition, counted per reason and day over `days`."""
    topic = settings.topic(DLQ_TOPIC.name)
    mine = LetterFilter(tenant_id=tenant_id).matches
    scan = await dead_letter_topic.read_letters(settings.kafka_bootstrap_servers, topic, limit, newest=True, keep=mine)
    window = [today - timedelta(days=n) for n in range(days - 1, -1, -1)]
    return Daily(window, by_day(scan.letters, window, zone), scan.scanned, scan.complete)


def describe(letter: DeadLetter, replayed: bool) -> dict[str, Any]:
    """A letter as the CLI's --json and the API show it (the value is left out: it may be large or not text)."""
    return {
        "partition": letter.partition,
        "offset": letter.offset,
        "dead_lettered_at": letter.timestamp.isoformat(),
        "reason": letter.reason,
        "detail": letter.header("x-reason"),
        "tenant_id": str(letter.tenant_id) if letter.tenant_id else None,
        "key": letter.key.decode("utf-8", "replace") if letter.key is not None else None,
        "original": {
            "topic": letter.header("x-original-topic"),
            "partition": letter.header("x-original-partition"),
            "offset": letter.header("x-original-offset"),
        },
        "bytes": len(letter.value or b""),
        "headers_dropped": letter.header(HEADERS_DROPPED),  # why the record's own headers are not in the letter
        "replayed": replayed,
    }
