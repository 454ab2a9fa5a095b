"""What the read side answers, the API and the console alike: order summaries and pages, order details, customers
(mobiles masked for a tenant configured so: `masked_customer`, `masked_order`).

Every time is RFC 3339 in UTC with `Z` (`domain/times.py`), as in the events and the persona. Statuses and sources are
codes plus a label in the request's language (`?lang=` / `Accept-Language`, zh-CN by default)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar
from uuid import UUID

from pydantic import BaseModel, Field, PlainSerializer, WithJsonSchema

from services.core.persona import PersonaV1
from services.core.times import utc_text
from services.ingest.domain.erasure import mask_mobile


class StoreOut(BaseModel):
    store_no: str | None = None
    store_id: str | None = None
    name: str | None = None


TOTAL_AMOUNT = (
    "The order's amount as Order Info counts it: `order_amount` when the file or platform gave one, else the sum of "
    "the lines (each line: its line amount when given, else quantity x unit price). Never null."
)
ORDER_AMOUNT = "The order amount as the file or platform gave it (订单金额); null when it was not given."
PAID_AMOUNT = "What the buyer paid as the file or platform gave it (实付金额); null when it was not given."
UTC_TIME = "RFC 3339 in UTC with `Z`."
# Every time of an answer, whatever offset the driver or a stored document gave it.
UtcDatetime = Annotated[
    datetime,
    PlainSerializer(utc_text, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time", "description": UTC_TIME}),
]


class OrderSummary(BaseModel):
    order_no: str
    source: str = Field(description="The source code (`jingdong`, `youzan`, ...).")
    source_label: str = Field("", description="The source as the template names it in the request's language.")
    status: str = Field(description="The status code (`paid`, `dealed`, ...).")
    status_label: str = Field("", description="The status as the template names it in the request's language.")
    status_raw: str = Field(description="The status text as the platform or file wrote it.")
    order_time: UtcDatetime
    payment_time: UtcDatetime | None
    store: StoreOut
    customer_id: UUID
    total_amount: Decimal = Field(description=TOTAL_AMOUNT)
    paid_amount: Decimal | None = Field(description=PAID_AMOUNT)
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
    first_seen_at: UtcDatetime


class EmittedEvent(BaseModel):
    event_id: str
    event_type: str
    created_at: UtcDatetime
    state: Literal["sent", "pending", "parked"] = Field(
        description="`sent`: published; `pending`: the relay will publish it; `parked`: the relay will never publish"
        " it as it is (see `parked_reason`) until an operator re-queues it."
    )
    sent_at: UtcDatetime | None = Field(description="When the relay published it; null while pending or parked.")
    parked_at: UtcDatetime | None = Field(description="When the relay parked it; null unless parked.")
    parked_reason: str | None = Field(
        description="Why it was parked (`too_large`, `invalid_topic`, `unknown_topic`, `rejected`); null unless parked."
    )


class OrderDetail(OrderSummary):
    matched_by: str = Field(description="The identifier that matched the buyer to the customer (or `new`).")
    buyer: dict[str, Any]
    receiver: dict[str, Any] | None
    order_amount: Decimal | None = Field(description=ORDER_AMOUNT)
    remark: str | None
    version: int
    created_at: UtcDatetime
    updated_at: UtcDatetime
    lines: list[OrderLineOut]
    customer: CustomerIdentifiers | None
    status_history: list[StatusSeen] = Field(description="When each status was first seen, oldest first.")
    events: list[EmittedEvent] = Field(
        description="orders.events.v1 events still in the outbox, oldest first: the latest 100 at most."
    )
    events_not_shown: int = Field(default=0, description="Older events still in the outbox, left out of `events`.")


class CustomerOut(CustomerIdentifiers):
    persona: PersonaV1 | None = Field(
        description="The consumption profile (the same as in customers.updated.v1); null only for a customer whose "
        "stored profile predates this shape (it is recomputed with the customer's next order)."
    )
    created_at: UtcDatetime
    updated_at: UtcDatetime
    recent_orders: list[OrderSummary] = Field(description="The latest 10 orders, newest first.")


C = TypeVar("C", bound=CustomerIdentifiers)


def masked_customer(customer: C, mask: bool) -> C:
    return customer.model_copy(update={"mobile": mask_mobile(customer.mobile)}) if mask else customer


def masked_order(order: OrderDetail, mask: bool) -> OrderDetail:
    if not mask:
        return order
    receiver = order.receiver and {**order.receiver, "mobile": mask_mobile(order.receiver.get("mobile"))}
    return order.model_copy(
        update={
            "buyer": {**order.buyer, "mobile": mask_mobile(order.buyer.get("mobile"))} if order.buyer else order.buyer,
            "receiver": receiver,
            "customer": order.customer and masked_customer(order.customer, mask),
        }
    )
