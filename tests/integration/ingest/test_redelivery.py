"""The redelivery pre-filter against the real PostgreSQL (issue 15): a batch delivered again is `unchanged`, counted
by its import as before, and writes nothing (no row version moves); its claims and erasure are still checked; a
history of batches mixing changed and redelivered records leaves what full planning leaves."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from services.ingest import errors
from services.ingest.adapters import erasure_store
from services.ingest.adapters.tenants import create_tenant
from services.ingest.application import ingestion
from services.ingest.application.ingestion import BatchResult, IngestOptions, Received, ingest_batch
from services.ingest.contracts.orders_ingest_v1 import OrderIngestV1
from services.ingest.domain.erasure import identifier_digest
from tests.integration.ingest.conftest import RecordingEmitter
from tests.support.orders import line, message, received
from tools.verification.workload import order_message, record_job

# Every table a batch can write; a redelivery must leave each row's version (xmin) where it was.
WRITTEN = ("orders", "order_lines", "customers", "stores", "products", "order_status_history", "import_orders")


async def _ingest(pool: asyncpg.Pool, records: Sequence[Received], emit: RecordingEmitter) -> BatchResult:
    async with pool.acquire() as conn:
        return await ingest_batch(conn, records, emit, IngestOptions())


async def _versions(pool: asyncpg.Pool, tenant: UUID) -> dict[str, list[Any]]:
    versions = {
        table: await pool.fetch(f"SELECT xmin::text AS v FROM {table} WHERE tenant_id = $1 ORDER BY 1", tenant)
        for table in WRITTEN
    }
    versions["imports"] = await pool.fetch("SELECT xmin::text, * FROM imports WHERE tenant_id = $1", tenant)
    versions["outbox"] = await pool.fetch("SELECT id FROM outbox WHERE tenant_id = $1 ORDER BY id", tenant)
    versions["deltas"] = await pool.fetch("SELECT count(*) FROM persona_deltas WHERE tenant_id = $1", tenant)
    return versions


async def test_a_batch_delivered_again_is_unchanged_counted_and_writes_nothing(
    pool: asyncpg.Pool, emitter: RecordingEmitter, tenant_id: UUID
) -> None:
    import_id = uuid.uuid4()
    orders = [order_message(tenant_id, import_id, i, 3) for i in range(6)]
    async with pool.acquire() as conn:
        await record_job(conn, tenant_id, import_id, [o.order_no for o in orders])
    first = await _ingest(pool, received(*orders), emitter)
    assert {o.outcome for o in first.outcomes} == {"created"}
    before, events = await _versions(pool, tenant_id), len(emitter.changes)

    again = await _ingest(pool, received(*orders), emitter)
    assert [(o.ref, o.outcome) for o in again.outcomes] == [(n, "unchanged") for n in range(6)]
    assert [o.customer_id for o in again.outcomes] == [o.customer_id for o in first.outcomes]
    assert [o.matched_by for o in again.outcomes] == ["mobile"] * 3 + ["mobile"] * 3
    assert again.rounds == 0 and not again.rejected and not again.touched and again.events == 0
    assert len(emitter.changes) == events
    assert await _versions(pool, tenant_id) == before  # the import's counters did not move either


async def test_a_redelivery_still_has_its_claims_and_erasure_checked(
    pool: asyncpg.Pool, emitter: RecordingEmitter, tenant_id: UUID
) -> None:
    erased = message(tenant_id, "E1", buyer={"mobile": "13912340001"})
    foreign = message(tenant_id, "F1", import_id=uuid.uuid4(), buyer={"mobile": "13912340002"})
    fine = message(tenant_id, "K1", buyer={"mobile": "13912340003"})
    assert {o.outcome for o in (await _ingest(pool, received(erased, fine), emitter)).outcomes} == {"created"}
    async with pool.acquire() as conn:
        # the mobile was erased since (as if from another customer: its orders' digests stay), and F1 was stored
        # by a record naming an import the tenant does not have (as if that import were gone)
        gone = identifier_digest(tenant_id, "mobile", "13912340001")
        await erasure_store.remember(conn, tenant_id, [("mobile", gone)])
        await _ingest(pool, received(foreign.model_copy(update={"import_id": None})), emitter)
        (f1,) = received(foreign)
        digest = ingestion.message_digest(f1.value or b"", IngestOptions().placeholder_mobiles)
        await conn.execute("UPDATE orders SET digest = $2 WHERE tenant_id = $1 AND order_no = 'F1'", tenant_id, digest)
    result = await _ingest(pool, received(erased, foreign, fine), emitter)
    assert [(r.ref, r.reason) for r in result.rejected] == [
        (1, errors.IMPORT_OF_ANOTHER_TENANT),
        (0, errors.ERASED_CUSTOMER),
    ]
    assert [(o.ref, o.outcome) for o in result.outcomes] == [(2, "unchanged")]


@pytest.fixture
def full_planning(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Turn the pre-filter off (nothing is recognised: every record is decoded and planned), on demand."""

    def off() -> None:
        monkeypatch.setattr(ingestion, "split_redelivered", lambda records, *_: ([], list(records)))

    return off


