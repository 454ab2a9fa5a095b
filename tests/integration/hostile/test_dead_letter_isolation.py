"""One tenant's dead letters do not hide another's, nor fill the memory of the process that lists them.

Any tenant can dead-letter at its push rate (2,000 orders/s): push an order at the money bound, then the same
order with one more line a thousand times in one request, and each record is a `total_too_large` letter. The
listing scanned the dead-letter topic from its oldest record and counted every tenant's letters toward `limit`
(at most 100,000): a flood ahead of a victim's letters left its admin answer empty (`matching: 0`) and its replay
with nothing to send, and every letter scanned, of any tenant, was held in memory with its value.
"""

from __future__ import annotations

import uuid
from uuid import UUID

import asyncpg
import pytest

from services.ingest.adapters import dead_letter_topic
from services.ingest.application import dead_letters
from services.ingest.contracts.orders_ingest_v1 import DLQ_TOPIC, message_key
from services.ingest.domain.dead_letters import LetterFilter
from services.ingest.main import ensure_ingest_topics
from services.ingest.settings import IngestSettings
from services.platform.settings import ConnectionSettings
from tests.integration.ingest.live import fresh_settings, send_batched

HEADERS = [("x-reason-code", b"total_too_large"), ("x-reason", b"why"), ("x-original-offset", b"7")]


async def put_letters(settings: IngestSettings, tenant: UUID, order_nos: list[str], value: bytes = b"{}") -> None:
    """Letters as the consumer writes them, straight onto the dead-letter topic, one per order no."""
    await send_batched(settings, DLQ_TOPIC.name, [(message_key(tenant, n), value, HEADERS) for n in order_nos])


@pytest.fixture
async def settings(connection_settings: ConnectionSettings) -> IngestSettings:
    fresh = fresh_settings(connection_settings)
    await ensure_ingest_topics(fresh)
    return fresh


async def test_a_flood_of_another_tenants_letters_does_not_hide_a_tenants_own(
    settings: IngestSettings, pool: asyncpg.Pool
) -> None:
    attacker, victim = uuid.uuid4(), uuid.uuid4()
    flood = dead_letters.DEFAULT_LIMIT * 6  # 2,000 a partition: more than one scan of `limit` reaches
    await put_letters(settings, attacker, [f"FLOOD-{n}" for n in range(flood)])  # every partition, ahead
    await put_letters(settings, victim, ["MINE-1", "MINE-2"])

    mine = await dead_letters.list_letters(settings, pool, LetterFilter(tenant_id=victim), dead_letters.DEFAULT_LIMIT)
    assert sorted(str(x.key, "utf-8") for x in mine.letters) == [f"{victim}:MINE-1", f"{victim}:MINE-2"]
    assert mine.complete and mine.scanned == flood + 2 and mine.by_reason == {"total_too_large": 2}
    replay = await dead_letters.replay(
        settings, pool, LetterFilter(tenant_id=victim), dead_letters.DEFAULT_LIMIT, by="test", dry_run=True
    )
    assert len(replay.replayed) == 2

    some = await dead_letters.list_letters(settings, pool, LetterFilter(tenant_id=attacker), 10)
    assert len(some.letters) == 10 and not some.complete  # `limit` counts the letters answered


async def test_a_listing_holds_at_most_its_byte_budget_of_letters(settings: IngestSettings) -> None:
    tenant, other = uuid.uuid4(), uuid.uuid4()
    big = b"x" * 100_000
    await put_letters(settings, other, [f"O{n}" for n in range(40)], big)  # another tenant's: never held
    await put_letters(settings, tenant, [f"T{n}" for n in range(8)], big)
    topic, bootstrap = settings.topic(DLQ_TOPIC.name), settings.kafka_bootstrap_servers

    scan = await dead_letter_topic.read_letters(
        bootstrap, topic, 1000, keep=LetterFilter(tenant_id=tenant).matches, max_bytes=450_000
    )
    assert 4 <= len(scan.letters) <= 5 and not scan.complete
    assert all(x.tenant_id == tenant for x in scan.letters)
    whole = await dead_letter_topic.read_letters(bootstrap, topic, 1000, keep=LetterFilter(tenant_id=tenant).matches)
    assert len(whole.letters) == 8 and whole.complete and whole.scanned == 48
