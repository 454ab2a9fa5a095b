"""Probes, round 2, of what issue 10 built (consumer live path, relay parking, partial updates, HTTP bounds). Each
test asserts the CORRECT behaviour and is `xfail(strict=True)` until its finding is fixed (then remove the mark).
See /work/helpers/probes2-report.md."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from aiokafka import TopicPartition

from services.core.bounds import MAX_MONEY
from services.core.changes import CustomerSnapshot, OrderChange
from services.ingest import errors
from services.ingest.adapters import import_jobs
from services.ingest.adapters.import_jobs import NewImport
from services.ingest.application.ingestion import IngestOptions, Received, Rejected
from services.ingest.entrypoints.consumer import BatchIngestor, handle_batch
from tests.integration.hostile.conftest import MAX_UPLOAD, Api, upload
from tests.integration.hostile.test_probes import _one_order_csv
from tests.integration.ingest.test_ingest_batch import fetch_order, records
from tests.integration.query.conftest import ingest, new_tenant
from tests.support.orders import line, message

pytestmark = pytest.mark.integration


async def _no_events(conn: Any, changes: Sequence[OrderChange], customers: Sequence[CustomerSnapshot]) -> int:
    return len(changes) + len(customers)


@dataclass(frozen=True)
class RawRecord:
    """What `handle_batch` reads of an aiokafka ConsumerRecord."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...] = ()


class RecordingConsumer:
    def __init__(self) -> None:
        self.committed: dict[TopicPartition, int] = {}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.committed.update(offsets)

    def seek(self, partition: TopicPartition, offset: int) -> None:
        pass

    def highwater(self, partition: TopicPartition) -> int | None:
        return None


async def _handle(pool: asyncpg.Pool, received: Sequence[Received]) -> tuple[RecordingConsumer, list[Rejected]]:
    """One batch through the consumer's real handling (real ingestion, real database), dead letters recorded."""
    dead: list[Rejected] = []

    async def publish(_: Sequence[Received], rejected: Sequence[Rejected]) -> None:
        dead.extend(rejected)

    raw = [RawRecord(r.topic, r.partition, r.offset, r.key, r.value) for r in received]
    offsets = RecordingConsumer()
    ingestor = BatchIngestor(pool, _no_events, IngestOptions(), max_retries=0)
    assert await handle_batch(raw, offsets, publish, ingestor)
    return offsets, dead


async def test_probe2_merged_total_over_the_money_bound_is_rejected_not_a_processing_error(
    pool: asyncpg.Pool,
) -> None:
    tenant, _key = await new_tenant(pool, "probe2")
    half = "600000000000.00"  # each message's total is within MAX_MONEY; the merged order's is not
    first = message(tenant, "MONEY-1", lines=[line("P1", price=half)])
    _, dead = await _handle(pool, records(first))
    assert dead == []
    second = message(tenant, "MONEY-1", lines=[line("P2", price=half)])
    _, dead = await _handle(pool, records(second))
    reasons = [(d.reason, d.message) for d in dead]
    assert all(reason != errors.PROCESSING_ERROR for reason, _ in reasons), reasons
    stored = await fetch_order(pool, tenant, "MONEY-1")
    assert stored["total_amount"] <= MAX_MONEY


async def test_probe2_a_rejected_kafka_order_is_dead_lettered_before_its_offset_is_committed(
    pool: asyncpg.Pool,
) -> None:
    tenant, _key = await new_tenant(pool, "probe2")
    _, dead = await _handle(pool, records(message(tenant, "AMB-K", lines=[line("P1", "RED"), line("P1", "BLUE")])))
    assert dead == []
    ambiguous = records(message(tenant, "AMB-K", lines=[line("P1", quantity=3)]))  # no SKU: which line?
    offsets, dead = await _handle(pool, ambiguous)
    assert offsets.committed == {TopicPartition("orders.ingest.v1", 0): ambiguous[0].offset + 1}
    # The producer (no import to show it) must learn that nothing of its record was applied.
    assert [d.ref for d in dead] == [ambiguous[0].ref], "committed past a record neither applied nor dead-lettered"


