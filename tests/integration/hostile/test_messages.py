"""Hostile `orders.ingest.v1` messages: another tenant's import, an unknown tenant, awkward Unicode in every text
field. Each is dead-lettered with a reason (or lands intact); nothing raises, nothing crosses tenants."""

from __future__ import annotations

import itertools
import json
import uuid
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from services.ingest import errors
from services.ingest.adapters.tenants import create_tenant
from services.ingest.application.ingestion import BatchResult, Received, ingest_batch
from services.ingest.contracts.orders_ingest_v1 import message_key
from services.rules_bridge.outbox_writer import emit_events
from tools.verification.workload import order_message, record_job

pytestmark = pytest.mark.integration
_offsets = itertools.count()


async def _ingest(pool: asyncpg.Pool, *values: tuple[bytes, bytes]) -> BatchResult:
    records = [Received(i, "orders.ingest.v1", 0, next(_offsets), k, v) for i, (k, v) in enumerate(values)]
    async with pool.acquire() as conn:
        return await ingest_batch(conn, records, emit_events)


async def _tenants(pool: asyncpg.Pool) -> tuple[UUID, UUID]:
    async with pool.acquire() as conn:
        a, _ = await create_tenant(conn, "victim")
        b, _ = await create_tenant(conn, "intruder")
    return a.id, b.id


def _record(tenant: UUID, body: dict[str, Any]) -> tuple[bytes, bytes]:
    return message_key(tenant, body["order_no"]), json.dumps(body).encode()


async def test_an_import_of_another_tenant_is_dead_lettered_and_the_owner_is_untouched(pool: asyncpg.Pool) -> None:
    a, b = await _tenants(pool)
    import_a = uuid.uuid4()
    async with pool.acquire() as conn:
        await record_job(conn, a, import_a, ["V000001"])
        before = dict(await conn.fetchrow("SELECT * FROM imports WHERE id = $1", import_a))
    intruding = order_message(b, import_a, 1, 1).model_dump(mode="json")
    unknown = order_message(uuid.uuid4(), None, 2, 1).model_dump(mode="json")
    result = await _ingest(pool, _record(b, intruding), _record(UUID(unknown["tenant_id"]), unknown))
    assert sorted(r.reason for r in result.rejected) == [errors.IMPORT_OF_ANOTHER_TENANT, errors.UNKNOWN_TENANT]
    async with pool.acquire() as conn:
        after = dict(await conn.fetchrow("SELECT * FROM imports WHERE id = $1", import_a))
        stored = await conn.fetchval("SELECT count(*) FROM orders WHERE tenant_id = ANY($1)", [a, b])
        counted = await conn.fetchval("SELECT count(*) FROM import_orders WHERE import_id = $1", import_a)
    assert after == before and stored == 0 and counted == 0


UNICODE = {
    "emoji": "🛒🎉👩‍👩‍👧",
    "rtl": "\u202egnp.exe\u202c",
    "marks": "a\u200fb\u200ec",
    "bom": "\ufeffx",
    "cjk": "小鹅通 订单",
}


def _with_text(tenant: UUID, order_no: str, text: str, import_id: UUID | None = None) -> dict[str, Any]:
    body = order_message(tenant, import_id, 7, 1).model_dump(mode="json") | {"order_no": order_no, "remark": text}
    body["store"] |= {"name": text}
    body["buyer"] |= {"nickname": text}
    body["receiver"] = {"name": text, "address": text}
    body["lines"][0] |= {"product_name": text}
    return body


async def test_unicode_in_every_text_field_of_a_message_lands_intact(pool: asyncpg.Pool) -> None:
    a, _ = await _tenants(pool)
    result = await _ingest(pool, *[_record(a, _with_text(a, f"U-{name}", text)) for name, text in UNICODE.items()])
    assert not result.rejected
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT order_no, remark, store->>'name' AS store FROM orders WHERE tenant_id = $1", a)
    assert {r["order_no"]: (r["remark"], r["store"]) for r in rows} == {
        f"U-{name}": (text.strip(), text.strip()) for name, text in UNICODE.items()
    }


async def test_nul_and_lone_surrogates_are_dead_lettered_and_counted_by_their_import(pool: asyncpg.Pool) -> None:
    a, _ = await _tenants(pool)
    import_id = uuid.uuid4()
    async with pool.acquire() as conn:
        await record_job(conn, a, import_id, ["N-1", "S-1", "F-1"])
    nul = _record(a, _with_text(a, "N-1", "nul\x00byte", import_id))
    key, value = _record(a, _with_text(a, "S-1", "SURROGATE", import_id))
    surrogate = (key, value.replace(b"SURROGATE", b"\\ud800 lone"))
    fine = _record(a, _with_text(a, "F-1", "fine", import_id))
    result = await _ingest(pool, nul, surrogate, fine)
    assert sorted(r.reason for r in result.rejected) == [errors.CONTRACT_VIOLATION] * 2
    assert [o.order_no for o in result.outcomes] == ["F-1"]
    async with pool.acquire() as conn:
        job = await conn.fetchrow("SELECT * FROM imports WHERE tenant_id = $1 AND id = $2", a, import_id)
    assert (job["orders_processed"], job["dead_lettered"], job["state"]) == (1, 2, "completed_with_errors")


