"""The persona recomputed from all of a customer's stored orders: the reference the lifecycle sweep uses and the
persona stage is tested against. O(the customer's history), so never on the hot path.

The SQL module's `PERSONA_AGGREGATES` answers one row per grouping set (totals, per status, per store);
`aggregates_from_rows` decodes them, `persona_changed` decides whether a recomputed persona is news.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from enum import IntEnum
from typing import Any
from uuid import UUID

from services.ingest.domain.persona import OrderAggregates

CustomerKey = tuple[UUID, UUID]  # (tenant_id, customer_id)
EMPTY = OrderAggregates(0, 0, Decimal(0), Decimal(0), None, None, None)


class Grouping(IntEnum):
    """`GROUPING(status, store_label)` of a `PERSONA_AGGREGATES` row: which grouping set it belongs to."""

    BY_STATUS = 1  # store_label rolled up
    BY_STORE = 2  # status rolled up
    TOTALS = 3  # both rolled up


def aggregates_from_rows(
    rows: Iterable[Mapping[str, Any]], product_rows: Iterable[Mapping[str, Any]]
) -> dict[CustomerKey, OrderAggregates]:
    """Each customer's aggregates from the grouping-set rows of `PERSONA_AGGREGATES` and the rows of
    `PERSONA_PRODUCTS`. A customer without orders has no row, hence no entry (use `EMPTY`)."""
    rows = list(rows)
    result: dict[CustomerKey, OrderAggregates] = {}
    for r in rows:
        if r["grouping"] == Grouping.TOTALS:
            result[(r["tenant_id"], r["customer_id"])] = OrderAggregates(
                order_count=r["order_count"],
                paid_order_count=r["paid_order_count"],
                total_amount=r["total_amount"],
                total_paid=r["total_paid"],
                first_order_time=r["first_order_time"],
                last_order_time=r["last_order_time"],
                last_paid_time=r["last_paid_time"],
                sources=list(r["sources"]),
            )
    for r in rows:
        key = (r["tenant_id"], r["customer_id"])
        if r["grouping"] == Grouping.BY_STATUS:
            result[key].status_counts[r["status"]] = r["order_count"]
        elif r["grouping"] == Grouping.BY_STORE:
            result[key].store_counts[r["store_label"]] = (r["order_count"], r["last_order_time"])
    for r in product_rows:
        result[(r["tenant_id"], r["customer_id"])].product_quantities[r["product_id"]] = (r["quantity"], r["name"])
    return result


def persona_changed(stored: Mapping[str, Any] | None, computed: Mapping[str, Any], *, created: bool) -> bool:
    """Whether a recomputed persona is a change to announce: it differs from the stored one, or the customer is
    new (a new customer is announced even with the empty persona)."""
    return created or stored != computed
