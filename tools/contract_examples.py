"""Example message values for `schemas/`: produced by the real shaping code from fixed inputs, so they stay true."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from services.core.changes import CustomerSnapshot, LineSnapshot, OrderChange, OrderSnapshot
from services.core.order import OrderStatus
from services.rules_bridge.domain import events

TENANT = uuid.UUID("0b6f3c2e-5d1a-4e8f-9a7b-3c2d1e0f4a5b")
CUSTOMER = uuid.UUID("6a1d2c3b-4e5f-4a6b-8c7d-9e0f1a2b3c4d")
IMPORT = uuid.UUID("f1e2d3c4-b5a6-4978-8a9b-0c1d2e3f4a5b")
AT = datetime(2024, 6, 18, 2, 15, tzinfo=UTC)


def order_event_data(status: OrderStatus) -> list[dict[str, Any]]:
    """The data of the events of a new order first seen in `status` (skipped milestones are inferred)."""
    change = OrderChange(TENANT, None, _snapshot(status), content_changed=False, import_id=IMPORT, producer="import")
    return [_data(record) for record in events.order_events(change, at=AT)]


def customer() -> dict[str, Any]:
    snapshot = CustomerSnapshot(
        tenant_id=TENANT,
        customer_id=CUSTOMER,
        sobot_customer_id="sobot-10086",
        mobile="13800138000",
        unionid=None,
        nickname="小王",
        persona={
            "order_count": 1,
            "paid_order_count": 1,
            "total_amount": "259.00",
            "total_paid": "239.00",
            "average_order_value": "239.00",
            "first_order_time": "2024-06-18T02:02:11Z",
            "last_order_time": "2024-06-18T02:02:11Z",
            "last_paid_time": "2024-06-18T02:03:40Z",
            "sources": ["youzan"],
            "stores": ["S001"],
            "favourite_store": "S001",
            "top_products": [
                {"product_id": "P200", "quantity": 2, "name": "茶叶 250g"},
                {"product_id": "P100", "quantity": 1, "name": "茶具套装"},
            ],
            "orders_by_status": {"paid": 1},
            "lifecycle_stage": "new",
        },
        created=True,
    )
    return _data(events.customer_updated(snapshot, at=AT))


def ingest_order() -> dict[str, Any]:
    return {
        "schema_version": 1,
        "tenant_id": str(TENANT),
        "import_id": str(IMPORT),
        "producer": "import",
        "order_no": "E20240618000123",
        "source": "youzan",
        "status": "paid",
        "status_raw": "已付款",
        "order_time": "2024-06-18T10:02:11+08:00",
        "payment_time": "2024-06-18T10:03:40+08:00",
        "store": {"store_no": "S001", "name": "旗舰店"},
        "buyer": {"sobot_customer_id": "sobot-10086", "mobile": "13800138000", "nickname": "小王"},
        "receiver": {"name": "王先生", "mobile": "13800138000", "address": "上海市徐汇区某路 1 号"},
        "order_amount": "259.00",
        "paid_amount": "239.00",
        "lines": [
            {
                "product_id": "P100",
                "sku": "P100-RED",
                "product_name": "茶具套装",
                "quantity": 1,
                "unit_price": "199.00",
            },
            {"product_id": "P200", "sku": "", "product_name": "茶叶 250g", "quantity": 2, "unit_price": "30.00"},
        ],
    }


def _snapshot(status: OrderStatus) -> OrderSnapshot:
    return OrderSnapshot(
        order_no="E20240618000123",
        source="youzan",
        status=status,
        status_raw="已发货",
        order_time=datetime(2024, 6, 18, 2, 2, 11, tzinfo=UTC),
        payment_time=datetime(2024, 6, 18, 2, 3, 40, tzinfo=UTC),
        order_amount=Decimal("259.00"),
        paid_amount=Decimal("239.00"),
        total_amount=Decimal("259.00"),
        store_no="S001",
        store_id=None,
        store_name="旗舰店",
        customer_id=CUSTOMER,
        matched_by="sobot_customer_id",
        version=1,
        lines=(
            LineSnapshot("P100", "P100-RED", "茶具套装", 1, Decimal("199.00"), Decimal("199.00")),
            LineSnapshot("P200", "", "茶叶 250g", 2, Decimal("30.00"), Decimal("60.00")),
        ),
    )


def _data(record: events.OutboxRecord) -> dict[str, Any]:
    assert record.payload is not None, "an event with data, not a tombstone"
    return record.payload
