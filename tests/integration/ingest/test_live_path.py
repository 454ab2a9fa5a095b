"""The live path decides every record itself (issue 10, finding 1): whatever a record's headers and bytes, the
consumer applies it or dead-letters it with a reason, its neighbours land, and the group's committed offsets
end exactly after the records handled."""

from __future__ import annotations

from uuid import UUID

import asyncpg
import pytest

from services.core import bounds
from services.ingest import errors
from services.ingest.contracts.orders_ingest_v1 import message_key
from services.platform.settings import ConnectionSettings
from tests.integration.ingest.live import (
    Headers,
    committed,
    dead_letters,
    ends,
    fresh_settings,
    running_consumer,
    send_raw,
)
from tests.support.orders import message
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration
JSON: Headers = [("content-type", b"application/json")]
TEXT: Headers = [("content-type", b"text/plain")]
DEEP = b'{"a":' * 5000 + b"1" + b"}" * 5000


def good(tenant: UUID, order_no: str, headers: Headers = ()) -> tuple[bytes, bytes, Headers]:  # type: ignore[assignment]
    m = message(tenant, order_no)
    return message_key(tenant, order_no), m.model_dump_json().encode(), list(headers)


@pytest.mark.parametrize(
    ("headers", "value", "reason"),
    [
        (JSON, b"{not json at all", errors.INVALID_JSON),
        (TEXT, b"\xff\xfe not utf-8 \xc3\x28", errors.INVALID_ENCODING),
        ([], DEEP, errors.INVALID_JSON),
        ([("content-type", b"\xff\xfe")], b"[]", errors.CONTRACT_VIOLATION),
    ],
    ids=["json-header-not-json", "text-header-not-utf8", "nested-5000-no-header", "header-not-utf8"],
)
async def test_a_poison_record_between_good_ones_on_one_partition(
    connection_settings: ConnectionSettings,
    pool: asyncpg.Pool,
    tenant_id: UUID,
    headers: Headers,
    value: bytes,
    reason: str,
) -> None:
    settings = fresh_settings(connection_settings, partitions=1)
    async with running_consumer(settings, pool):
        sent = await send_raw(
            settings,
            [good(tenant_id, "L1", JSON), (message_key(tenant_id, "L1"), value, headers), good(tenant_id, "L2", JSON)],
        )
        stored = await eventually(
            lambda: pool.fetch("SELECT order_no FROM orders WHERE tenant_id = $1 ORDER BY 1", tenant_id),
            lambda rows: len(rows) == 2,
        )
        assert [r["order_no"] for r in stored] == ["L1", "L2"]
        offsets = await eventually(lambda: committed(settings), lambda c: c == ends(sent))
    assert offsets == {0: 3}
    (letter,) = await dead_letters(settings)
    assert letter.headers["x-reason-code"].decode() == reason
    assert int(letter.headers["x-original-offset"]) == sent[1].offset and letter.value == value


async def test_a_record_without_a_key_is_refused_with_its_own_reason(
    connection_settings: ConnectionSettings, pool: asyncpg.Pool, tenant_id: UUID
) -> None:
    settings = fresh_settings(connection_settings, partitions=1)
    _, keyless, _ = good(tenant_id, "NK1")
    async with running_consumer(settings, pool):
        sent = await send_raw(settings, [(None, keyless, []), good(tenant_id, "NK2")])
        await eventually(lambda: committed(settings), lambda c: c == ends(sent))
    (letter,) = await dead_letters(settings)
    assert letter.headers["x-reason-code"].decode() == errors.MISSING_KEY
    assert b"<tenant_id>:<order_no>" in letter.headers["x-reason"]
    stored = await pool.fetch("SELECT order_no FROM orders WHERE tenant_id = $1", tenant_id)
    assert [r["order_no"] for r in stored] == ["NK2"]


