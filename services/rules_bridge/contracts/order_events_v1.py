"""Contract of `orders.events.v1`: what orders did, as CloudEvents 1.0 in Kafka binary content mode.

Key `"{tenant_id}:{order_no}"`, so one order's events stay on one partition, in the order they were committed.
Headers: `ce_specversion`, `ce_id`, `ce_source`, `ce_type`, `ce_time`, `ce_subject` (the order no.), `ce_tenantid`,
`content-type: application/json`; the value is `OrderEventV1` as JSON. `ce_id` is deterministic (one id per
milestone of an order, one per version for `order.updated`): a redelivered event carries the same id, so
subscribers dedupe on it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from services.ingest.domain.order import OrderSource, OrderStatus
from services.platform.topics import TopicSpec

SCHEMA_VERSION = 1
TOPIC = TopicSpec("orders.events.v1")
SOURCE = "/orderinfo/orders"

ORDER_CREATED = "order.created"
ORDER_PAID = "order.paid"
ORDER_SHIPPED = "order.shipped"
ORDER_SIGNED = "order.signed"
ORDER_COMPLETED = "order.completed"
ORDER_CLOSED = "order.closed"
ORDER_UPDATED = "order.updated"
EVENT_TYPES: tuple[str, ...] = (
    ORDER_CREATED,
    ORDER_PAID,
    ORDER_SHIPPED,
    ORDER_SIGNED,
    ORDER_COMPLETED,
    ORDER_CLOSED,
    ORDER_UPDATED,
)

MoneyText = Annotated[str, Field(pattern=r"^-?[0-9]+\.[0-9]{2}$", description="Decimal amount with two places.")]


class _Data(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StoreV1(_Data):
    store_no: str | None
    store_id: str | None
    name: str | None


class CustomerRefV1(_Data):
    id: UUID
    matched_by: str = Field(description="sobot_customer_id | mobile | unionid | nickname | new")


class LineV1(_Data):
    product_id: str
    sku: str
    product_name: str | None
    quantity: int
    unit_price: MoneyText
    line_amount: MoneyText | None = Field(description="As given (商品金额); null: quantity x unit price is meant.")


class CauseV1(_Data):
    import_id: UUID | None = Field(description="The upload that caused the change, if any.")
    producer: str = Field(description="Who sent the order message (import, a mall integration...).")


class OrderEventV1(_Data):
    """The order as stored after the change that caused the event (all its lines)."""

    model_config = ConfigDict(frozen=True, extra="forbid", title="orders.events.v1")

    schema_version: Literal[1] = 1
    order_no: str
    source: OrderSource
    status: OrderStatus = Field(description="Status after the change.")
    status_before: OrderStatus | None = Field(description="Stored status before the change; null: new order.")
    status_raw: str = Field(description="The status text as the file or platform wrote it (`已付款`).")
    order_time: datetime = Field(description="RFC 3339 in UTC with `Z`.")
    payment_time: datetime | None = Field(description="RFC 3339 in UTC with `Z`; null when not given.")
    order_amount: MoneyText | None = Field(
        description="The order amount as the file or platform gave it (订单金额); null when not given."
    )
    paid_amount: MoneyText | None = Field(
        description="What the buyer paid as the file or platform gave it (实付金额); null when not given."
    )
    total_amount: MoneyText = Field(
        description="`order_amount` when given, else the sum of the lines (each line: its line amount when given, "
        "else quantity x unit price). Never null: use it for rules on the order's amount."
    )
    store: StoreV1
    customer: CustomerRefV1
    version: int = Field(ge=1, description="The order's version after the change (bumped on every change).")
    lines: list[LineV1]
    inferred: bool = Field(
        description="True for a milestone the order skipped (e.g. paid, when first seen already shipped)."
    )
    cause: CauseV1
