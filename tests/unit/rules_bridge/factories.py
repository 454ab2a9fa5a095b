"""Builders of the bridge's inputs for tests: a plausible order change or customer snapshot, overridable."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from services.ingest.domain.order import OrderStatus
from services.ingest.domain.persona import LifecycleThresholds, OrderAggregates, build_persona
from services.rules_bridge.domain.changes import CustomerSnapshot, LineSnapshot, OrderChange, OrderSnapshot

TENANT = uuid.UUID("11111111-1111-4111-8111-111111111111")
CUSTOMER = uuid.UUID("22222222-2222-4222-8222-222222222222")
AT = datetime(2024, 5, 1, 8, 30, tzinfo=UTC)


def snapshot(order_no: str = "E2024050100001", status: OrderStatus = OrderStatus.PAID, **fields: Any) -> OrderSnapshot:
    base = OrderSnapshot(
        order_no=order_no,
        source="youzan",
        status=status,
        status_raw=status.value,
        order_time=datetime(2024, 5, 1, 8, 0, tzinfo=UTC),
        payment_time=datetime(2024, 5, 1, 8, 5, tzinfo=UTC),
        order_amount=Decimal("120.00"),
        paid_amount=Decimal("99.5"),
        total_amount=Decimal("120"),
        store_no="S001",
        store_id=None,
        store_name="旗舰店",
        customer_id=CUSTOMER,
        matched_by="mobile",
        version=1,
        lines=(LineSnapshot("P1", "", "Tea", 2, Decimal("60"), Decimal("120.00")),),
    )
    return replace(base, **fields)


def change(
    before: OrderStatus | None,
    after: OrderStatus,
    *,
    content_changed: bool = False,
    tenant_id: uuid.UUID = TENANT,
    order_no: str = "E2024050100001",
    version: int = 1,
    import_id: uuid.UUID | None = None,
) -> OrderChange:
    return OrderChange(
        tenant_id=tenant_id,
        before_status=before,
        after=snapshot(order_no, after, version=version),
        content_changed=content_changed,
        import_id=import_id,
        producer="import",
    )


# A real persona, as the consumer computes it: one paid order of 99.50.
PERSONA = build_persona(
    OrderAggregates(
        1,
        1,
        Decimal("99.50"),
        Decimal("99.50"),
        datetime(2024, 5, 1, 8, 0, tzinfo=UTC),
        datetime(2024, 5, 1, 8, 0, tzinfo=UTC),
        datetime(2024, 5, 1, 8, 5, tzinfo=UTC),
        sources=["youzan"],
        status_counts={"paid": 1},
        store_counts={"S1": (1, datetime(2024, 5, 1, 8, 0, tzinfo=UTC))},
        product_quantities={"P1": (1, "Tea")},
    ),
    datetime(2024, 6, 1, tzinfo=UTC),
    LifecycleThresholds(),
)


def customer(tenant_id: uuid.UUID = TENANT, customer_id: uuid.UUID = CUSTOMER, **fields: Any) -> CustomerSnapshot:
    base = CustomerSnapshot(
        tenant_id=tenant_id,
        customer_id=customer_id,
        sobot_customer_id=None,
        mobile="13800138000",
        unionid=None,
        nickname="小王",
        persona=PERSONA,
        created=True,
    )
    return replace(base, **fields)
