"""The order as Order Info understands it: one order, its buyer, its store and its product lines.

Pure values, no IO. The import parser produces these, the `orders.ingest.v1` contract carries them and the
consumer stores them. Money is `Decimal` with two places; times are timezone-aware instants.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator


class OrderSource(StrEnum):
    """The e-commerce platforms an order may come from. Other sources are not supported."""

    YOUZAN = "youzan"
    WEIMOB = "weimob"
    DOUYIN = "douyin"
    KUAISHOU = "kuaishou"
    JINGDONG = "jingdong"
    TAOBAO = "taobao"
    VIPSHOP = "vipshop"
    XIAOE_TECH = "xiaoe_tech"
    MOGU = "mogu"
    XIAOHONGSHU = "xiaohongshu"
    BRAND_MALL = "brand_mall"


class OrderStatus(StrEnum):
    """Order statuses of the import template (English label in comments)."""

    OTHER = "other"  # Other
    TO_BE_PAID = "to_be_paid"  # To Be Paid
    PAID = "paid"  # Paid
    SHIPPED = "shipped"  # Shipped
    SIGNED_FOR = "signed_for"  # Signed for
    DEALED = "dealed"  # Dealed (transaction completed)
    DEAL_CLOSED = "deal_closed"  # Deal Closed (cancelled / closed; final)


Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]
Text64 = Annotated[str, Field(max_length=64)]
Text255 = Annotated[str, Field(max_length=255)]


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Store(_Value):
    """The shop an order was placed in; `store_no` or `store_id` (or both) identify it."""

    store_no: Text64 | None = None
    store_id: Text64 | None = None
    name: Text255 | None = None

    @model_validator(mode="after")
    def _identified(self) -> Store:
        if not self.store_no and not self.store_id:
            raise ValueError("store_no and store_id are both blank: one of them is required")
        return self

    @property
    def key(self) -> str:
        """The store's identity within a tenant: its store no., else its store ID."""
        return f"no:{self.store_no}" if self.store_no else f"id:{self.store_id}"


class Buyer(_Value):
    """Identifiers of the buyer, in resolution priority: Sobot customer ID > mobile > unionid > nickname."""

    sobot_customer_id: Text64 | None = None
    mobile: Annotated[str, Field(pattern=r"^1\d{10}$")] | None = None
    unionid: Text64 | None = None
    nickname: Text255 | None = None

    @model_validator(mode="after")
    def _identified(self) -> Buyer:
        if not (self.sobot_customer_id or self.mobile or self.unionid or self.nickname):
            raise ValueError("buyer has no identifier: give a Sobot customer ID, mobile, unionid or nickname")
        return self


class Receiver(_Value):
    name: Text255 | None = None
    mobile: Text64 | None = None
    address: Annotated[str, Field(max_length=500)] | None = None


class OrderLine(_Value):
    """One product line. Key within an order: (product_id, sku); `sku` is "" when the product has none."""

    product_id: Text64 = Field(min_length=1)
    sku: Text64 = ""
    product_name: Text255 | None = None
    quantity: int = Field(gt=0, le=1_000_000)
    unit_price: Money
    line_amount: Money | None = None
    row_no: int | None = Field(default=None, description="Sheet row this line came from (imports only).")


class Order(_Value):
    """One order with its lines, as exported by the shop platform."""

    order_no: Text64 = Field(min_length=1)
    source: OrderSource
    status: OrderStatus
    status_raw: Text64 = Field(description="The status text as the platform or file wrote it.")
    order_time: AwareDatetime
    payment_time: AwareDatetime | None = None
    store: Store
    buyer: Buyer
    receiver: Receiver | None = None
    order_amount: Money | None = None
    paid_amount: Money | None = None
    remark: Annotated[str, Field(max_length=1000)] | None = None
    lines: list[OrderLine] = Field(min_length=1, max_length=5000)

    @model_validator(mode="after")
    def _distinct_lines(self) -> Order:
        keys = [(line.product_id, line.sku) for line in self.lines]
        if len(set(keys)) != len(keys):
            raise ValueError("two lines have the same product_id and sku")
        return self
