"""The outbox writer the ingest consumer calls: shape events and enqueue them in the caller's transaction.

`emit_events` is what the consumer calls (wired in by the ingest composition root); `enqueue` and `backlog` are
re-exported for callers that shape events themselves or report health; `ORDER_EVENTS_TOPIC` is where the written
order events go (the order API lists them). Guarantees are stated in `adapters.outbox_store` (ordering,
transaction ownership). Event shaping itself (`domain.events`) is pure: the clock is read here, once per call.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID

from services.core.changes import CustomerSnapshot, OrderChange
from services.core.keys import customer_key
from services.rules_bridge.adapters.outbox_store import N_SHARDS, Conn, backlog, delete_key, enqueue
from services.rules_bridge.contracts import customer_updated_v1
from services.rules_bridge.contracts.order_events_v1 import TOPIC as _ORDER_EVENTS
from services.rules_bridge.domain import events
from services.rules_bridge.domain.events import OutboxRecord

__all__ = [
    "N_SHARDS",
    "ORDER_EVENTS_TOPIC",
    "OutboxRecord",
    "backlog",
    "customer_updated",
    "emit_events",
    "enqueue",
    "order_events",
]

ORDER_EVENTS_TOPIC = _ORDER_EVENTS.name


def order_events(change: OrderChange, *, at: datetime | None = None) -> list[OutboxRecord]:
    """`domain.events.order_events`, stamped now unless `at` is given."""
    return events.order_events(change, at=at or datetime.now(UTC))


def customer_updated(snapshot: CustomerSnapshot, *, at: datetime | None = None) -> OutboxRecord:
    """`domain.events.customer_updated`, stamped now unless `at` is given."""
    return events.customer_updated(snapshot, at=at or datetime.now(UTC))


async def emit_events(conn: Conn, changes: Sequence[OrderChange], customers: Sequence[CustomerSnapshot]) -> int:
    """Shape and enqueue the events of `changes` (in their order) and `customers`; return how many.

    Joins the transaction open on `conn` (the caller owns it): the events are published only if it commits.
    Call once per transaction, after the business rows are written (see `outbox_store` on ordering).
    """
    at = datetime.now(UTC)
    records = [record for change in changes for record in events.order_events(change, at=at)]
    records += [events.customer_updated(snapshot, at=at) for snapshot in customers]
    await enqueue(conn, records)
    return len(records)


async def tombstone_customer(conn: Conn, tenant_id: UUID, customer_id: UUID) -> None:
    """An erased customer (in the caller's transaction): its `customers.updated.v1` rows in the outbox are deleted
    and a tombstone is enqueued in their place, so the topic's latest record for the customer is the tombstone."""
    topic, key = customer_updated_v1.TOPIC.name, customer_key(tenant_id, customer_id)
    await delete_key(conn, tenant_id, topic, key)
    await enqueue(conn, [events.customer_erased(tenant_id, customer_id, at=datetime.now(UTC))])
