"""The rules bridge's outbox API for the ingest consumer: shape events and enqueue them in the caller's transaction.

`emit_events` is what the consumer calls; `enqueue` and `backlog` are re-exported for callers that shape events
themselves or report health. Guarantees are stated in `adapters.outbox_store` (ordering, transaction ownership).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from services.core.changes import CustomerSnapshot, OrderChange
from services.rules_bridge.adapters.outbox_store import N_SHARDS, Conn, backlog, enqueue
from services.rules_bridge.domain.events import OutboxRecord, customer_updated, order_events

__all__ = ["N_SHARDS", "OutboxRecord", "backlog", "emit_events", "enqueue"]


async def emit_events(conn: Conn, changes: Sequence[OrderChange], customers: Sequence[CustomerSnapshot]) -> int:
    """Shape and enqueue the events of `changes` (in their order) and `customers`; return how many.

    Joins the transaction open on `conn` (the caller owns it): the events are published only if it commits.
    Call once per transaction, after the business rows are written (see `outbox_store` on ordering).
    """
    at = datetime.now(UTC)
    records = [record for change in changes for record in order_events(change, at=at)]
    records += [customer_updated(snapshot, at=at) for snapshot in customers]
    await enqueue(conn, records)
    return len(records)
