"""The reference persona's pure parts: decoding the grouping-set rows, and when a recomputed persona is news."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from services.ingest.domain.persona_reference import EMPTY, Grouping, aggregates_from_rows, persona_changed

TENANT, CUSTOMER, OTHER = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
T1, T2 = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 30, tzinfo=UTC)


def _row(customer: uuid.UUID, grouping: Grouping, **fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "tenant_id": TENANT,
        "customer_id": customer,
        "grouping": int(grouping),
        "status": None,
        "store_label": None,
        "order_count": 0,
        "paid_order_count": 0,
        "total_amount": Decimal(0),
        "total_paid": Decimal(0),
        "first_order_time": None,
        "last_order_time": None,
        "last_paid_time": None,
        "sources": [],
    }
    return base | fields


def test_grouping_sets_decode_into_totals_statuses_stores_and_products() -> None:
    rows = [
        _row(CUSTOMER, Grouping.BY_STORE, store_label="旗舰店", order_count=2, last_order_time=T2),
        _row(
            CUSTOMER,
            Grouping.TOTALS,
            order_count=3,
            paid_order_count=2,
            total_amount=Decimal("30.00"),
            total_paid=Decimal("20.00"),
            first_order_time=T1,
            last_order_time=T2,
            last_paid_time=T2,
            sources=["youzan", "douyin"],
        ),
        _row(CUSTOMER, Grouping.BY_STATUS, status="paid", order_count=2),
        _row(CUSTOMER, Grouping.BY_STATUS, status="deal_closed", order_count=1),
        _row(CUSTOMER, Grouping.BY_STORE, store_label="直播间", order_count=1, last_order_time=T1),
        _row(OTHER, Grouping.TOTALS, order_count=1, sources=["jd"]),
    ]
    products = [{"tenant_id": TENANT, "customer_id": CUSTOMER, "product_id": "P1", "quantity": 4, "name": "茶"}]

    result = aggregates_from_rows(rows, products)

    agg = result[(TENANT, CUSTOMER)]
    assert (agg.order_count, agg.paid_order_count, agg.total_amount, agg.total_paid) == (3, 2, Decimal(30), Decimal(20))
    assert (agg.first_order_time, agg.last_order_time, agg.last_paid_time) == (T1, T2, T2)
    assert agg.sources == ["youzan", "douyin"]
    assert agg.status_counts == {"paid": 2, "deal_closed": 1}
    assert agg.store_counts == {"旗舰店": (2, T2), "直播间": (1, T1)}
    assert agg.product_quantities == {"P1": (4, "茶")}
    other = result[(TENANT, OTHER)]
    assert other.order_count == 1 and other.status_counts == {} and other.product_quantities == {}


def test_a_customer_without_orders_has_no_entry_and_the_empty_aggregates_stand_in() -> None:
    assert aggregates_from_rows([], []) == {}
    assert EMPTY.order_count == 0 and EMPTY.total_amount == Decimal(0) and EMPTY.last_order_time is None


def test_a_persona_is_news_when_it_differs_or_the_customer_is_new() -> None:
    persona = {"order_count": 1, "lifecycle_stage": "new"}
    assert not persona_changed(dict(persona), persona, created=False)
    assert persona_changed({"order_count": 0}, persona, created=False)
    assert persona_changed(None, persona, created=False)
    assert persona_changed(dict(persona), persona, created=True)
