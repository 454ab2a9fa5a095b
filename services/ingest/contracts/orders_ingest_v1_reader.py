"""A fast reader of `orders.ingest.v1` values, for the consumer's hot path: the model's decisions, at a fraction
of their cost, for the plain spelling producers send.

`read_plain(value)` answers the message a value holds when every field is spelled plainly: JSON that orjson reads,
canonical lowercase UUIDs, times `YYYY-MM-DDTHH:MM:SS[.ffffff](Z|+HH:MM)`, money as strings of digits with at most
two decimals, integers as JSON integers, text whose surrounding whitespace (if any) is ASCII. The answer is the
model `OrderIngestV1.model_validate_json(value)` would build (the same values, types and set fields; a time's zone is
a `datetime.timezone`, see `_time`).

Whatever is not plain, or not valid, it answers None: then the model validates the value, and decides (accepts it,
or says why not). So the reader never rejects anything and never explains anything; a differential test holds its
answers to the model's on random and hostile values (tests/unit/ingest/test_ingest_reader.py).
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import orjson

from services.core import bounds
from services.core.order import CENT, Buyer, OrderLine, OrderSource, OrderStatus, Receiver, Store, construct
from services.ingest.contracts.orders_ingest_v1 import OrderIngestV1


class _NotPlain(Exception):
    """The value is not in the plain spelling (or not valid): the model decides."""


def read_plain(value: bytes) -> OrderIngestV1 | None:
    """The message `value` holds, when it is valid and plainly spelled (see the module); else None."""
    try:
        raw = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    if type(raw) is not dict:
        return None
    try:
        message = _message(raw)
    except _NotPlain:
        return None
    if any(mark in value for mark in _MAY_HIDE_UNSTORABLE) and not _storable(message):
        return None
    if (b"\\" in value or not value.isascii()) and not _visible_identifiers(message):
        return None
    return message


def _visible_identifiers(message: OrderIngestV1) -> bool:
    """No identifier of `message` holds an invisible character (`bounds.identifier_problem`), which a value holds
    only as UTF-8 beyond ASCII or behind an escape."""
    store, buyer = message.store, message.buyer
    ids = [
        message.order_no,
        store.store_no or "",
        store.store_id or "",
        buyer.sobot_customer_id or "",
        buyer.unionid or "",
    ]
    for line in message.lines:
        ids += (line.product_id, line.sku)
    return all(text.isascii() or bounds.invisible_char(text) is None for text in ids)


def read_claims(value: bytes) -> tuple[UUID | None, Buyer] | None:
    """The import ID and buyer of `value` as the model reads them, when both are plainly spelled; else None.

    Not a validation: for a value this consumer accepted before (a redelivery recognised by its digest, see
    `ingestion.prefilter`), whose other fields need no reading again."""
    try:
        raw = orjson.loads(value)
        return _uuid(raw.get("import_id")), _buyer(raw.get("buyer"))
    except (orjson.JSONDecodeError, AttributeError, _NotPlain):
        return None


# JSON hides a character that cannot be stored (see `bounds`) only behind an escape or as U+FFFE/U+FFFF in UTF-8
# (a raw control character is no JSON): without them, every text is storable and none needs reading for it.
_MAY_HIDE_UNSTORABLE = (b"\\", "\ufffe".encode(), "\uffff".encode())


def _storable(message: OrderIngestV1) -> bool:
    """Every text of `message` can be stored."""
    texts = [message.order_no, message.status_raw, message.remark or "", message.producer]
    for part in (message.store, message.buyer, message.receiver):
        if part is not None:
            texts.extend(v for v in vars(part).values() if v is not None)
    for line in message.lines:
        texts += (line.product_id, line.sku, line.product_name or "")
    return bounds.unstorable_char("\n".join(texts)) is None


def _fields(raw: dict[str, Any], allowed: frozenset[str]) -> dict[str, Any]:
    if not allowed.issuperset(raw):  # extra="forbid"
        raise _NotPlain
    return raw


_MESSAGE_FIELDS = frozenset(OrderIngestV1.model_fields)
_STORE_FIELDS, _BUYER_FIELDS = frozenset(Store.model_fields), frozenset(Buyer.model_fields)
_RECEIVER_FIELDS, _LINE_FIELDS = frozenset(Receiver.model_fields), frozenset(OrderLine.model_fields)


def _message(raw: dict[str, Any]) -> OrderIngestV1:
    _fields(raw, _MESSAGE_FIELDS)
    version = raw.get("schema_version", 1)
    if type(version) is not int or version != 1:
        raise _NotPlain
    order_no = _required_text(raw.get("order_no"), 64)
    if bounds.order_no_problem(order_no) is not None:
        raise _NotPlain
    lines = raw.get("lines")
    if type(lines) is not list or not 1 <= len(lines) <= bounds.MAX_LINES_PER_ORDER:
        raise _NotPlain
    order_lines = [_line(line) for line in lines]
    if len({(x.product_id, x.sku) for x in order_lines}) != len(order_lines):
        raise _NotPlain
    if not bounds.money_in_range(sum((x.amount() for x in order_lines), Decimal(0))):
        raise _NotPlain
    receiver = raw.get("receiver")
    values = {
        "order_no": order_no,
        "source": _member(_SOURCES, raw.get("source")),
        "status": _member(_STATUSES, raw.get("status")),
        "status_raw": _given_text(raw.get("status_raw"), 64),
        "order_time": _time(raw.get("order_time"), required=True),
        "payment_time": _time(raw.get("payment_time")),
        "store": _store(raw.get("store")),
        "buyer": _buyer(raw.get("buyer")),
        "receiver": None if receiver is None else _receiver(receiver),
        "order_amount": _money(raw.get("order_amount")),
        "paid_amount": _money(raw.get("paid_amount")),
        "remark": _text(raw.get("remark"), 1000),
        "lines": order_lines,
        "schema_version": 1,
        "tenant_id": _uuid(raw.get("tenant_id"), required=True),
        "import_id": _uuid(raw.get("import_id")),
        "producer": _required_text(raw.get("producer", "import"), 64),
    }
    return construct(OrderIngestV1, values, raw)


def _store(raw: Any) -> Store:
    if type(raw) is not dict:
        raise _NotPlain
    _fields(raw, _STORE_FIELDS)
    store_no, store_id = _text(raw.get("store_no"), 64), _text(raw.get("store_id"), 64)
    if not store_no and not store_id:
        raise _NotPlain
    return construct(Store, {"store_no": store_no, "store_id": store_id, "name": _text(raw.get("name"), 255)}, raw)


def _buyer(raw: Any) -> Buyer:
    if type(raw) is not dict:
        raise _NotPlain
    _fields(raw, _BUYER_FIELDS)
    mobile = _text(raw.get("mobile"), _NO_LIMIT) or None  # blank is absent (`order.Mobile`)
    if mobile is not None and _MOBILE.fullmatch(mobile) is None:
        raise _NotPlain
    values = {
        "sobot_customer_id": _text(raw.get("sobot_customer_id"), 64),
        "mobile": mobile,
        "unionid": _text(raw.get("unionid"), 64),
        "nickname": _text(raw.get("nickname"), 255),
    }
    if not (values["sobot_customer_id"] or mobile or values["unionid"] or values["nickname"]):
        raise _NotPlain
    return construct(Buyer, values, raw)


def _receiver(raw: Any) -> Receiver:
    if type(raw) is not dict:
        raise _NotPlain
    _fields(raw, _RECEIVER_FIELDS)
    values = {
        "name": _text(raw.get("name"), 255),
        "mobile": _text(raw.get("mobile"), 64),
        "address": _text(raw.get("address"), 500),
    }
    return construct(Receiver, values, raw)


def _line(raw: Any) -> OrderLine:
    if type(raw) is not dict:
        raise _NotPlain
    _fields(raw, _LINE_FIELDS)
    quantity = raw.get("quantity")
    if type(quantity) is not int or not 0 < quantity <= bounds.MAX_QUANTITY:
        raise _NotPlain
    unit_price = _money(raw.get("unit_price"), required=True)
    assert unit_price is not None
    if not bounds.money_in_range(unit_price * quantity):
        raise _NotPlain
    row_no = raw.get("row_no")
    if row_no is not None and type(row_no) is not int:
        raise _NotPlain
    values = {
        "product_id": _required_text(raw.get("product_id"), 64),
        "sku": _given_text(raw.get("sku", ""), 64),
        "product_name": _text(raw.get("product_name"), 255),
        "quantity": quantity,
        "unit_price": unit_price,
        "line_amount": _money(raw.get("line_amount")),
        "row_no": row_no,
    }
    return construct(OrderLine, values, raw)


_SOURCES = {s.value: s for s in OrderSource}
_STATUSES = {s.value: s for s in OrderStatus}


def _member(members: dict[str, Any], value: Any) -> Any:
    if type(value) is not str or value not in members:
        raise _NotPlain
    return members[value]


_ASCII_SPACE = " \t\n\r"


def _text(value: Any, max_length: int) -> str | None:
    """Optional text as the model keeps it: stripped (when only ASCII whitespace surrounds it: the model strips
    Unicode whitespace, Python a little more), at most `max_length` characters. Whether it can be stored is checked
    once for the whole message (`_storable`). One function per kind of text, without keyword arguments: a message
    has 17 of them."""
    return None if value is None else _given_text(value, max_length)


def _given_text(value: Any, max_length: int) -> str:
    """Text that must be given (not null) but may be blank (`_text`)."""
    if type(value) is not str:
        raise _NotPlain
    text = value.strip()
    if text is not value and value.strip(_ASCII_SPACE) != text:  # `strip` answers the same text when it strips none
        raise _NotPlain
    if len(text) > max_length:
        raise _NotPlain
    return text


def _required_text(value: Any, max_length: int) -> str:
    """Text that must be given and not blank (`_text`)."""
    text = _given_text(value, max_length)
    if not text:
        raise _NotPlain
    return text


_NO_LIMIT = 1 << 62  # a text whose length the model does not bound (the mobile: its pattern does)


_MOBILE = re.compile("1[0-9]{10}")
_UUID = re.compile("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _uuid(value: Any, *, required: bool = False) -> UUID | None:
    if value is None and not required:
        return None
    if type(value) is not str:
        raise _NotPlain
    known = _UUIDS.get(value)
    if known is not None:
        return known
    if _UUID.fullmatch(value) is None:
        raise _NotPlain
    if len(_UUIDS) >= 4096:
        _UUIDS.clear()
    _UUIDS[value] = UUID(value)
    return _UUIDS[value]


_UUIDS: dict[str, UUID] = {}  # tenants and imports repeat from record to record (a UUID is immutable: shared)


_MONEY = re.compile("[0-9]{1,12}(?:\\.[0-9]{1,2})?")


def _money(value: Any, *, required: bool = False) -> Decimal | None:
    """Money as the model keeps it: with two places (a JSON number is left to the model)."""
    if value is None and not required:
        return None
    if type(value) is not str:
        raise _NotPlain
    known = _MONEYS.get(value)
    if known is not None:
        return known
    if _MONEY.fullmatch(value) is None:
        raise _NotPlain
    two_places = len(value) > 3 and value[-3] == "."  # (and no sign: never -0)
    amount = Decimal(value) if two_places else Decimal(value).quantize(CENT)
    if len(_MONEYS) >= 4096:
        _MONEYS.clear()
    _MONEYS[value] = amount
    return amount


_MONEYS: dict[str, Decimal] = {}  # prices and amounts repeat from record to record (a Decimal is immutable: shared)


_TIME = re.compile(
    "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\\.[0-9]{1,6})?(?:Z|[+-]([0-9]{2}):([0-9]{2}))"
)


def _time(value: Any, *, required: bool = False) -> datetime | None:
    """An aware time as the model keeps it, in the storable range. Its zone is a `datetime.timezone` of the
    offset where the model's is pydantic's `TzInfo`: the same instant and offset, and several times cheaper to
    compare and convert (which planning, personas and events do for every order); the import path's are the same."""
    if value is None and not required:
        return None
    match = _TIME.fullmatch(value) if type(value) is str else None
    if match is None:
        raise _NotPlain
    zone_hours, zone_minutes = match.groups()
    if zone_hours is not None and (int(zone_hours) > 23 or int(zone_minutes) > 59):
        raise _NotPlain
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _NotPlain from None
    if not bounds.time_in_range(moment):
        raise _NotPlain
    return moment