async def test_a_record_of_the_largest_size_is_fetched_and_dead_lettered_whole(
    connection_settings: ConnectionSettings, pool: asyncpg.Pool, tenant_id: UUID
) -> None:
    """Finding 5: the consumer's fetch sizes (and the dead-letter producer) take `bounds.MAX_MESSAGE_BYTES` records."""
    settings = fresh_settings(connection_settings, partitions=1)
    head, tail = b'{"padding": "', b'"}'
    big = head + b"x" * (bounds.MAX_MESSAGE_BYTES - 1024 - len(head) - len(tail)) + tail
    async with running_consumer(settings, pool):
        sent = await send_raw(settings, [(message_key(tenant_id, "BIG"), big, []), good(tenant_id, "AFTER-BIG")])
        await eventually(lambda: committed(settings), lambda c: c == ends(sent), within=60)
    (letter,) = await dead_letters(settings)
    assert letter.headers["x-reason-code"].decode() == errors.CONTRACT_VIOLATION and letter.value == big
    assert await pool.fetchval("SELECT count(*) FROM orders WHERE tenant_id = $1", tenant_id) == 1


async def test_a_record_in_another_encoding_than_utf8_is_refused_naming_it(
    connection_settings: ConnectionSettings, pool: asyncpg.Pool, tenant_id: UUID
) -> None:
    settings = fresh_settings(connection_settings, partitions=1)
    key, value, _ = good(tenant_id, "E1")
    bom, wide = b"\xef\xbb\xbf" + value, value.decode().encode("utf-16-le")
    async with running_consumer(settings, pool):
        sent = await send_raw(settings, [(key, bom, JSON), (key, wide, JSON), good(tenant_id, "E2", JSON)])
        await eventually(lambda: committed(settings), lambda c: c == ends(sent))
    letters = await dead_letters(settings)
    expected = b": JSON must be UTF-8, without a byte-order mark"
    assert [(d.headers["x-reason-code"], d.headers["x-reason"]) for d in letters] == [
        (b"invalid_encoding", b"the value is UTF-8 with a byte-order mark" + expected),
        (b"invalid_encoding", b"the value is UTF-16 (little-endian)" + expected),
    ]
    assert await pool.fetchval("SELECT count(*) FROM orders WHERE tenant_id = $1", tenant_id) == 1


async def test_a_corrected_buyer_sent_on_kafka_moves_its_order_and_both_customers_are_published(
    connection_settings: ConnectionSettings, pool: asyncpg.Pool, tenant_id: UUID
) -> None:
    """docs/merging.md rule 7 end to end: the consumer, its fold and the outbox (customers.updated.v1 rows)."""
    settings = fresh_settings(connection_settings, partitions=1)
    first = message(tenant_id, "MV-1", buyer={"mobile": "13800000001"})
    fixed = message(tenant_id, "MV-1", buyer={"mobile": "13900000002"})
    key = message_key(tenant_id, "MV-1")

    async def customers() -> list[asyncpg.Record]:
        return list(
            await pool.fetch(
                "SELECT mobile, (persona->>'order_count')::int AS orders, revision FROM customers"
                " WHERE tenant_id = $1 ORDER BY mobile",
                tenant_id,
            )
        )

    async with running_consumer(settings, pool):
        await send_raw(settings, [(key, first.model_dump_json().encode(), JSON)])
        await eventually(customers, lambda rows: [r["orders"] for r in rows] == [1])
        await send_raw(settings, [(key, fixed.model_dump_json().encode(), JSON)])
        rows = await eventually(customers, lambda rows: [r["orders"] for r in rows] == [0, 1])
    assert [(r["mobile"], r["orders"], r["revision"]) for r in rows] == [("13800000001", 0, 2), ("13900000002", 1, 1)]
    events = await pool.fetch(
        "SELECT key, event_id FROM outbox WHERE tenant_id = $1 AND topic = 'customers.updated.v1' ORDER BY id",
        tenant_id,
    )
    assert len(events) == 3 and len({e["event_id"] for e in events}) == 3  # created, then both customers' change
