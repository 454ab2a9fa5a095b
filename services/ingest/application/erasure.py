"""Erasing a customer's personal data on request (PIPL), and refusing records that would bring it back.

Guarantees of `erase_customer` (one transaction; the customer's orders and then the customer are locked first, in
the consumer's order, so a consumer batch touching them waits or goes first, never half):
- The customer's identifiers and nickname, its orders' buyer, receiver and remark, the personal cells and issues
  of the uploaded rows of those orders and of any row with a cell that is exactly its Sobot ID, mobile or unionid
  (an order held back, never stored; nicknames are shared, so not searched), the values the imports' first errors
  quote on those rows, and its identity conflicts are gone; amounts, lines, statuses, times and stores stay, as
  does the persona arithmetic (counts, sums, stage).
- Its `customers.updated.v1` rows in the outbox (sent or not) are deleted and a tombstone is enqueued in their
  place: the relay publishes it after anything of that key it already took, so the topic's latest record for the
  customer is the tombstone, and compaction drops the earlier ones.
- The remembered identifiers' digests are stored (see `domain.erasure`) and an audit row says who erased whom and
  when (never the values).

`refuse_erased` is the consumer's check (called once, in `ingestion.ingest_batch`): a record whose buyer gives an
erased identifier is not applied but dead-lettered as `erased_customer`, with its value left out of the dead
letter (see `entrypoints.consumer.DeadLetters`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from services.ingest.adapters import erasure_store
from services.ingest.adapters.storage import storage_errors
from services.ingest.domain.erasure import (
    ERASED,
    REMEMBERED,
    buyer_digests,
    identifier_digest,
    personal_positions,
    redact,
)
from services.ingest.errors import StorageUnavailable, TransientStorage, backoff_delay

Conn = Any
# Replaces the customer's events by a tombstone, in the caller's transaction (the rules bridge's outbox writer).
Tombstone = Callable[[Conn, UUID, UUID], Awaitable[None]]
CONFLICT_RETRIES = 3


@dataclass(frozen=True)
class Erased:
    erased_at: datetime
    identifiers: tuple[str, ...]  # the kinds that held a value
    orders: int


async def erase_customer(
    pool: Any, tenant_id: UUID, customer_id: UUID, *, by: str, tombstone: Tombstone
) -> Erased | None:
    """Erase the customer (see the module's guarantees); None when the tenant has no such customer. A conflict with
    a concurrent writer (deadlock, serialization) is retried a few times; driver errors leave as `StorageError`."""
    for attempt in range(CONFLICT_RETRIES + 1):
        try:
            async with storage_errors(), pool.acquire() as conn:
                return await _erase(conn, tenant_id, customer_id, by, tombstone)
        except StorageUnavailable:
            raise
        except TransientStorage:
            if attempt == CONFLICT_RETRIES:
                raise
            await asyncio.sleep(backoff_delay(attempt))
    raise AssertionError("unreachable")


async def _erase(conn: Conn, tenant_id: UUID, customer_id: UUID, by: str, tombstone: Tombstone) -> Erased | None:
    async with conn.transaction():
        # the consumer's lock order: orders (by order no.), then customers
        order_nos = await erasure_store.lock_orders(conn, tenant_id, customer_id)
        identifiers = await erasure_store.lock_customer(conn, tenant_id, customer_id)
        if identifiers is None:
            return None
        held = {kind: value for kind in ERASED if (value := identifiers.get(kind))}
        await erasure_store.erase_rows(conn, tenant_id, customer_id, order_nos, list(held.values()))
        await _redact_uploads(conn, tenant_id, order_nos, [v for k, v in held.items() if k in REMEMBERED])
        await tombstone(conn, tenant_id, customer_id)
        digests = [(k, identifier_digest(tenant_id, k, v)) for k, v in held.items() if k in REMEMBERED]
        await erasure_store.remember(conn, tenant_id, digests)
        at = await erasure_store.audit(conn, tenant_id, customer_id, by, list(held), len(order_nos))
    return Erased(at, tuple(held), len(order_nos))


async def _redact_uploads(conn: Conn, tenant_id: UUID, order_nos: list[str], values: list[str]) -> None:
    rows = await erasure_store.uploaded_rows(conn, tenant_id, order_nos, values)
    redacted = [
        (r["import_id"], r["row_no"], json.dumps(redact(r["cells"], personal_positions(r["header"])))) for r in rows
    ]
    await erasure_store.redact_rows(conn, tenant_id, redacted)
    await erasure_store.redact_first_errors(conn, tenant_id, [(r["import_id"], r["row_no"]) for r in rows])


async def refuse_erased(conn: Conn, incoming: Sequence[Any]) -> tuple[list[Any], list[tuple[Any, str]]]:
    """Split `incoming` (planning's `Incoming`) into the records to apply and those whose buyer gives an erased
    identifier, each with the kind it gave. The records of a tenant that never erased anything (one query for the
    batch's tenants) need no digest: most batches cost that query alone."""
    erasing = await erasure_store.tenants_with_erasures(conn, (i.tenant_id for i in incoming))
    named = [
        (i, kind, digest)
        for i in incoming
        if i.tenant_id in erasing
        for kind, digest in buyer_digests(i.tenant_id, i.order.buyer)
    ]
    erased = await erasure_store.erased_among(conn, [(i.tenant_id, kind, digest) for i, kind, digest in named])
    refused: dict[int, tuple[Any, str]] = {}
    for item, kind, digest in named:
        if (item.tenant_id, kind, digest) in erased:
            refused.setdefault(item.ref, (item, kind))
    return [i for i in incoming if i.ref not in refused], list(refused.values())


def refusal(kind: str) -> str:
    """What the producer of a refused record learns (nothing of the erased value)."""
    return f"the buyer's {kind} was erased on request (PIPL): an order naming it is not stored again"
