from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from services.ingest.domain.persona import LifecycleThresholds, OrderAggregates, build_persona, lifecycle_stage

NOW = datetime(2026, 11, 27, tzinfo=UTC)


def aggregates(paid: int, last_paid_days_ago: int | None = 1, **kw: object) -> OrderAggregates:
    last = NOW - timedelta(days=last_paid_days_ago) if last_paid_days_ago is not None else None
    fields: dict[str, object] = {
        "order_count": max(paid, 1),
        "paid_order_count": paid,
        "total_amount": Decimal("100"),
        "total_paid": Decimal("100") if paid else Decimal(0),
        "first_order_time": last,
        "last_order_time": last,
        "last_paid_time": last if paid else None,
    }
    fields.update(kw)
    return OrderAggregates(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("paid", "days_ago", "stage"),
    [(0, 1, "prospect"), (1, 1, "new"), (2, 1, "repeat"), (5, 179, "repeat"), (2, 181, "dormant"), (1, 400, "dormant")],
)
def test_lifecycle_stage(paid: int, days_ago: int, stage: str) -> None:
    assert lifecycle_stage(aggregates(paid, days_ago), NOW, LifecycleThresholds()) == stage


def test_persona_fields() -> None:
    agg = aggregates(
        3,
        total_paid=Decimal("100.00"),
        sources=["youzan", "douyin"],
        store_counts={"A": (2, NOW), "B": (1, NOW), "C": (2, NOW - timedelta(days=3))},
        product_quantities={"p1": (5, "Tea"), "p2": (9, None), "p3": (5, "Cup")},
    )
    persona = build_persona(agg, NOW, LifecycleThresholds())
    assert persona["average_order_value"] == "33.33"
    assert persona["favourite_store"] == "A"  # most orders, the most recent on a tie
    assert persona["sources"] == ["douyin", "youzan"]
    assert [p["product_id"] for p in persona["top_products"]] == ["p2", "p1", "p3"]
    assert persona["lifecycle_stage"] == "repeat"
