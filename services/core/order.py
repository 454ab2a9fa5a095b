"""The order as Order Info understands it: one order, its buyer, its store and its product lines.

Pure values, no IO. The import parser produces these, the `orders.ingest.v1` contract carries them and the
consumer stores them. Money is `Decimal` with two places; times are timezone-aware instants.

Whatever validates here can be stored (`bounds`): every text field refuses characters PostgreSQL or a workbook
cannot hold, times lie in the stored range in every zone, an order has at most `bounds.MAX_LINES_PER_ORDER` lines,
and computed amounts (quantity x unit price, the sum of the lines) fit the money columns.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    model_validator,
)
from pydantic.config import JsonDict

from services.core import bounds


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


def _storable_text(value: str) -> str:
    problem = bounds.unstorable_text_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _visible_identifier(value: str) -> str:
    problem = bounds.identifier_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _addressable_order_no(value: str) -> str:
    problem = bounds.order_no_problem(value)
    if problem is not None:
        raise ValueError(f"the order no. {problem}")
    return value


def _storable_time(value: datetime) -> datetime:
    if not bounds.time_in_range(value):
        raise ValueError(f"{value.isoformat()} is out of range: times must lie {bounds.TIME_RANGE_TEXT} (UTC)")
    return value


def json_integer(value: object) -> object:
    """JSON integers only: `true`, `1.0` and `"1"` are what the published schema calls not an integer."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"must be a JSON integer, not {_json_kind(value)}")
    return value


def _plain_money(value: object) -> object:
    """A JSON number, or a string in plain decimal notation; never a boolean, exponent, sign, NaN or Infinity."""
    if isinstance(value, bool):
        raise ValueError('must be an amount (a JSON number or a string like "1299.00"), not a boolean')
    if isinstance(value, str) and _PLAIN_DECIMAL.fullmatch(value) is None:
        raise ValueError(f'{value[:40]!r} is not an amount: write digits with an optional point, like "1299.00"')
    return value


def _to_cents(value: Decimal) -> Decimal:
    return value.quantize(CENT) + 0  # two places; "+ 0" turns a JSON -0 into 0


def time_text(value: object) -> object:
    """Times are RFC 3339 strings with an offset: a JSON number, or a string of one (`"1790000000"`, `"1.79e9"`),
    which pydantic would read as epoch seconds or milliseconds, is not. A string must start `YYYY-MM-DD`."""
    if isinstance(value, bool | int | float):
        raise ValueError(f"must be a date-time string with its offset, like {_TIME_EXAMPLE}, not a number")
    if isinstance(value, str) and _DATE_START.match(value) is None:
        raise ValueError(f"{value[:40]!r} is not a date-time: write it like {_TIME_EXAMPLE} (not epoch seconds)")
    return value


def _blank_as_absent(value: object) -> object:
    """Blank text (empty or whitespace only, as many mall integrations send for "no value") is absent, as a missing
    field is (docs/merging.md): for a field whose value has a pattern, before the pattern refuses it."""
    return None if isinstance(value, str) and not value.strip() else value


