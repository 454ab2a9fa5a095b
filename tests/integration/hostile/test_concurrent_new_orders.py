"""Two group members inserting the same new orders at once (issue 15, new orders INSERTed since 04adb48): the push
API or a raw producer can key one order to two partitions, and a rebalance hands a partition's records to a second
member while the first still applies them. Each member applies its own batch (the same orders, in another order,
some records of one order twice, buyers sharing identifiers): the loser of each insert plans its round again over
the committed order. Converges to one order per order no. with its lines, version 1, one creation event each, no
batch split and no dead letter. Random: prints its seed; ORDERINFO_NEW_ORDERS_SEED replays one."""

from __future__ import annotations

import asyncio
import os
import random
from collections import Counter
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from services.ingest.adapters import order_store
from services.ingest.application.ingestion import IngestOptions
from services.ingest.contracts.orders_ingest_v1 import OrderIngestV1
from services.ingest.entrypoints.consumer import BatchIngestor
from tests.integration.ingest.conftest import RecordingEmitter
from tests.integration.ingest.test_persona_stage import assert_exact
from tests.integration.query.conftest import new_tenant
from tests.support.orders import line, message, received
from tools.verification.workload import prepare


def _seeds() -> list[int]:
    given = os.environ.get("ORDERINFO_NEW_ORDERS_SEED")
    return [int(given)] if given else [1, 2, 3]


