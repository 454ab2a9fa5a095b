"""The lifecycle sweep: customers cross into `dormant` because time passes, not because an order arrives.

Guarantees:
- One sweep at a time across every process (a transaction-scoped advisory lock); a sweep that finds the lock
  taken does nothing.
- Each batch of customers is recomputed from their stored orders and its `customer.updated` events are enqueued
  in the same transaction as the new personas: a crash loses nothing and the next sweep picks the rest up.
- Customers locked by the persona stage are skipped (`SKIP LOCKED`): the stage rebuilds their persona anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from services.ingest.adapters import order_store, sql
from services.ingest.application.ingestion import EmitEvents
from services.ingest.domain.persona import LifecycleThresholds, dormancy_cutoff

log = logging.getLogger("orderinfo.ingest.lifecycle")


@dataclass(frozen=True)
class SweepResult:
    ran: bool  # False: another sweep held the lock
    customers_updated: int = 0
    batches: int = 0


async def sweep_lifecycles(
    pool: Any, emit: EmitEvents, now: datetime, thresholds: LifecycleThresholds, batch_size: int = 500
) -> SweepResult:
    """Move every customer whose stage has changed with time alone; emit `customer.updated` for each."""
    updated = batches = 0
    while True:
        async with pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval(sql.TRY_SWEEP_LOCK):
                return SweepResult(ran=batches > 0, customers_updated=updated, batches=batches)
            rows = await conn.fetch(sql.LIFECYCLE_CANDIDATES, dormancy_cutoff(now, thresholds), batch_size)
            if not rows:
                return SweepResult(ran=True, customers_updated=updated, batches=batches)
            keys = {(r["tenant_id"], r["id"]) for r in rows}
            snapshots = await order_store.refresh_personas(conn, keys, set(), now, thresholds)
            await emit(conn, [], snapshots)
            updated += len(snapshots)
            batches += 1
            if len(rows) < batch_size or not snapshots:  # nothing changed: never loop on the same rows
                return SweepResult(ran=True, customers_updated=updated, batches=batches)


async def sweep_forever(
    pool: Any, emit: EmitEvents, thresholds: LifecycleThresholds, interval_s: float, stop: asyncio.Event
) -> None:
    """Sweep now and then every `interval_s` until `stop` is set. A failed sweep is logged and tried again at the
    next interval (the next one redoes whatever it did not commit)."""
    while not stop.is_set():
        try:
            result = await sweep_lifecycles(pool, emit, datetime.now(UTC), thresholds)
            if result.customers_updated:
                log.info("lifecycle sweep: %d customers updated", result.customers_updated)
        except Exception:
            log.exception("lifecycle sweep failed; trying again in %.0f s", interval_s)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval_s)