def _json_kind(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    return {str: "a string", float: "a number with a decimal point"}.get(type(value), type(value).__name__)


CENT = Decimal("0.01")
MOBILE_PATTERN = r"^1[0-9]{10}$"  # ASCII digits only: `\d` would take any script's digits (one buyer, two numbers)
_PLAIN_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?")
# The texts `Money` takes, as the schema says it: plain decimals of at most 12 integer digits (leading zeros aside) and
# 2 decimals (trailing zeros aside), so a producer validating against the schema agrees with the model.
_MONEY_TEXT = r"^0*[0-9]{1,12}(?:\.[0-9]{1,2}0*)?$"
_DATE_START = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TIME_EXAMPLE = "2026-03-01T09:00:00+08:00"
_MONEY_SCHEMA = {
    "anyOf": [
        {"type": "number", "minimum": 0, "maximum": float(bounds.MAX_MONEY)},
        {"type": "string", "pattern": _MONEY_TEXT},
    ],
    "description": "An amount >= 0 with at most 2 decimals: a JSON number, or a string in plain decimal notation "
    "(at most 12 digits before the point).",
}
Integer = Annotated[int, BeforeValidator(json_integer)]
Money = Annotated[
    Decimal,
    BeforeValidator(_plain_money),
    Field(ge=0, le=bounds.MAX_MONEY, max_digits=14, decimal_places=2),
    AfterValidator(_to_cents),
    WithJsonSchema(_MONEY_SCHEMA),
]
Text = Annotated[str, AfterValidator(_storable_text)]
Text64 = Annotated[Text, Field(max_length=64)]
Id64 = Annotated[Text64, AfterValidator(_visible_identifier)]  # an identifier: no invisible character (bounds)
Text255 = Annotated[Text, Field(max_length=255)]
# A required text: the schema says what `min_length` after the strip means (one character other than whitespace).
NOT_BLANK: JsonDict = {"pattern": r"\S"}
Time = Annotated[AwareDatetime, BeforeValidator(time_text), AfterValidator(_storable_time)]


def _or_blank(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema of an optional field whose value has a form (`schema`): that, blank text (absent) or null."""
    blank = {"type": "string", "pattern": r"^\s*$", "description": "Blank (empty or whitespace only): absent."}
    return {"anyOf": [schema, blank, {"type": "null"}]}


# Optional values with a form (a pattern, a time, an amount): blank text is absent (None), as a blank cell of a file
# is, never a refused order (docs/merging.md).
Mobile = Annotated[  # a buyer's mobile: `1` and ten ASCII digits
    Annotated[str, Field(pattern=MOBILE_PATTERN)] | None,
    BeforeValidator(_blank_as_absent),
    WithJsonSchema(_or_blank({"type": "string", "pattern": MOBILE_PATTERN})),
]
OptionalTime = Annotated[
    Time | None, BeforeValidator(_blank_as_absent), WithJsonSchema(_or_blank({"type": "string", "format": "date-time"}))
]
OptionalMoney = Annotated[Money | None, BeforeValidator(_blank_as_absent), WithJsonSchema(_or_blank(_MONEY_SCHEMA))]


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Store(_Value):
    """The shop an order was placed in; `store_no` or `store_id` (or both) identify it."""

    store_no: Id64 | None = None
    store_id: Id64 | None = None
    name: Text255 | None = None

    @model_validator(mode="after")
    def _identified(self) -> Store:
        if not self.store_no and not self.store_id:
            raise ValueError("store_no and store_id are both blank: one of them is required")
        return self

    @property
    def key(self) -> str:
        """The store's identity within a tenant: its store no., else its store ID."""
        return store_key(self.store_no, self.store_id)


def store_key(store_no: str | None, store_id: str | None) -> str:
    """`Store.key` of a store with these identifiers."""
    return f"no:{store_no}" if store_no else f"id:{store_id}"


class Buyer(_Value):
    """Identifiers of the buyer, in resolution priority: Sobot customer ID > mobile > unionid > nickname."""

    sobot_customer_id: Id64 | None = None
    mobile: Mobile = None
    unionid: Id64 | None = None
    nickname: Text255 | None = None

    @model_validator(mode="after")
    def _identified(self) -> Buyer:
        if not (self.sobot_customer_id or self.mobile or self.unionid or self.nickname):
            raise ValueError("buyer has no identifier: give a Sobot customer ID, mobile, unionid or nickname")
        return self


class Receiver(_Value):
    name: Text255 | None = None
    mobile: Text64 | None = None
    address: Annotated[Text, Field(max_length=500)] | None = None


class OrderLine(_Value):
    """One product line. Key within an order: (product_id, sku); `sku` is "" when the product has none."""

    product_id: Id64 = Field(min_length=1, json_schema_extra=NOT_BLANK)
    sku: Id64 = ""
    product_name: Text255 | None = None
    quantity: Integer = Field(gt=0, le=bounds.MAX_QUANTITY)
    unit_price: Money
    line_amount: OptionalMoney = None
    row_no: Integer | None = Field(default=None, description="Sheet row this line came from (imports only).")

    @model_validator(mode="after")
    def _storable_total(self) -> OrderLine:
        if not bounds.money_in_range(self.unit_price * self.quantity):
            raise ValueError(
                f"quantity x unit_price = {self.unit_price * self.quantity} is more than {bounds.MAX_MONEY}, "
                "the largest amount that can be stored"
            )
        return self

    def amount(self) -> Decimal:
        """The line's stored amount: `line_amount` when given, else quantity x unit price."""
        return self.line_amount if self.line_amount is not None else self.unit_price * self.quantity


class Order(_Value):
    """One order with its lines, as exported by the shop platform."""

    order_no: Annotated[Id64, AfterValidator(_addressable_order_no)] = Field(min_length=1, json_schema_extra=NOT_BLANK)
    source: OrderSource
    status: OrderStatus
    status_raw: Text64 = Field(description="The status text as the platform or file wrote it.")
    order_time: Time
    payment_time: OptionalTime = None
    store: Store
    buyer: Buyer
    receiver: Receiver | None = None
    order_amount: OptionalMoney = Field(
        None,
        description="The order amount as the platform gives it (订单金额), optional. Order Info's `total_amount` is "
        "this when given, else the sum of the lines.",
    )
    paid_amount: OptionalMoney = Field(None, description="What the buyer paid (实付金额), optional.")
    remark: Annotated[Text, Field(max_length=1000)] | None = None
    lines: list[OrderLine] = Field(min_length=1, max_length=bounds.MAX_LINES_PER_ORDER)

    @model_validator(mode="after")
    def _distinct_lines(self) -> Order:
        keys = [(line.product_id, line.sku) for line in self.lines]
        if len(set(keys)) != len(keys):
            raise ValueError("two lines have the same product_id and sku")
        return self

    @model_validator(mode="after")
    def _storable_sum(self) -> Order:
        total = sum((line.amount() for line in self.lines), Decimal(0))
        if not bounds.money_in_range(total):
            raise ValueError(
                f"the lines add up to {total}, more than {bounds.MAX_MONEY}, the largest amount that can be stored"
            )
        return self


M = TypeVar("M", bound=BaseModel)


# The four slots of every model instance, set through their descriptors: a third cheaper than `object.__setattr__`
# by name (0.66 against 0.92 us an instance; a parse builds ~9,000 of them, a consumer batch as many).
_SET_DICT, _SET_FIELDS_SET, _SET_EXTRA, _SET_PRIVATE = (
    vars(BaseModel)[slot].__set__
    for slot in ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__")
)


def construct(model: type[M], values: dict[str, Any], given: Any = None) -> M:
    """`model` holding `values` (every field, in declaration order, already checked), as validation leaves it:
    `model_construct` without its per-field bookkeeping. The fields in `given` (default: all) count as set."""
    instance = model.__new__(model)
    _SET_DICT(instance, values)
    _SET_FIELDS_SET(instance, set(values if given is None else given))
    _SET_EXTRA(instance, None)
    _SET_PRIVATE(instance, None)
    return instance
