"""A customer's consumption profile ("persona"), computed from aggregates of all that customer's orders.

`build_persona` turns the aggregates into the stored persona; the consumer maintains those aggregates by deltas
(`persona_deltas`, folded by `application.personas`), equal to what the statements of the SQL module compute from
all the customer's orders. Closed orders count as orders but not as money.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from services.core.frozen import quick_init
from services.core.money import money_text
from services.core.order import OrderStatus
from services.core.times import utc_text

PAID_STATUSES: tuple[str, ...] = (
    OrderStatus.PAID.value,
    OrderStatus.SHIPPED.value,
    OrderStatus.SIGNED_FOR.value,
    OrderStatus.DEALED.value,
)
TOP_PRODUCTS = 5
_T = TypeVar("_T")


@dataclass(frozen=True)
class LifecycleThresholds:
    repeat_after_paid_orders: int = 2
    dormant_after_days: int = 180


@quick_init  # built for every customer of every fold
@dataclass(frozen=True)
class OrderAggregates:
    """What the database aggregates for one customer (see the persona statements in the SQL module)."""

    order_count: int
    paid_order_count: int
    total_amount: Decimal
    total_paid: Decimal
    first_order_time: datetime | None
    last_order_time: datetime | None
    last_paid_time: datetime | None
    sources: list[str] = field(default_factory=list)
    status_counts: dict[str, int] = field(default_factory=dict)
    store_counts: dict[str, tuple[int, datetime]] = field(default_factory=dict)  # store -> (orders, last order)
    product_quantities: dict[str, tuple[int, str | None]] = field(default_factory=dict)  # product -> (qty, name)


def lifecycle_stage(agg: OrderAggregates, now: datetime, thresholds: LifecycleThresholds) -> str:
    """prospect (nothing paid yet), new (one paid order), repeat (several), dormant (no paid order for long)."""
    last_paid = agg.last_paid_time or agg.last_order_time
    dormant = last_paid is not None and last_paid < dormancy_cutoff(now, thresholds)
    return stage_of(agg.paid_order_count, dormant, thresholds)


def stage_of(paid_order_count: int, dormant: bool, thresholds: LifecycleThresholds) -> str:
    """The stage of a customer with this many paid orders, whose last paid (else last) order is before the
    dormancy cutoff when `dormant` (see `lifecycle_stage`)."""
    if paid_order_count == 0:
        return "prospect"
    if dormant:
        return "dormant"
    return "repeat" if paid_order_count >= thresholds.repeat_after_paid_orders else "new"


def build_persona(agg: OrderAggregates, now: datetime, thresholds: LifecycleThresholds) -> dict[str, Any]:
    """The persona as stored (JSON-able, money as strings with 2 places, times RFC 3339 in UTC: `times.utc_text`);
    its published shape is `customer_updated_v1.PersonaV1`."""
    average = (agg.total_paid / agg.paid_order_count) if agg.paid_order_count else Decimal(0)
    # most orders, then the most recent, then the greatest label: one answer whatever order the stores come in
    favourite = max(agg.store_counts.items(), key=lambda item: (item[1], item[0]), default=None)
    top = smallest(TOP_PRODUCTS, agg.product_quantities.items(), key=lambda item: (-item[1][0], item[0]))
    first, last, last_paid = agg.first_order_time, agg.last_order_time, agg.last_paid_time
    return {  # (the formatters called directly, not through `_money` / `_iso`: built for every customer of a fold)
        "order_count": agg.order_count,
        "paid_order_count": agg.paid_order_count,
        "total_amount": money_text(agg.total_amount),
        "total_paid": money_text(agg.total_paid),
        "average_order_value": money_text(average),
        "first_order_time": utc_text(first) if first is not None else None,
        "last_order_time": utc_text(last) if last is not None else None,
        "last_paid_time": utc_text(last_paid) if last_paid is not None else None,
        "sources": sorted(agg.sources),
        "stores": sorted(agg.store_counts),
        "favourite_store": favourite[0] if favourite else None,
        "top_products": [{"product_id": pid, "quantity": qty, "name": name} for pid, (qty, name) in top],
        "orders_by_status": dict(sorted(agg.status_counts.items())),
        "lifecycle_stage": lifecycle_stage(agg, now, thresholds),
    }


def smallest(n: int, items: Collection[_T], key: Callable[[_T], Any]) -> list[_T]:
    """`heapq.nsmallest(n, items, key=key)`, which is `sorted(items, key=key)[:n]`: the sort itself while `items` are
    few (most customers' products; the heap's Python loop costs more), the heap when they are many."""
    return sorted(items, key=key)[:n] if len(items) <= 64 else heapq.nsmallest(n, items, key=key)


def dormancy_cutoff(now: datetime, thresholds: LifecycleThresholds) -> datetime:
    """Customers whose last paid order is older than this are dormant at `now` (see `lifecycle_stage`)."""
    return now - timedelta(days=thresholds.dormant_after_days)
