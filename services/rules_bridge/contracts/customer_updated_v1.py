"""Contract of `customers.updated.v1`: a customer's identifiers and full persona after it was created or changed.

A COMPACTED topic keyed `"{tenant_id}:{customer_id}"`: the latest value per customer is the current state, so a
new subscriber can rebuild every persona by reading from the beginning. CloudEvents 1.0 binary mode, type
`customer.updated`, `ce_subject` = customer id, `ce_tenantid` extension. `ce_id` is derived from the tenant, the
customer and a hash of the data: the same state always carries the same id.

An erased customer (PIPL, `orderinfo customers erase`) gets a tombstone: a null value under its key, `ce_type`
`customer.erased`, no `content-type`. Compaction then drops every earlier record of that key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from services.platform.topics import TopicSpec

SCHEMA_VERSION = 1
TOPIC = TopicSpec("customers.updated.v1", configs={"cleanup.policy": "compact"})
SOURCE = "/orderinfo/customers"

CUSTOMER_UPDATED = "customer.updated"
CUSTOMER_ERASED = "customer.erased"  # the tombstone's ce_type (no data: not in EVENT_TYPES, which have schemas)
EVENT_TYPES: tuple[str, ...] = (CUSTOMER_UPDATED,)


MoneyText = Annotated[str, Field(pattern=r"^-?[0-9]+\.[0-9]{2}$", description="Decimal amount with two places.")]
UtcTime = Annotated[
    datetime | None, Field(description="RFC 3339 in UTC with `Z` (2026-11-30T06:00:00Z); null before any order.")
]
LifecycleStage = Literal["prospect", "new", "repeat", "dormant"]


class TopProductV1(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    product_id: str
    quantity: int = Field(description="Units bought, closed orders excluded.")
    name: str | None = Field(description="The product name as last given, if any.")


class PersonaV1(BaseModel):
    """A customer's consumption profile, recomputed from all the customer's stored orders on every change (and by
    the lifecycle sweep when time alone moves the stage). Amounts are decimal strings with two places."""

    model_config = ConfigDict(frozen=True, extra="forbid", title="Persona")

    order_count: int = Field(description="All the customer's orders, whatever their status.")
    paid_order_count: int = Field(description="Orders that are Paid, Shipped, Signed for or Dealed.")
    total_amount: MoneyText = Field(
        description="Sum of `total_amount` of the orders not closed (an order's `total_amount`: its `order_amount` "
        "when given, else the sum of its lines)."
    )
    total_paid: MoneyText = Field(
        description="Sum over paid orders of `paid_amount` (what the buyer paid) when given, else `total_amount`."
    )
    average_order_value: MoneyText = Field(description="`total_paid` / `paid_order_count` (0.00 with none).")
    first_order_time: UtcTime
    last_order_time: UtcTime
    last_paid_time: UtcTime
    sources: list[str] = Field(description="Order sources (codes such as `youzan`, `jingdong`) the customer bought on.")
    stores: list[str] = Field(description="Stores (store no., else store ID) the customer bought in.")
    favourite_store: str | None = Field(description="The store with the most orders (latest order breaks ties).")
    top_products: list[TopProductV1] = Field(description="The five products bought most, by quantity.")
    orders_by_status: dict[str, int] = Field(description="Order count per status code (`paid`, `dealed`, ...).")
    lifecycle_stage: LifecycleStage = Field(
        description="`prospect`: nothing paid; `new`: one paid order; `repeat`: two or more "
        "(ORDERINFO_REPEAT_AFTER_PAID_ORDERS); `dormant`: no paid order for ORDERINFO_DORMANT_AFTER_DAYS (180) days."
    )


class CustomerUpdatedV1(BaseModel):
    """Identifiers and persona of one customer, as stored after the change."""

    model_config = ConfigDict(frozen=True, extra="forbid", title="customers.updated.v1")

    schema_version: Literal[1] = 1
    customer_id: UUID
    sobot_customer_id: str | None
    mobile: str | None
    unionid: str | None
    nickname: str | None
    persona: PersonaV1 = Field(description="The consumption profile: see `Persona`.")
    created: bool = Field(description="True when this change created the customer.")