def _orders(rng: random.Random, tenant: UUID, n: int) -> list[OrderIngestV1]:
    mobiles = [f"1390000{i:04d}" for i in range(max(2, n // 4))]
    made = []
    for i in range(n):
        lines = [line(f"P{p}", quantity=rng.randint(1, 4)) for p in rng.sample(range(6), rng.randint(1, 3))]
        made.append(message(tenant, f"CN-{i}", buyer={"mobile": rng.choice(mobiles)}, lines=lines))
    return made


def _both_load_first(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Each member's first round loads its stored orders before either writes: both plan the orders as new (what
    two members fetching the same records at once do, with unlucky timing). Returns the rounds' sizes."""
    real = order_store.load_stored
    barrier, rounds = asyncio.Barrier(2), []

    async def load_stored(conn: Any, keys: Any) -> Any:
        stored = await real(conn, keys)
        rounds.append(len(keys))
        if len(rounds) <= 2:
            await asyncio.wait_for(barrier.wait(), 20)
        return stored

    monkeypatch.setattr(order_store, "load_stored", load_stored)
    return rounds


@pytest.mark.parametrize("known_buyers", [False, True])
@pytest.mark.parametrize("seed", _seeds())
async def test_two_members_inserting_the_same_new_orders_converge(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch, seed: int, known_buyers: bool
) -> None:
    print(f"seed {seed} (ORDERINFO_NEW_ORDERS_SEED={seed} replays it)")
    rng = random.Random(seed)
    tenant, _ = await new_tenant(pool, f"concurrent-new-{seed}")
    orders = _orders(rng, tenant, 40)
    if known_buyers:  # only the orders are new: the race is on orders_pkey, not on the customers' indexes
        buyers = {o.buyer.mobile for o in orders}
        await BatchIngestor(pool, RecordingEmitter(), IngestOptions()).apply(
            received(*(message(tenant, f"KB-{m}", buyer={"mobile": m}) for m in sorted(buyers)))
        )
    emitter = RecordingEmitter()
    members = [BatchIngestor(pool, emitter, IngestOptions()) for _ in range(2)]
    batches = [received(*rng.sample(orders, len(orders))) for _ in members]
    rounds = _both_load_first(monkeypatch)
    results = await asyncio.gather(*(m.apply(b) for m, b in zip(members, batches, strict=True)))
    print("rounds", rounds, "retries", [m.transient_retries for m in members])
    assert len(rounds) > 2, "no member planned its round again: the race was not run"
    context = f"(seed {seed})"
    assert [m.splits for m in members] == [0, 0], f"a batch failed {context}"
    assert all(not r.rejected for r in results), f"dead letters {context}"
    created = Counter(c.after.order_no for c in emitter.changes if c.before_status is None)
    assert created == Counter({f"CN-{i}": 1 for i in range(len(orders))}), context
    assert not [c for c in emitter.changes if c.before_status is not None], f"an update event {context}"
    query = "SELECT order_no, version FROM orders WHERE tenant_id = $1 AND order_no LIKE 'CN-%'"
    rows = await pool.fetch(query, tenant)
    assert sorted((r["order_no"], r["version"]) for r in rows) == sorted((f"CN-{i}", 1) for i in range(len(orders)))
    for o in orders:
        stored = await pool.fetch(
            "SELECT product_id, quantity FROM order_lines WHERE tenant_id = $1 AND order_no = $2", tenant, o.order_no
        )
        assert sorted((r["product_id"], r["quantity"]) for r in stored) == sorted(
            (li.product_id, li.quantity) for li in o.lines
        ), f"{o.order_no} {context}"
    await assert_exact(pool, tenant, context)


@pytest.mark.parametrize("new_line", [False, True])
@pytest.mark.parametrize("seed", _seeds())
async def test_a_member_with_a_later_record_of_a_new_order_converges_on_it(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch, seed: int, new_line: bool
) -> None:
    """A rebalance: one member holds the first record of each new order, the other the first and a later one (its
    partition read further), which may add a product line. Whichever inserts first, every order ends at its later
    record, with its lines (the loser's round reads the lines of the order it now finds stored): version 2,
    created once and changed once."""
    print(f"seed {seed} (ORDERINFO_NEW_ORDERS_SEED={seed} replays it)")
    rng = random.Random(seed)
    tenant, _ = await new_tenant(pool, f"concurrent-later-{seed}-{new_line}")
    first = _orders(rng, tenant, 20)
    added = [line("P9", quantity=7)] if new_line else []
    shipped = {"status": "shipped", "status_raw": "shipped"}
    later = [
        OrderIngestV1.model_validate({**o.model_dump(), **shipped, "lines": [*o.model_dump()["lines"], *added]})
        for o in first
    ]
    emitter = RecordingEmitter()
    members = [BatchIngestor(pool, emitter, IngestOptions()) for _ in range(2)]
    own = received(*rng.sample(first, len(first)))
    further = received(*first, *later)
    rounds = _both_load_first(monkeypatch)
    pair = [own, further] if rng.random() < 0.5 else [further, own]
    results = await asyncio.gather(*(m.apply(b) for m, b in zip(members, pair, strict=True)))
    print("rounds", rounds, "retries", [m.transient_retries for m in members])
    context = f"(seed {seed})"
    assert len(rounds) > 2, "no member planned its round again: the race was not run"
    assert [m.splits for m in members] == [0, 0], f"a batch failed {context}"
    assert all(not r.rejected for r in results), f"dead letters {context}"
    rows = await pool.fetch("SELECT order_no, version, status FROM orders WHERE tenant_id = $1", tenant)
    assert sorted((r["order_no"], r["version"], r["status"]) for r in rows) == sorted(
        (o.order_no, 2, "shipped") for o in first
    ), context
    created = Counter(c.after.order_no for c in emitter.changes if c.before_status is None)
    changed = Counter(c.after.order_no for c in emitter.changes if c.before_status is not None)
    assert created == changed == Counter({o.order_no: 1 for o in first}), context
    for o in later:
        stored = await pool.fetch(
            "SELECT product_id, quantity FROM order_lines WHERE tenant_id = $1 AND order_no = $2", tenant, o.order_no
        )
        expected = sorted((li.product_id, li.quantity) for li in o.lines)
        assert sorted((r["product_id"], r["quantity"]) for r in stored) == expected, f"{o.order_no} {context}"
    await assert_exact(pool, tenant, context)


async def test_an_order_sent_twice_into_one_batch_counts_as_created_in_its_import(pool: asyncpg.Pool) -> None:
    """The same record of an import on two partitions (a raw producer choosing partitions), both in one batch of a
    member that owns both: the order is created by the first, the second finds it unchanged. The import counts
    the order once, as created (found by test_pipeline_churn: its counters said `unchanged`)."""
    async with pool.acquire() as conn:
        work = await prepare(conn, "sent twice", 3, customers=3, tag="T")
    records = received(*work.orders, work.orders[1])
    result = await BatchIngestor(pool, RecordingEmitter(), IngestOptions()).apply(records)
    assert [str(o.outcome) for o in result.outcomes] == ["created", "created", "created", "unchanged"]
    job = await pool.fetchrow(
        "SELECT orders_processed, created, unchanged FROM imports WHERE tenant_id = $1 AND id = $2",
        work.tenant_id,
        work.import_id,
    )
    assert dict(job) == {"orders_processed": 3, "created": 3, "unchanged": 0}
