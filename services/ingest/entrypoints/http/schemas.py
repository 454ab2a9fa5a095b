"""Response models of the read side: order summaries and pages, order details, customers."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field


class StoreOut(BaseModel):
    store_no: str | None = None
    store_id: str | None = None
    name: str | None = None


class OrderSummary(BaseModel):
    order_no: str
    source: str
    status: str = Field(description="One of the OrderStatus values.")
    status_raw: str = Field(description="The status text as the platform or file wrote it.")
    order_time: datetime
    payment_time: datetime | None
    store: StoreOut
    customer_id: UUID
    total_amount: Decimal
    paid_amount: Decimal | None
    line_count: int


class OrderPage(BaseModel):
    items: list[OrderSummary] = Field(description="Newest first: order_time, then order_no, descending.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class OrderLineOut(BaseModel):
    product_id: str
    sku: str
    product_name: str | None
    quantity: int
    unit_price: Decimal
    line_amount: Decimal | None


class CustomerIdentifiers(BaseModel):
    id: UUID
    sobot_customer_id: str | None
    mobile: str | None
    unionid: str | None
    nickname: str | None


class StatusSeen(BaseModel):
    status: str
    first_seen_at: datetime


class EmittedEvent(BaseModel):
    event_id: str
    event_type: str
    created_at: datetime
    state: Literal["sent", "pending", "parked"] = Field(
        description="`sent`: published; `pending`: the relay will publish it; `parked`: the relay will never publish"
        " it as it is (see `parked_reason`) until an operator re-queues it."
    )
    sent_at: datetime | None = Field(description="When the relay published it; null while pending or parked.")
    parked_at: datetime | None = Field(description="When the relay parked it; null unless parked.")
    parked_reason: str | None = Field(
        description="Why it was parked (`too_large`, `invalid_topic`, `unknown_topic`, `rejected`); null unless parked."
    )


class OrderDetail(OrderSummary):
    matched_by: str = Field(description="The identifier that matched the buyer to the customer (or `new`).")
    buyer: dict[str, Any]
    receiver: dict[str, Any] | None
    order_amount: Decimal | None
    remark: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    lines: list[OrderLineOut]
    customer: CustomerIdentifiers | None
    status_history: list[StatusSeen] = Field(description="When each status was first seen, oldest first.")
    events: list[EmittedEvent] = Field(description="orders.events.v1 events still in the outbox, oldest first.")


class CustomerOut(CustomerIdentifiers):
    persona: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    recent_orders: list[OrderSummary] = Field(description="The latest 10 orders, newest first.")
