"""The split: checked rows into orders (one message each, later), grouped by Order No.; the rows of an order must
agree; the `Order`s are built here.

Guarantees:
- Every row with a usable Order No. belongs to exactly one group; groups keep the order of first appearance and
  rows keep file order within a group.
- An order is built only when every one of its rows is valid; otherwise it is held back whole.
- An order of more than `bounds.MAX_LINES_PER_ORDER` lines, or whose lines add up to more than `bounds.MAX_MONEY`,
  is an error on every one of its rows: what is built can be published and stored.
- Orders are assembled with `model_construct` after the cell and row rules have enforced every constraint of
  `order.py` (lengths, patterns, store/buyer identified, distinct lines), so building never raises.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from operator import itemgetter
from typing import Any, TypeVar

from pydantic import BaseModel

from services.core import bounds
from services.core.order import Buyer, Order, OrderLine, Receiver, Store, construct
from services.ingest.domain.spreadsheet import issues
from services.ingest.domain.spreadsheet.issues import RowIssue
from services.ingest.domain.spreadsheet.rows import INVALID, CheckedRows, Field, shown
from services.ingest.domain.spreadsheet.values import ERROR_VALUES, clean

ORDER_LEVEL_KEYS = (
    "source",
    "status",
    "order_time",
    "payment_time",
    "store_no",
    "store_id",
    "buyer_sobot_id",
    "buyer_mobile",
    "buyer_unionid",
    "buyer_nickname",
    "order_amount",
    "paid_amount",
)
MAX_LINES = bounds.MAX_LINES_PER_ORDER


def fill_order_fields(columns: Sequence[Sequence[str]], fields: Sequence[Field]) -> list[Sequence[str]]:
    """The rows' cells column by column, an order's fields given once: in a column of `ORDER_LEVEL_KEYS`, a blank
    cell takes the cell of the first row of the same Order No. that has one. Many exports lay out an order of
    several products this way (its fields on its first line only; merged cells are filled down by the reader):
    the order reads as if each of its rows repeated them. Two different values still disagree
    (`inconsistent_order`); a row without Order No., and an order that gives a field on none of its rows (an
    error value such as #N/A gives nothing), stay as they are. The uploaded cells (the result workbook's) are not
    changed: only what is checked."""
    positions = {spec.column.key: spec.index for spec in fields}
    order_position = positions.get("order_no")
    filled = list(columns)
    if order_position is None:
        return filled
    order_nos: list[str] | None = None
    for key in ORDER_LEVEL_KEYS:
        position = positions.get(key)
        if position is None:
            continue
        texts = columns[position]
        if texts.count("") in (0, len(texts)):  # no blank cell, or nothing else
            continue
        if order_nos is None:
            order_nos = [text.strip() for text in columns[order_position]]
        given: dict[str, str] = {}
        for order_no, text in zip(order_nos, texts, strict=True):
            if text and order_no not in given and order_no and ("#" not in text or clean(text) not in ERROR_VALUES):
                given[order_no] = text
        if given:
            filled[position] = [
                given.get(order_no, "") if text == "" else text for order_no, text in zip(order_nos, texts, strict=True)
            ]
    return filled


M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class HeldBackOrder:
    """An order not imported because at least one of its rows is invalid; `rows` are all its sheet rows."""

    order_no: str
    rows: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Grouped:
    orders: list[Order]
    held_back: list[HeldBackOrder]


def group_rows(checked: CheckedRows, fields: Sequence[Field]) -> Grouped:
    """Group rows into orders, adding consistency, duplicate-line and line-count errors to `checked`."""
    headers = {spec.column.key: spec.header for spec in fields}
    values = checked.values
    order_keys = [key for key in ORDER_LEVEL_KEYS if key in values]
    columns = Columns.of(checked)
    # The rows' order-level fields (and status_raw, and None for absent columns): rows whose tuples differ are
    # compared field by field, so a status spelt two ways costs a closer look, never an error.
    signatures = columns.heads
    orders: list[Order] = []
    held_back: list[HeldBackOrder] = []
    groups = _by_order_no(values["order_no"])
    totals_fit = _order_totals_fit(values, max(map(len, groups.values()), default=0))
    for order_no, members in groups.items():
        if len(members) > 1:
            if itemgetter(*members)(signatures).count(signatures[members[0]]) != len(members):
                _check_consistency(checked, order_no, members, order_keys, headers)
            if len({columns.lines[i][:2] for i in members}) != len(members):  # (product_id, sku) repeated
                _check_lines(checked, order_no, members, columns.lines, headers)
            if len(members) > MAX_LINES:
                too_many = _too_many(order_no, members)
                _refuse_order(checked, order_no, members, headers["order_no"], issues.TOO_MANY_LINES, too_many)
            elif not totals_fit and not (checked.errors and any(i in checked.errors for i in members)):
                _check_order_total(checked, order_no, members, columns, headers)
        if checked.errors and any(i in checked.errors for i in members):
            held_back.append(HeldBackOrder(order_no, tuple(checked.row_nos[i] for i in members)))
        else:
            orders.append(build_order(order_no, columns, members))
    return Grouped(orders, held_back)


def _by_order_no(order_nos: Sequence[Any]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {}
    for index, order_no in enumerate(order_nos):
        if type(order_no) is str:
            groups.setdefault(order_no, []).append(index)
    return groups


def _order_totals_fit(values: dict[str, list[Any]], most_lines: int) -> bool:
    """Whether no order of at most `most_lines` lines can add up past `bounds.MAX_MONEY`: each line adds at most
    the largest Line Amount or the largest Quantity times the largest Unit Price (all of them non-negative)."""
    try:
        largest = max(
            max(values["quantity"]) * max(values["unit_price"]),
            max(filter(None, values.get("line_amount", ())), default=0),
        )
    except TypeError:  # an invalid or blank cell: each order is added up
        return False
    return bool(largest * most_lines <= bounds.MAX_MONEY)


def _text(value: Any) -> str:
    if value is None:
        return ""
    return f"{value:%Y-%m-%d %H:%M:%S}" if isinstance(value, datetime) else str(value)


def _check_consistency(
    checked: CheckedRows, order_no: str, members: list[int], keys: Sequence[str], headers: dict[str, str]
) -> None:
    """Each order-level field must equal the order's first row that has a usable value for it."""
    for key in keys:
        column = checked.values[key]
        reference = next((i for i in members if column[i] is not INVALID), None)
        if reference is None:
            continue
        expected = column[reference]
        for index in members:
            value = column[index]
            if value is INVALID or value == expected:
                continue
            row_no, header = checked.row_nos[index], headers[key]
            message = (
                f'Row {row_no}, column "{header}": "{shown(_text(value))}" differs from "{shown(_text(expected))}" '
                f'on row {checked.row_nos[reference]}, the first row of order "{order_no}"; all rows of one order '
                "must agree."
            )
            checked.add_error(index, RowIssue(row_no, header, issues.INCONSISTENT_ORDER, message, _text(value)))


def _check_lines(
    checked: CheckedRows,
    order_no: str,
    members: list[int],
    lines: Sequence[tuple[Any, ...]],
    headers: dict[str, str],
) -> None:
    """`lines` are `Columns.lines`: each row's `LINE_FIELDS`, product ID and SKU first."""
    first_row: dict[tuple[str, str], int] = {}
    for index in members:
        row_no = checked.row_nos[index]
        product_id, sku = lines[index][:2]
        if type(product_id) is not str or sku is INVALID:
            continue
        seen = first_row.setdefault((product_id, sku or ""), row_no)
        if seen != row_no:
            header = headers["product_id"]
            message = (
                f'Row {row_no}, column "{header}": product "{shown(product_id)}" SKU "{shown(sku or "")}" of order '
                f'"{order_no}" is already on row {seen}; each Product ID + SKU appears once per order.'
            )
            checked.add_error(index, RowIssue(row_no, header, issues.DUPLICATE_LINE, message, product_id))


def _too_many(order_no: str, members: list[int]) -> str:
    return (
        f'order "{shown(order_no)}" has {len(members):,} lines in this file; expected at most {MAX_LINES:,} lines per '
        "order (an order is published as one message)"
    )


def _refuse_order(
    checked: CheckedRows, order_no: str, members: list[int], header: str, code: str, problem: str
) -> None:
    """The same error on every row of an order: `Row N: <problem>.`"""
    for index in members:
        row_no = checked.row_nos[index]
        checked.add_error(index, RowIssue(row_no, header, code, f"Row {row_no}: {problem}.", order_no))


def _check_order_total(
    checked: CheckedRows, order_no: str, members: list[int], columns: Columns, headers: dict[str, str]
) -> None:
    """The order's lines (Line Amount, else Quantity x Unit Price) must add up to a storable amount."""
    total = sum((_line_total(columns.lines[i]) for i in members), Decimal(0))
    if total > bounds.MAX_MONEY:
        problem = f'the lines of order "{shown(order_no)}" add up to {total:,}; expected at most {bounds.MAX_MONEY:,}'
        header = headers.get("line_amount", headers["unit_price"])
        _refuse_order(checked, order_no, members, header, issues.TOTAL_TOO_LARGE, problem + " per order")


def _line_total(line: tuple[Any, ...]) -> Decimal:
    _, _, _, quantity, price, amount = line
    return amount if amount is not None else price * quantity  # type: ignore[no-any-return]


ORDER_FIELDS = (*ORDER_LEVEL_KEYS[:2], "status_raw", *ORDER_LEVEL_KEYS[2:])
LINE_FIELDS = ("product_id", "sku", "product_name", "quantity", "unit_price", "line_amount")
EXTRA_FIELDS = ("store_name", "receiver_name", "receiver_mobile", "receiver_address", "remark")


def records(values: dict[str, list[Any]], keys: Sequence[str], size: int) -> list[tuple[Any, ...]]:
    """One tuple per row of the given columns (a column absent from the file reads as blank)."""
    blank = [None] * size
    return list(zip(*(values.get(key, blank) for key in keys), strict=True))


def _construct(model: type[M], values: dict[str, Any]) -> M:
    """`model_construct` for a complete, already-checked dict of fields (`order.construct`: it costs a third of
    the parse otherwise). Tests check `model_validate(model_dump())` gives the same model."""
    return construct(model, values, _ALL_FIELDS[model])


# Every field of a model built here counts as set: the names once, as a frozenset (a set copies it at half the
# cost of collecting the keys of each model's dict).
_ALL_FIELDS: dict[type[BaseModel], frozenset[str]] = {
    model: frozenset(model.model_fields) for model in (Order, OrderLine, Buyer, Receiver, Store)
}


def _first(extras: Sequence[tuple[Any, ...]], members: Sequence[int], position: int) -> Any:
    return next((extras[i][position] for i in members if extras[i][position] is not None), None)


def _receiver(extras: Sequence[tuple[Any, ...]], members: Sequence[int]) -> Receiver | None:
    row: tuple[Any, ...] | None = extras[members[0]]
    if row is not None and row[1:4] == (None, None, None):
        row = next((extras[i] for i in members if extras[i][1:4] != (None, None, None)), None)
    if row is None:
        return None
    return _construct(Receiver, {"name": row[1], "mobile": row[2], "address": row[3]})


def _lines(rows: Columns, members: Sequence[int]) -> list[OrderLine]:
    lines, row_nos = rows.lines, rows.row_nos
    return [
        _construct(
            OrderLine,
            {
                "product_id": product_id,
                "sku": sku or "",
                "product_name": name,
                "quantity": quantity,
                "unit_price": price,
                "line_amount": amount,
                "row_no": row_nos[index],
            },
        )
        for index in members
        for product_id, sku, name, quantity, price, amount in (lines[index],)
    ]


@dataclass(frozen=True, slots=True)
class Columns:
    """The checked values regrouped as per-row tuples of `ORDER_FIELDS`, `LINE_FIELDS` and `EXTRA_FIELDS`."""

    heads: list[tuple[Any, ...]]
    lines: list[tuple[Any, ...]]
    extras: list[tuple[Any, ...]]
    row_nos: list[int]
    stores: dict[tuple[Any, ...], Store]

    @classmethod
    def of(cls, checked: CheckedRows) -> Columns:
        size = len(checked.row_nos)
        return cls(
            records(checked.values, ORDER_FIELDS, size),
            records(checked.values, LINE_FIELDS, size),
            records(checked.values, EXTRA_FIELDS, size),
            checked.row_nos,
            {},
        )


def _store(stores: dict[tuple[Any, ...], Store], key: tuple[Any, ...]) -> Store:
    """Stores repeat across orders and are immutable: one instance per distinct (no, id, name)."""
    store = stores.get(key)
    if store is None:
        store = stores[key] = _construct(Store, {"store_no": key[0], "store_id": key[1], "name": key[2]})
    return store


def build_order(order_no: str, rows: Columns, members: Sequence[int]) -> Order:
    """The `Order` of valid, mutually consistent rows: order-level fields from the first row; store name, receiver
    and remark from the first row that has them."""
    head, extras = rows.heads[members[0]], rows.extras[members[0]]
    (source, status, status_raw, ordered, paid, store_no, store_id, sobot_id, mobile, unionid, nickname) = head[:11]
    store_name = extras[0] if extras[0] is not None else _first(rows.extras, members, 0)
    remark = extras[4] if extras[4] is not None else _first(rows.extras, members, 4)
    buyer = {"sobot_customer_id": sobot_id, "mobile": mobile, "unionid": unionid, "nickname": nickname}
    return _construct(
        Order,
        {
            "order_no": order_no,
            "source": source,
            "status": status,
            "status_raw": status_raw,
            "order_time": ordered,
            "payment_time": paid,
            "store": _store(rows.stores, (store_no, store_id, store_name)),
            "buyer": _construct(Buyer, buyer),
            "receiver": _receiver(rows.extras, members),
            "order_amount": head[11],
            "paid_amount": head[12],
            "remark": remark,
            "lines": _lines(rows, members),
        },
    )