async def test_a_lone_surrogate_in_the_order_no_itself_is_dead_lettered_and_the_batch_goes_on(
    pool: asyncpg.Pool,
) -> None:
    """The order no. is what a rejection reports and what the import counts by: one that is no text (a lone
    surrogate escape) must not fail the batch when the rejection is recorded."""
    a, _ = await _tenants(pool)
    import_id = uuid.uuid4()
    async with pool.acquire() as conn:
        await record_job(conn, a, import_id, ["L-1", "F-2"])
    key, value = _record(a, _with_text(a, "L-1", "fine", import_id))
    lone = (key, value.replace(b'"L-1"', b'"L-\\ud800"'))
    fine = _record(a, _with_text(a, "F-2", "fine", import_id))
    result = await _ingest(pool, lone, fine)
    assert [r.reason for r in result.rejected] == [errors.CONTRACT_VIOLATION]
    assert [o.order_no for o in result.outcomes] == ["F-2"]
    async with pool.acquire() as conn:
        job = await conn.fetchrow("SELECT * FROM imports WHERE tenant_id = $1 AND id = $2", a, import_id)
    # "L-\ud800" is none of its orders: counted by no import (L-1 stays expected), and the batch is not failed
    assert (job["orders_processed"], job["dead_lettered"]) == (1, 0)


async def test_records_naming_an_import_count_only_for_the_orders_it_published(pool: asyncpg.Pool) -> None:
    """Finding 9: a producer of the tenant naming one of its imports cannot inflate that import's counters."""
    a, _ = await _tenants(pool)
    import_id = uuid.uuid4()
    async with pool.acquire() as conn:
        await record_job(conn, a, import_id, ["V000001"])
    expected = _record(a, order_message(a, import_id, 1, 1).model_dump(mode="json"))
    strangers = [_record(a, order_message(a, import_id, i, 1).model_dump(mode="json")) for i in (2, 3, 4)]
    first = await _ingest(pool, expected, *strangers)
    again = await _ingest(pool, expected, *strangers)
    assert len(first.outcomes) == 4 and not first.rejected and not again.rejected
    async with pool.acquire() as conn:
        job = await conn.fetchrow("SELECT * FROM imports WHERE tenant_id = $1 AND id = $2", a, import_id)
        counted = await conn.fetchval("SELECT count(*) FROM import_orders WHERE import_id = $1", import_id)
    assert (job["orders_processed"], job["created"], job["unchanged"], counted) == (1, 1, 0, 1)
    assert job["state"] == "completed"


async def test_values_that_cannot_be_stored_are_contract_violations_the_import_explains(pool: asyncpg.Pool) -> None:
    """Finding 6 (Kafka): year 0001, an overflowing computed total and a BEL are refused up front with a message for
    the end user (never a processing_error carrying driver text), and the import counts them."""
    a, _ = await _tenants(pool)
    import_id = uuid.uuid4()
    async with pool.acquire() as conn:
        await record_job(conn, a, import_id, ["T-1", "T-2", "T-3", "T-OK"])
    old = _with_text(a, "T-1", "fine", import_id) | {"order_time": "0001-01-01T00:00:00Z"}
    huge = _with_text(a, "T-2", "fine", import_id)
    huge["lines"][0] |= {"quantity": 1_000_000, "unit_price": "999999999999.99"}
    bell = _with_text(a, "T-3", "ring\x07", import_id)
    result = await _ingest(pool, *[_record(a, b) for b in (old, huge, bell, _with_text(a, "T-OK", "ok", import_id))])
    assert sorted((r.order_no, r.reason) for r in result.rejected) == [
        ("T-1", errors.CONTRACT_VIOLATION),
        ("T-2", errors.CONTRACT_VIOLATION),
        ("T-3", errors.CONTRACT_VIOLATION),
    ]
    async with pool.acquire() as conn:
        details = await conn.fetch(
            "SELECT order_no, detail FROM import_orders WHERE import_id = $1 AND outcome = 'dead_lettered'", import_id
        )
        job = await conn.fetchrow("SELECT * FROM imports WHERE tenant_id = $1 AND id = $2", a, import_id)
    text = {r["order_no"]: r["detail"] for r in details}
    assert "between 2000-01-01 and 2099-12-31" in text["T-1"] and "999999999999.99" in text["T-2"]
    assert "U+0007" in text["T-3"]
    assert not any(word in t for t in text.values() for word in ("asyncpg", "DataError", "Traceback", "Error:"))
    assert (job["orders_processed"], job["dead_lettered"], job["state"]) == (1, 3, "completed_with_errors")
