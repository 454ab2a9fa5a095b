"""What the ingest consumer tells the rules bridge about an order or a customer it has just changed.

These are the inputs of event shaping (`milestones`); they are built inside the consumer's transaction, from the
committed-to-be state, so an event is never shaped from data that was not written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from services.core.frozen import quick_init
from services.core.order import OrderStatus


@quick_init
@dataclass(frozen=True)
class LineSnapshot:
    """A stored line as the rules bridge hears about it.

    Three classes hold a line's six stored fields, on purpose: this one is the shared core's, the contract between
    the services (an event is shaped from it, so it changes only with `orders.events.v1`); `LineRow`
    (`ingest/domain/planning.py`) is the planner's working row, keyed by (product ID, SKU) with the amount rule,
    whose representation the consumer's hot path may change for speed without touching the contract; and
    `OrderLineOut` (`ingest/application/answers.py`) is the API's answer, with its JSON Schema. The planner converts
    its rows into snapshots once per changed order (`planning._change`).
    """

    product_id: str
    sku: str
    product_name: str | None
    quantity: int
    unit_price: Decimal
    line_amount: Decimal | None


@quick_init
@dataclass(frozen=True)
class OrderSnapshot:
    """The order as stored after the change (all lines, including ones kept from earlier messages)."""

    order_no: str
    source: str
    status: OrderStatus
    status_raw: str
    order_time: datetime
    payment_time: datetime | None
    order_amount: Decimal | None
    paid_amount: Decimal | None
    total_amount: Decimal
    store_no: str | None
    store_id: str | None
    store_name: str | None
    customer_id: UUID
    matched_by: str
    version: int
    lines: tuple[LineSnapshot, ...]


@quick_init
@dataclass(frozen=True)
class OrderChange:
    """An effective change of one order. Not built for unchanged or stale (backward) messages."""

    tenant_id: UUID
    before_status: OrderStatus | None  # None: the order is new
    after: OrderSnapshot
    content_changed: bool  # lines, amounts or other fields changed (beyond the status)
    import_id: UUID | None
    producer: str


@quick_init
@dataclass(frozen=True)
class CustomerSnapshot:
    """A customer's identifiers and full persona after a change (created, identifiers added, persona changed)."""

    tenant_id: UUID
    customer_id: UUID
    sobot_customer_id: str | None
    mobile: str | None
    unionid: str | None
    nickname: str | None
    persona: dict[str, Any] = field(default_factory=dict)
    created: bool = False
    # `persona` as orjson encodes it, when the builder encoded it already (the persona stage stores that text):
    # the event's payload then carries these bytes, not a second encoding. None: encoded when shaped.
    persona_json: bytes | None = field(default=None, compare=False, repr=False)
    # The customer's revision after this change (`customers.revision`, raised once per effective change): it names
    # the event (`ce_id`), so a state the customer returns to is announced under an id of its own. None: a snapshot
    # of no stored change (a test, a tool): the id is derived from the content.
    revision: int | None = field(default=None, compare=False)
