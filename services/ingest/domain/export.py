"""An order list as rows of the import template: one row per order line, the template's columns in its order.

Pure: rows in (the stored order's fields and one of its lines), text cells out. What is written imports back as the
same order: the source as its template label, the status as the order gave it (else its label), times as
`YYYY-MM-DD HH:MM:SS` in the export's time zone (give the same zone when importing), money with its two decimals,
every empty field as an empty cell. For a tenant whose API callers get masked mobiles, the buyer's and the
receiver's mobiles are masked exactly as the order's details mask them (`domain.erasure.mask_mobile`); such an
export imports back with the masked mobiles.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any

from services.core.money import money_text
from services.core.order import OrderSource, OrderStatus
from services.ingest.domain.erasure import mask_mobile
from services.ingest.domain.spreadsheet.template import COLUMNS, SOURCE_LABELS, STATUS_INDEX, STATUS_LABELS, label_key

HEADER: tuple[str, ...] = tuple(column.header for column in COLUMNS)
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"  # the template's own time format (see `domain.spreadsheet.template`)

Fields = Mapping[str, Any]


def _time(value: datetime | None, zone: tzinfo) -> str:
    return value.astimezone(zone).strftime(TIME_FORMAT) if value is not None else ""


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return money_text(value)  # the one money formatter
    return str(value)


def _part(record: Fields | None, name: str) -> str:
    return _text(record.get(name)) if record else ""


def status_text(status: OrderStatus, status_raw: str) -> str:
    """The status as the order gave it when the template reads it as that status (so a re-import stores the same
    `status_raw`), else the status's template label (a platform's own status text, from the topic)."""
    return status_raw if STATUS_INDEX.get(label_key(status_raw)) is status else STATUS_LABELS[status]


def _mobile(record: Fields | None, mask: bool) -> str:
    found = _part(record, "mobile")
    return (mask_mobile(found) or "") if mask and found else found


def cells(line: Fields, zone: tzinfo, mask: bool = False) -> dict[str, str]:
    """The template's cells (by column key) of one order line and its order's fields (`queries.EXPORT_LINES`);
    mobiles masked when `mask`."""
    order = line
    store, buyer, receiver = order["store"], order["buyer"], order.get("receiver")
    return {
        "order_no": order["order_no"],
        "source": SOURCE_LABELS[OrderSource(order["source"])],
        "status": status_text(OrderStatus(order["status"]), order["status_raw"]),
        "order_time": _time(order["order_time"], zone),
        "payment_time": _time(order["payment_time"], zone),
        "store_no": _part(store, "store_no"),
        "store_id": _part(store, "store_id"),
        "store_name": _part(store, "name"),
        "product_id": line["product_id"],
        "sku": line["sku"],
        "product_name": _text(line["product_name"]),
        "quantity": _text(line["quantity"]),
        "unit_price": _text(line["unit_price"]),
        "line_amount": _text(line["line_amount"]),
        "order_amount": _text(order["order_amount"]),
        "paid_amount": _text(order["paid_amount"]),
        "buyer_sobot_id": _part(buyer, "sobot_customer_id"),
        "buyer_mobile": _mobile(buyer, mask),
        "buyer_unionid": _part(buyer, "unionid"),
        "buyer_nickname": _part(buyer, "nickname"),
        "receiver_name": _part(receiver, "name"),
        "receiver_mobile": _mobile(receiver, mask),
        "receiver_address": _part(receiver, "address"),
        "remark": _text(order["remark"]),
    }


def orders_within(line_counts: Sequence[int], max_lines: int) -> int:
    """How many of the orders (with these line counts, in order) an export page takes: as many as hold at most
    `max_lines` lines in all, and always the first (an order of more lines than a page is a page of its own)."""
    total = 0
    for taken, count in enumerate(line_counts):
        total += count
        if total > max_lines and taken:
            return taken
    return len(line_counts)


def row(line: Fields, zone: tzinfo, mask: bool = False) -> list[str]:
    """One order line (with its order's fields) as a template row, cells in `HEADER` order (mobiles masked when
    `mask`)."""
    found = cells(line, zone, mask)
    return [found[column.key] for column in COLUMNS]