async def _stored(pool: asyncpg.Pool, tenant: UUID) -> list[Any]:
    orders = await pool.fetch(
        "SELECT o.order_no, o.status, o.version, o.total_amount, o.buyer, o.digest, c.mobile, c.unionid, c.nickname"
        " FROM orders o JOIN customers c ON c.tenant_id = o.tenant_id AND c.id = o.customer_id"
        " WHERE o.tenant_id = $1 ORDER BY 1",
        tenant,
    )
    lines = await pool.fetch(
        "SELECT order_no, product_id, sku, quantity FROM order_lines WHERE tenant_id = $1 ORDER BY 1, 2, 3", tenant
    )
    return [*map(dict, orders), *map(dict, lines)]


def _history(tenant: UUID) -> list[list[OrderIngestV1]]:
    a1 = message(tenant, "H1", lines=[line("P1", "SKU-A")], buyer={"mobile": "13911110001"})
    a2 = message(tenant, "H1", status="shipped", lines=[line("P1", "SKU-A", 2)], buyer={"mobile": "13911110001"})
    b1 = message(tenant, "H2", buyer={"mobile": "13911110002", "unionid": "U-H"})
    b2 = message(tenant, "H2", buyer={"unionid": "U-H", "nickname": "Lily"}, remark="again")
    c1 = message(tenant, "H3", buyer={"mobile": "13911110003"})
    return [
        [a1, b1, c1],
        [a1, b1, c1],  # all redelivered
        [a1, a2, a1],  # the stored one, a newer one, the older one after it (stale)
        [b2, b1, c1, c1],  # a change, then the message it replaced, then one redelivered twice
        [a2, b1, c1],
    ]


async def test_a_history_of_batches_leaves_what_full_planning_leaves(
    pool: asyncpg.Pool, emitter: RecordingEmitter, full_planning: Any
) -> None:
    async with pool.acquire() as conn:
        filtered, full = (await create_tenant(conn, "pre-filtered"))[0].id, (await create_tenant(conn, "full"))[0].id
    seen: dict[UUID, list[list[tuple[str, str]]]] = {filtered: [], full: []}
    for tenant in (filtered, full):
        if tenant == full:
            full_planning()
        for batch in _history(tenant):
            result = await _ingest(pool, received(*batch), emitter)
            seen[tenant].append([(str(o.outcome), o.matched_by or "") for o in result.outcomes])
    assert seen[filtered] == seen[full]
    assert seen[filtered][1] == [("unchanged", "mobile")] * 3
    assert seen[filtered][2] == [("unchanged", "mobile"), ("updated", "mobile"), ("stale_status", "")]
    strip = {"digest"}  # equal but for the tenant (digests are of values naming it)
    assert [{k: v for k, v in r.items() if k not in strip} for r in await _stored(pool, filtered)] == [
        {k: v for k, v in r.items() if k not in strip} for r in await _stored(pool, full)
    ]