async def test_probe2_an_order_moved_to_another_customer_does_not_keep_the_first_buyers_identifiers(
    pool: asyncpg.Pool,
) -> None:
    tenant, _key = await new_tenant(pool, "probe2")
    alice = {"mobile": "13900000001", "unionid": "u-alice", "nickname": "Alice"}
    bob = {"mobile": "13900000002", "unionid": "u-bob"}
    await _handle(pool, records(message(tenant, "BOB-1", buyer=bob)))
    await _handle(pool, records(message(tenant, "MOVE-1", buyer=alice)))
    await _handle(pool, records(message(tenant, "MOVE-1", status="shipped", buyer={"mobile": "13900000002"})))
    moved = await fetch_order(pool, tenant, "MOVE-1")
    bobs = await fetch_order(pool, tenant, "BOB-1")
    assert moved["customer_id"] == bobs["customer_id"]  # the correction resolved to Bob
    buyer = moved["buyer"] if isinstance(moved["buyer"], dict) else json.loads(moved["buyer"])
    assert buyer.get("unionid") != "u-alice" and buyer.get("nickname") != "Alice", buyer


async def test_probe2_one_tenants_uploads_do_not_take_every_other_tenants_slot(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.ingest.entrypoints.http import imports

    real = imports.dry_run
    release = asyncio.Event()

    async def slow_dry_run(pool: Any, request: Any, options: Any) -> Any:
        if request.tenant_id == api.tenant_b:  # the attacker's uploads take long (large files, slow parse)
            await asyncio.wait_for(release.wait(), 20)
        return await real(pool, request, options)

    monkeypatch.setattr(imports, "dry_run", slow_dry_run)
    slots = api.app.state.upload_slots
    held = [
        asyncio.create_task(upload(api, f"b{i}.csv", _one_order_csv(), key=api.key_b, dry_run="true"))
        for i in range(slots.limit)
    ]
    try:  # fixed: B holds its share of the slots, its other uploads are refused (429)
        deadline = time.monotonic() + 10
        while slots.in_flight < slots.limit and sum(t.done() for t in held) < slots.limit - slots.share:
            assert time.monotonic() < deadline, "B never held its slots"
            await asyncio.sleep(0.01)
        victim = await upload(api, "a.csv", _one_order_csv(), dry_run="true")
    finally:
        release.set()
        answers = await asyncio.gather(*held)
    assert victim.status_code == 202, f"tenant A refused while tenant B holds {slots.in_flight} slots: {victim.text}"
    assert sorted(a.status_code for a in answers) == [202] * slots.share + [429] * (slots.limit - slots.share)


async def test_probe2_order_details_tell_a_parked_event_from_a_pending_one(api: Api, pool: asyncpg.Pool) -> None:
    await ingest(pool, message(api.tenant_a, "PARKED-1"))
    parked = await pool.fetch(
        "UPDATE outbox SET failed_at = now(), failure = 'too_large', failure_detail = 'probe2'"
        " WHERE tenant_id = $1 AND key = $2 RETURNING id",
        api.tenant_a,
        f"{api.tenant_a}:PARKED-1",
    )
    assert parked
    response = await api.client.get("/v1/orders/PARKED-1", headers=api.headers())
    assert response.status_code == 200, response.text
    events = response.json()["events"]
    assert events and all(e["sent_at"] is None for e in events)
    # "sent_at: null while pending" is all a reader sees: the relay will never send these, and nothing says so.
    assert all(e.get("failed_at") or e.get("failure") or e.get("parked_at") for e in events), events


async def test_probe2_a_new_quantity_without_line_amount_does_not_keep_the_old_amount(pool: asyncpg.Pool) -> None:
    tenant, _key = await new_tenant(pool, "probe2")
    first = [line("P1", "S1", quantity=1, price="10.00", line_amount=Decimal("10.00"))]
    await _handle(pool, records(message(tenant, "QTY-1", lines=first)))
    await _handle(pool, records(message(tenant, "QTY-1", status="shipped", lines=[line("P1", "S1", 5, "10.00")])))
    stored = await fetch_order(pool, tenant, "QTY-1")
    amount = await pool.fetchval(
        "SELECT line_amount FROM order_lines WHERE tenant_id = $1 AND order_no = 'QTY-1'", tenant
    )
    # 5 x 10.00 is sent; the order says 10.00 (the stored line amount of quantity 1) and so does the customer's spend
    assert (amount, stored["total_amount"]) in ((None, Decimal("50.00")), (Decimal("50.00"), Decimal("50.00")))


async def test_probe2_empty_strings_on_kafka_do_not_erase_stored_values(pool: asyncpg.Pool) -> None:
    tenant, _key = await new_tenant(pool, "probe2")
    buyer = {"mobile": "13900000031", "unionid": "u-carol", "nickname": "Carol"}
    full = message(
        tenant,
        "BLANK-1",
        buyer=buyer,
        remark="gift wrap",
        receiver={"name": "Li Li", "address": "1 Nanjing Rd"},
        store={"store_no": "S1", "name": "Flagship"},
        lines=[line("P1", "S1", product_name="Shirt")],
    )
    await _handle(pool, records(full))
    blanks = message(
        tenant,
        "BLANK-1",
        status="shipped",
        buyer={"mobile": "13900000031", "unionid": "", "nickname": ""},
        remark="",
        receiver={"name": "", "address": ""},
        store={"store_no": "S1", "name": ""},
        lines=[line("P1", "S1", product_name="")],
    )
    await _handle(pool, records(blanks))
    stored = await fetch_order(pool, tenant, "BLANK-1")
    docs = ("buyer", "receiver", "store")
    as_dict = {k: json.loads(v) if k in docs and isinstance(v, str) else v for k, v in stored.items()}
    name = await pool.fetchval(
        "SELECT product_name FROM order_lines WHERE tenant_id = $1 AND order_no = 'BLANK-1'", tenant
    )
    kept = (
        as_dict["remark"],
        as_dict["buyer"].get("unionid"),
        as_dict["buyer"].get("nickname"),
        as_dict["receiver"].get("name"),
        as_dict["store"].get("name"),
        name,
    )
    assert kept == ("gift wrap", "u-carol", "Carol", "Li Li", "Flagship", "Shirt"), kept


async def test_probe2_a_stray_record_naming_an_imports_order_does_not_decide_its_outcome(pool: asyncpg.Pool) -> None:
    tenant, _key = await new_tenant(pool, "probe2")
    import_id = uuid.uuid4()
    async with pool.acquire() as conn:
        job = NewImport(tenant, import_id, "one.xlsx", "partial", "UTC", 1, 1, 0, 1, 0, [], [])
        await import_jobs.record_import(conn, job, import_jobs.queued_rows(["STRAY-1"]))
    real = message(tenant, "STRAY-1", import_id=import_id)
    stray = json.loads(real.model_dump_json()) | {"lines": []}  # e.g. a mall integration's broken copy, sent first
    broken = records(json.dumps(stray).encode())
    _offsets, dead = await _handle(pool, [replace(broken[0], key=records(real)[0].key)])
    assert [d.reason for d in dead] == [errors.CONTRACT_VIOLATION]
    await _handle(pool, records(real))
    assert (await fetch_order(pool, tenant, "STRAY-1"))["status"] == "paid"  # the import's order is stored
    counts = await pool.fetchrow("SELECT created, dead_lettered FROM imports WHERE id = $1", import_id)
    assert dict(counts) == {"created": 1, "dead_lettered": 0}, "the import says its stored order was dead-lettered"


async def test_probe2_an_upload_without_a_valid_key_is_refused_before_its_body_is_read(api: Api) -> None:
    boundary = "probe2boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode()
    chunk, chunks = b"x" * 16 * 1024, (MAX_UPLOAD - 1024) // (16 * 1024)
    sent = []

    async def body() -> Any:
        yield head
        for _ in range(chunks):
            sent.append(len(chunk))
            yield chunk
        yield f"\r\n--{boundary}--\r\n".encode()

    response = await api.client.post(
        "/v1/imports",
        content=body(),
        headers={"X-API-Key": "oik_not-a-key", "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 401, response.text
    # Every anonymous request may make the server receive and spool a whole upload before it says 401.
    assert sum(sent) < MAX_UPLOAD // 2, f"{sum(sent)} bytes of an anonymous upload read before the 401"


async def test_probe2_a_line_stored_without_sku_resent_with_its_sku_is_updated_not_doubled(pool: asyncpg.Pool) -> None:
    tenant, _key = await new_tenant(pool, "probe2")
    await _handle(pool, records(message(tenant, "SKU-1", lines=[line("P1", "", 2, "10.00")])))
    await _handle(pool, records(message(tenant, "SKU-1", status="shipped", lines=[line("P1", "RED", 2, "10.00")])))
    lines = await pool.fetch("SELECT sku FROM order_lines WHERE tenant_id = $1 AND order_no = 'SKU-1'", tenant)
    stored = await fetch_order(pool, tenant, "SKU-1")
    # The mirror of merging.md rule 3 (a no-SKU line updates the one line of its product): one P1 line, total 20.00
    assert (len(lines), stored["total_amount"]) == (1, Decimal("20.00")), ([r["sku"] for r in lines], stored)
