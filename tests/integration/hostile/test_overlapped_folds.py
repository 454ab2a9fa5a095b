"""Overlapped persona folds (`ORDERINFO_CONSUMER_OVERLAP_FOLDS`) under attack: two consumer processes (an ingestor
and a pool each), two members apiece sharing their process's ingestor, batches of orders of the same few buyers
(new orders, status moves, buyers moving; some batches delivered twice), and one process's folds dying mid-fold
(their transaction rolled back, as when the process is killed: the persona stage folds what they left). At the
end every persona equals its recomputation from the orders, and each customer's `customers.updated.v1` events end
with its stored persona, none repeating the one before (an event doubled). Seed printed; replay one with
ORDERINFO_FOLDS_SEED."""

from __future__ import annotations

import asyncio
import itertools
import os
import random
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import orjson
import pytest

from services.core.changes import CustomerSnapshot, OrderChange
from services.ingest.application.ingestion import IngestOptions
from services.ingest.application.personas import FoldResult, fold_personas
from services.ingest.domain.persona import LifecycleThresholds
from services.ingest.entrypoints.consumer import BatchIngestor
from services.platform.database import create_pool
from services.rules_bridge.outbox_writer import emit_events
from tests.integration.ingest.test_persona_stage import MOBILES, STATUSES, assert_exact
from tests.integration.query.conftest import new_tenant
from tests.support.orders import line, message, received

NOW = datetime(2026, 12, 1, tzinfo=UTC)
OPTIONS = IngestOptions(clock=lambda: NOW)


def _seeds() -> list[int]:
    given = os.environ.get("ORDERINFO_FOLDS_SEED")
    return [int(given)] if given else [11, 12]


def _dying_fold(rng: random.Random, deaths: list[int]) -> Any:
    """A fold that dies mid-way one time in three: after computing the personas, while emitting their events."""

    async def fold(conn: Any, emit: Any, now: datetime, thresholds: LifecycleThresholds, keys: Any) -> FoldResult:
        async def dying(c: Any, changes: Sequence[OrderChange], customers: Sequence[CustomerSnapshot]) -> int:
            if rng.random() < 0.33:
                deaths.append(len(customers))
                raise RuntimeError("killed mid-fold")
            return await emit(c, changes, customers)

        return await fold_personas(conn, dying, now, thresholds, keys)

    return fold


def _batches(rng: random.Random, tenant: UUID, member: int) -> list[list[Any]]:
    """A member's batches: its own orders (one partition's), new ones and updates of earlier ones."""
    batches, statuses = [], {}
    for _ in range(8):
        batch = []
        for _ in range(rng.randrange(3, 12)):
            order_no = f"M{member}-{rng.randrange(12)}"
            status = STATUSES.index(statuses.get(order_no, "other"))
            statuses[order_no] = STATUSES[min(len(STATUSES) - 1, status + rng.randrange(0, 2))]
            m = message(
                tenant,
                order_no,
                status=statuses[order_no],
                buyer={"mobile": rng.choice(MOBILES)},
                lines=[line("P1", quantity=rng.randrange(1, 4)), line(rng.choice(["P2", "P3"]))],
            )
            batch.append(m)
        batches.append(batch)
    return batches


async def _customer_events(pool: asyncpg.Pool, tenant: UUID) -> dict[str, list[tuple[str, Any]]]:
    rows = await pool.fetch(
        "SELECT key, event_id, payload::text AS payload FROM outbox WHERE tenant_id = $1 AND event_type = $2 "
        "ORDER BY id",
        tenant,
        "customer.updated",
    )
    events: dict[str, list[tuple[str, Any]]] = {}
    for r in rows:
        events.setdefault(r["key"], []).append((r["event_id"], orjson.loads(r["payload"])))
    return events


@pytest.mark.parametrize("seed", _seeds())
async def test_overlapped_folds_of_two_processes_with_deaths_leave_personas_and_events_exact(
    pool: asyncpg.Pool, database_url: str, seed: int
) -> None:
    print(f"seed {seed} (ORDERINFO_FOLDS_SEED={seed} replays it)")
    rng = random.Random(seed)
    tenant, _ = await new_tenant(pool, "overlapped folds")
    second_pool = await create_pool(database_url, max_size=4)
    deaths: list[int] = []
    try:
        healthy = BatchIngestor(pool, emit_events, OPTIONS, max_retries=5, overlap_folds=True)
        dying = BatchIngestor(
            second_pool, emit_events, OPTIONS, max_retries=5, overlap_folds=True, fold=_dying_fold(rng, deaths)
        )

        async def member(ingestor: BatchIngestor, number: int) -> None:
            own = random.Random(seed * 10 + number)
            for batch in _batches(own, tenant, number):
                records = [replace(r, logged=True) for r in received(*batch)]
                result = await ingestor.apply(records)
                assert not result.rejected and not result.dead_letters()
                if own.random() < 0.3:  # its offsets not committed: delivered again, after its fold or beside it
                    again = await ingestor.apply(records)
                    assert {o.outcome for o in again.outcomes} == {"unchanged"}

        await asyncio.gather(member(healthy, 0), member(healthy, 1), member(dying, 2), member(dying, 3))
        await healthy.drain(), await dying.drain()
    finally:
        await second_pool.close()
    assert deaths, "no fold died: raise the odds"
    while True:  # the persona stage folds what the dead folds left
        async with pool.acquire() as conn:
            if not (await fold_personas(conn, emit_events, NOW, LifecycleThresholds())).customers:
                break
    await assert_exact(pool, tenant, f"(seed {seed})")
    assert not await pool.fetchval("SELECT count(*) FROM persona_deltas WHERE tenant_id = $1", tenant)

    events = await _customer_events(pool, tenant)
    customers = await pool.fetch("SELECT id, persona FROM customers WHERE tenant_id = $1", tenant)
    assert len(events) == len(customers) > 0
    for customer in customers:
        (sequence,) = [e for key, e in events.items() if key.endswith(str(customer["id"]))]
        ids = [event_id for event_id, _ in sequence]
        assert all(a != b for a, b in itertools.pairwise(ids)), f"an event doubled (seed {seed})"
        persona = customer["persona"] if isinstance(customer["persona"], dict) else orjson.loads(customer["persona"])
        assert sequence[-1][1]["persona"] == persona, f"the last event is not the persona (seed {seed})"
        assert [p["created"] for _, p in sequence].count(True) == 1
