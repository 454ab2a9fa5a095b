"""The redelivery pre-filter (`domain.redelivery`) against full planning, differentially: a batch redelivered whole
after its buyers' customers changed (identifiers added by other orders, a customer erased, the placeholder
mobiles changed) is answered exactly as full planning answers it (outcomes, customers, matches, refusals, events,
import counters). Seeded: ORDERINFO_PREFILTER_SEED replays one seed (each is printed)."""

from __future__ import annotations

import os
import random
import uuid
from dataclasses import replace
from typing import Any

import asyncpg
import pytest

from services.ingest.application import erasure, ingestion
from services.ingest.application.ingestion import BatchResult, IngestOptions, Received, ingest_batch
from services.rules_bridge.outbox_writer import emit_events
from tests.integration.query.conftest import new_tenant
from tests.support.orders import message, received
from tools.verification.workload import record_job

pytestmark = pytest.mark.integration

IDS = {
    "sobot_customer_id": ["S1", "S2", "S3"],
    "mobile": ["13912345671", "13912345672", "13912345673", "13800000000"],
    "unionid": ["U1", "U2"],
    "nickname": ["N1", "N2", " "],
}


def _buyer(rng: random.Random) -> dict[str, Any]:
    buyer = {kind: rng.choice(values) for kind, values in IDS.items() if rng.random() < 0.5}
    if not any(v.strip() and v != "13800000000" for v in buyer.values()):
        buyer["mobile"] = rng.choice(IDS["mobile"][:3])
    return buyer


def _seeds() -> list[int]:
    given = os.environ.get("ORDERINFO_PREFILTER_SEED")
    return [int(given)] if given else list(range(40))


async def _noop_tombstone(conn: Any, tenant_id: uuid.UUID, customer_id: uuid.UUID) -> None:
    return None


def _answer(result: BatchResult) -> tuple[Any, ...]:
    outcomes = [(o.ref, o.order_no, o.outcome, o.customer_id, o.matched_by) for o in result.outcomes]
    touched = sorted(map(str, result.touched))
    return outcomes, sorted((r.ref, r.reason) for r in result.rejected), result.events, touched


async def _counters(conn: asyncpg.Connection, import_id: uuid.UUID) -> tuple[Any, ...]:
    job = await conn.fetchrow("SELECT * FROM imports WHERE id = $1", import_id)
    rows = await conn.fetch("SELECT order_no, outcome FROM import_orders WHERE import_id = $1 ORDER BY 1", import_id)
    return dict(job), [tuple(r) for r in rows]


async def _redeliver(
    pool: asyncpg.Pool, records: list[Received], options: IngestOptions, import_id: uuid.UUID
) -> tuple[Any, ...]:
    async with pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        try:
            result = await ingest_batch(conn, records, emit_events, replace(options, fold_personas=False))
            return _answer(result), await _counters(conn, import_id)
        finally:
            await tx.rollback()


@pytest.mark.parametrize("seed", _seeds())
async def test_a_whole_redelivery_is_answered_as_full_planning_answers_it(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    print(f"seed {seed} (ORDERINFO_PREFILTER_SEED={seed} replays it)")
    rng = random.Random(seed)
    tenant, _ = await new_tenant(pool, "prefilter-diff")
    import_id = uuid.uuid4()
    order_nos = [f"PF-{n}" for n in range(rng.randrange(3, 9))]
    async with pool.acquire() as conn:
        await record_job(conn, tenant, import_id, order_nos)
    first = [message(tenant, no, buyer=_buyer(rng), import_id=import_id, remark=f"r{seed}") for no in order_nos]
    batch = received(*first)
    async with pool.acquire() as conn:
        await ingest_batch(conn, batch, emit_events)
    change = rng.choice(["none", "others", "erase", "placeholders"])
    options = IngestOptions()
    if change == "others":  # other orders add identifiers to (or conflict with) the same customers
        others = [message(tenant, f"PO-{n}", buyer=_buyer(rng)) for n in range(rng.randrange(1, 6))]
        async with pool.acquire() as conn:
            await ingest_batch(conn, received(*others), emit_events)
    elif change == "erase":
        async with pool.acquire() as conn:
            customers = [r["id"] for r in await conn.fetch("SELECT id FROM customers WHERE tenant_id = $1", tenant)]
            await erasure._erase(conn, tenant, rng.choice(customers), "prefilter-test", _noop_tombstone)
    elif change == "placeholders":
        options = IngestOptions(placeholder_mobiles=frozenset({rng.choice(IDS["mobile"])}))
    print(f"change: {change}")

    recognise, recognised = ingestion.recognise, []

    def spied(*args: Any) -> Any:
        found = recognise(*args)
        recognised.append(len(found[0]))
        return found

    monkeypatch.setattr(ingestion, "recognise", spied)
    redeliveries = [batch, *([r] for r in batch)]  # whole, and record by record (each its own batch)
    prefiltered = [await _redeliver(pool, records, options, import_id) for records in redeliveries]
    print(f"recognised: {recognised} (whole batch, then each record alone)")
    monkeypatch.setattr(ingestion, "recognise", recognise)
    monkeypatch.setattr(ingestion, "candidates", lambda records, placeholders: {})  # every record planned in full
    planned = [await _redeliver(pool, records, options, import_id) for records in redeliveries]
    assert prefiltered == planned, (seed, change)
