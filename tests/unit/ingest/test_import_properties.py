"""Property tests: grouping keeps every valid row in exactly one order; the bulk and per-cell paths agree."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from services.core.order import Order
from services.ingest.application.parsing import parse_import
from services.ingest.domain.spreadsheet.rows import CheckedRows, Field, RowRules, _bulk, _one_by_one
from services.ingest.domain.spreadsheet.template import COLUMNS, Kind
from services.ingest.domain.spreadsheet.values import DEFAULT_PLACEHOLDER_MOBILES
from tests.unit.ingest.test_import_support import csv_bytes, row

CHANGES = st.fixed_dictionaries(
    {
        "OrderNo": st.sampled_from(["A", "B", "C", "D", ""]),
        "ProductID": st.sampled_from(["P1", "P2", "P3"]),
        "ProductSKU": st.sampled_from(["", "red"]),
        "OrderSource": st.sampled_from(["Youzan", "有赞", "youzan", "Douyin", "Pinduoduo"]),
        "OrderStatus": st.sampled_from(["Paid", "已付款", "Shipped"]),
        "Quantity": st.sampled_from(["1", "2", "3.0", "0", "2.5"]),
        "UnitPrice": st.sampled_from(["1", "9.99", "¥1,000", "1.234"]),
        "LineAmount": st.just(""),
        "BuyerMobile": st.sampled_from(["13912345678", "13800000000", "", "139 1234 5679"]),
        "BuyerNickname": st.sampled_from(["", "Lily"]),
    }
)


@settings(max_examples=150, deadline=None)
@given(st.lists(CHANGES, min_size=1, max_size=12))
def test_every_valid_row_is_in_exactly_one_order(changes: list[dict[str, Any]]) -> None:
    parsed = parse_import(csv_bytes([row(**c) for c in changes]), "o.csv")
    invalid = {issue.row for issue in parsed.errors}
    valid = {r.row_no for r in parsed.rows} - invalid
    imported = Counter(line.row_no for order in parsed.orders for line in order.lines)
    held = Counter(row_no for order in parsed.held_back for row_no in order.rows)
    placed = imported + held
    assert all(placed[row_no] == 1 for row_no in valid)
    assert set(imported) <= valid and all(count == 1 for count in placed.values())
    assert all(set(order.rows) & invalid for order in parsed.held_back)
    assert parsed.counts.valid_rows == len(valid) and parsed.counts.invalid_rows == len(invalid)
    no_order = {r.row_no for r, c in zip(parsed.rows, changes, strict=True) if not c["OrderNo"]}
    assert set(placed) == {r.row_no for r in parsed.rows} - no_order
    for order in parsed.orders:
        assert Order.model_validate(order.model_dump()) == order


CANONICAL_TEXT = {
    Kind.MONEY: st.from_regex(r"\A\d{1,12}(\.\d{1,2})?\Z"),
    Kind.QUANTITY: st.integers(1, 999_999).map(str),
    Kind.TIME: st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(2099, 12, 30)).map(
        lambda d: f"{d:%Y-%m-%d %H:%M:%S}"
    ),
    Kind.MOBILE: st.from_regex(r"\A1[3-9][0-9]{9}\Z"),
    Kind.RECEIVER_MOBILE: st.from_regex(r"\A1[3-9][0-9]{9}\Z"),
    Kind.ID: st.text(min_size=1, max_size=70),
    Kind.TEXT: st.text(max_size=300),
}
BULK_COLUMNS = [c for c in COLUMNS if c.kind in CANONICAL_TEXT and not c.required]


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_bulk_path_equals_the_cell_by_cell_path(data: st.DataObject) -> None:
    column = data.draw(st.sampled_from(BULK_COLUMNS))
    texts = data.draw(st.lists(CANONICAL_TEXT[column.kind] | st.just(""), min_size=1, max_size=8))
    spec = Field(column, 0, column.english)
    rules = RowRules(ZoneInfo("Asia/Shanghai"), DEFAULT_PLACEHOLDER_MOBILES)
    bulk = _bulk(column, texts, "\x00".join(texts), rules)
    by_cell = CheckedRows(list(range(2, len(texts) + 2)), {})
    expected = _one_by_one(by_cell, spec, texts, rules)
    if column.kind in (Kind.MONEY, Kind.QUANTITY, Kind.TIME):
        assert bulk is not None  # canonical by construction
    if bulk is not None:
        assert bulk == expected and by_cell.errors == {} and by_cell.warnings == {}
