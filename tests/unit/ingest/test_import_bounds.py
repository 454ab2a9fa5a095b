"""Issue 10, file side: what the parser accepts can be published and stored (`domain.bounds`), and every value
problem is a row error up front: ID number cells, huge money, unstorable characters, times, totals, line counts."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from services.core import bounds
from services.ingest.adapters.spreadsheet_writer import build_result_workbook
from services.ingest.application.parsing import ImportFileError, ParsedImport, SheetRow, parse_import
from services.ingest.domain.spreadsheet import issues
from services.ingest.domain.spreadsheet.rows import CheckedRows, Field, RowRules, _bulk, _one_by_one
from services.ingest.domain.spreadsheet.template import COLUMNS_BY_KEY
from services.ingest.domain.spreadsheet.values import DEFAULT_PLACEHOLDER_MOBILES
from tests.unit.ingest.test_import_support import HEADER, csv_bytes, grid_of, row, xlsx_bytes


def errors(parsed: ParsedImport) -> list[tuple[int | None, str]]:
    return [(issue.row, issue.code) for issue in parsed.errors]


def patched_xlsx(grid: list[list[Any]], replace: dict[bytes, bytes]) -> bytes:
    """An .xlsx whose sheet XML has `replace` applied (to smuggle in what openpyxl refuses to write)."""
    source = zipfile.ZipFile(io.BytesIO(xlsx_bytes(grid)))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                for old, new in replace.items():
                    assert old in data
                    data = data.replace(old, new)
            target.writestr(info.filename, data)
    return buffer.getvalue()


# --- ID number cells (finding 4) --------------------------------------------------------------------------------


def test_two_distinct_18_digit_order_numbers_as_number_cells_are_refused_not_merged() -> None:
    grid = grid_of([row(OrderNo="x", ProductID="P1"), row(OrderNo="y", ProductID="P2")])
    grid[1][0], grid[2][0] = 123456789012345678, 123456789012345679  # number cells, as program exports write
    parsed = parse_import(xlsx_bytes(grid), "orders.xlsx")
    assert errors(parsed) == [(2, issues.INEXACT_NUMBER), (3, issues.INEXACT_NUMBER)]
    assert parsed.orders == [] and parsed.held_back == []
    assert "format the column as text" in parsed.errors[0].message
    assert parsed.errors[0].message.startswith('Row 2, column "Order No.": "1234567890123456')


@pytest.mark.parametrize("column", ["Store No.", "Product ID*", "Product SKU"])
@pytest.mark.parametrize("number", [1234567890123456, 12.5, 1e20], ids=["16-digits", "decimals", "1e20"])
def test_inexact_number_cells_are_refused_in_every_id_column(column: str, number: float) -> None:
    grid = grid_of([row()])
    grid[1][HEADER.index(column)] = number
    parsed = parse_import(xlsx_bytes(grid), "orders.xlsx")
    assert errors(parsed) == [(2, issues.INEXACT_NUMBER)]


def test_exact_number_cells_in_id_columns_are_their_integer_text() -> None:
    grid = grid_of([row(ProductSKU="")])
    grid[1][HEADER.index("Order No.*")] = 999_999_999_999_999  # 15 digits: exact in a float
    grid[1][HEADER.index("Product SKU")] = 7.0
    grid[1][HEADER.index("Quantity*")] = 2.0
    grid[1][HEADER.index("Unit Price*")] = 10.5  # a number cell with decimals is fine outside ID columns
    parsed = parse_import(xlsx_bytes(grid), "orders.xlsx")
    assert parsed.errors == []
    (order,) = parsed.orders
    assert (order.order_no, order.lines[0].sku) == ("999999999999999", "7")


def test_long_ids_as_text_cells_stay_exact() -> None:
    parsed = parse_import(csv_bytes([row(OrderNo="123456789012345678"), row(OrderNo="123456789012345679")]), "o.csv")
    assert parsed.errors == [] and [o.order_no for o in parsed.orders] == ["123456789012345678", "123456789012345679"]


# --- money and quantities of many digits (finding 5) ------------------------------------------------------------


@pytest.mark.parametrize(
    "amount", ["1" * 28, "9" * 40, "1" + "0" * 30 + ".5", "¥1" + ",000" * 10, "9" * 13, "1000000000000"]
)
@pytest.mark.parametrize("column", ["UnitPrice", "LineAmount", "OrderAmount"])
def test_a_money_cell_of_many_digits_is_a_row_error(column: str, amount: str) -> None:
    parsed = parse_import(csv_bytes([row(**{column: amount})]), "o.csv")
    assert errors(parsed) == [(2, issues.TOO_LARGE)]


def test_a_quantity_of_many_digits_is_a_row_error() -> None:
    parsed = parse_import(csv_bytes([row(Quantity="9" * 40), row(OrderNo="B", Quantity="1" * 28 + ".5")]), "o.csv")
    assert errors(parsed) == [(2, issues.TOO_LARGE), (3, issues.NOT_INTEGER)]


# --- totals (finding 6) -----------------------------------------------------------------------------------------


def test_a_line_total_over_the_money_bound_is_a_row_error() -> None:
    big = row(Quantity="1000000", UnitPrice="999999999999.99", LineAmount="", OrderAmount="")
    parsed = parse_import(csv_bytes([big, row(OrderNo="B", Quantity="1000000", UnitPrice="999999.99")]), "o.csv")
    assert errors(parsed) == [(2, issues.TOTAL_TOO_LARGE)]
    assert "999,999,999,999.99" in parsed.errors[0].message and [o.order_no for o in parsed.orders] == ["B"]


def test_an_order_whose_lines_add_up_past_the_money_bound_is_an_error_on_every_row() -> None:
    lines = [
        row(ProductID=f"P{i}", Quantity="1", UnitPrice="400000000000.00", LineAmount="", OrderAmount="")
        for i in range(3)
    ]
    parsed = parse_import(csv_bytes([*lines, row(OrderNo="B")]), "o.csv")
    assert errors(parsed) == [(2, issues.TOTAL_TOO_LARGE), (3, issues.TOTAL_TOO_LARGE), (4, issues.TOTAL_TOO_LARGE)]
    assert 'order "A001" add up to 1,200,000,000,000.00' in parsed.errors[0].message
    assert [o.order_no for o in parsed.orders] == ["B"]
    at_bound = [
        row(ProductID="P1", UnitPrice="999999999999.00", LineAmount=""),
        row(ProductID="P2", UnitPrice="0.99", LineAmount=""),
    ]
    assert parse_import(csv_bytes([{**r, "Quantity*": "1"} for r in at_bound]), "o.csv").errors == []


# --- times (finding 6) ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "text"),
    [
        ("Asia/Shanghai", "0001-01-01 00:00:00"),
        ("America/New_York", "9999-12-31 23:59:59"),
        ("Asia/Shanghai", "2000-01-01 07:59:59"),  # 1999-12-31T23:59:59Z
        ("America/Los_Angeles", "2099-12-31 16:00:00"),  # 2100-01-01T00:00:00Z
        ("UTC", "1999-12-31 23:59:59"),
    ],
)
@pytest.mark.parametrize("column", ["OrderTime", "PaymentTime"])
def test_a_time_outside_the_stored_range_in_the_imports_zone_is_a_row_error(column: str, zone: str, text: str) -> None:
    changes = {column: text} | ({"PaymentTime": ""} if column == "OrderTime" else {})
    parsed = parse_import(csv_bytes([row(**changes)]), "o.csv", timezone=zone)
    assert errors(parsed) == [(2, issues.TIME_OUT_OF_RANGE)]
    assert bounds.TIME_RANGE_TEXT in parsed.errors[0].message


@pytest.mark.parametrize(
    ("zone", "text"), [("Asia/Shanghai", "2000-01-01 08:00:00"), ("America/Los_Angeles", "2099-12-31 15:59:59")]
)
def test_the_first_and_last_instants_of_the_range_are_accepted(zone: str, text: str) -> None:
    parsed = parse_import(csv_bytes([row(OrderTime=text, PaymentTime=text)]), "o.csv", timezone=zone)
    assert parsed.errors == [] and len(parsed.orders) == 1


def test_a_date_time_cell_of_year_1900_is_a_row_error() -> None:
    grid = grid_of([row()])
    grid[1][HEADER.index("Order Time*")] = datetime(1900, 1, 1, 12, 30)
    grid[1][HEADER.index("Payment Time")] = None
    assert errors(parse_import(xlsx_bytes(grid), "o.xlsx")) == [(2, issues.TIME_OUT_OF_RANGE)]


# --- lines per order (finding 3) --------------------------------------------------------------------------------


def test_an_order_of_more_than_the_line_bound_is_an_error_naming_it_on_every_row() -> None:
    too_many = [row(ProductID=f"P{i}", LineAmount="", OrderAmount="") for i in range(bounds.MAX_LINES_PER_ORDER + 1)]
    parsed = parse_import(csv_bytes([*too_many, row(OrderNo="B")]), "o.csv")
    assert errors(parsed) == [(n, issues.TOO_MANY_LINES) for n in range(2, bounds.MAX_LINES_PER_ORDER + 3)]
    assert parsed.errors[0].message == (
        f'Row 2: order "A001" has {bounds.MAX_LINES_PER_ORDER + 1} lines in this file; expected at most '
        f"{bounds.MAX_LINES_PER_ORDER} lines per order (an order is published as one message)."
    )
    assert [o.order_no for o in parsed.orders] == ["B"] and parsed.held_back[0].order_no == "A001"
    at_bound = parse_import(csv_bytes(too_many[:-1]), "o.csv")
    assert at_bound.errors == [] and len(at_bound.orders[0].lines) == bounds.MAX_LINES_PER_ORDER


# --- unstorable characters (finding 5) --------------------------------------------------------------------------

CONTROL_TEXTS = ["a\x00b", "bell\x07", "esc\x1b[31m", "\x1fP1", "x\ufffe", "\x0cform"]


@pytest.mark.parametrize("text", CONTROL_TEXTS)
@pytest.mark.parametrize("column", ["OrderNo", "ProductID", "ProductName", "Remark", "OrderSource", "UnitPrice"])
def test_an_unstorable_character_in_any_cell_is_a_row_error(column: str, text: str) -> None:
    parsed = parse_import(csv_bytes([row(**{column: text}), row(OrderNo="B")], encoding="utf-16"), "o.csv")
    assert errors(parsed) == [(2, issues.INVALID_CHARACTER)]
    (issue,) = parsed.errors
    char = bounds.unstorable_char(text)
    assert char is not None and f"U+{ord(char):04X} at position {text.index(char) + 1}" in issue.message
    assert bounds.unstorable_char(issue.message) is None and bounds.unstorable_char(issue.value or "") is None
    assert [o.order_no for o in parsed.orders] == ["B"]
    stored = parsed.rows[0].cells
    assert all(bounds.unstorable_char(cell) is None for cell in stored) and any("\ufffd" in c for c in stored)


def test_an_unstorable_character_in_a_column_outside_the_template_is_a_row_error() -> None:
    header = [*HEADER, "Platform note"]
    parsed = parse_import(csv_bytes([row() | {"Platform note": "ok\x07"}], header, "utf-16"), "o.csv")
    assert [(i.row, i.column, i.code) for i in parsed.errors] == [(2, "Platform note", issues.INVALID_CHARACTER)]
    assert parsed.rows[0].cells[-1] == "ok\ufffd"


@pytest.mark.parametrize(
    "escape", [b"_x0000_", b"&#1;", b"_x0007_", b"\x1b", b"&#x1B;"], ids=["x0000", "amp1", "x0007", "esc", "ampx1b"]
)
def test_escapes_inside_an_xlsx_that_decode_to_control_characters_are_row_errors(escape: bytes) -> None:
    grid = grid_of([row(Remark="MARK"), row(OrderNo="B")])
    parsed = parse_import(patched_xlsx(grid, {b"MARK": b"a" + escape + b"b"}), "o.xlsx")
    assert errors(parsed) == [(2, issues.INVALID_CHARACTER)]
    assert [o.order_no for o in parsed.orders] == ["B"]


def test_a_header_cell_with_an_unstorable_character_rejects_the_file() -> None:
    header = [*HEADER, "bad\x00name"]
    with pytest.raises(ImportFileError) as caught:
        parse_import(csv_bytes([row()], header, "utf-16"), "o.csv")
    assert caught.value.code == issues.INVALID_HEADER and "U+0000" in caught.value.message
    assert bounds.unstorable_char(caught.value.message) is None


def test_a_gb18030_csv_with_a_control_byte_is_a_row_error() -> None:
    data = csv_bytes([row(ProductName="茶\x07")], encoding="gb18030")
    assert errors(parse_import(data, "o.csv")) == [(2, issues.INVALID_CHARACTER)]


# --- the result workbook never fails on a stored value ---------------------------------------------------------


@pytest.mark.parametrize("text", ["nul\x00", "bell\x07", "lone \ud800 surrogate", "\ufffe\uffff", "=1+\x01"])
def test_the_result_workbook_writes_any_stored_text(text: str) -> None:
    data = build_result_workbook(([text, "Remark"], [SheetRow(2, (text, text))]), {2: ("invalid", text)})
    sheet = load_workbook(io.BytesIO(data)).active
    values = [c.value for r in sheet.iter_rows() for c in r if c.value]
    assert values and all(bounds.unstorable_char(str(v)) is None for v in values)
    assert all("\ufffd" in str(v) for v in values if v not in ("Remark", "Result", "Errors", "Warnings", "invalid"))


ZONES = ["Asia/Shanghai", "America/New_York", "Pacific/Kiritimati", "Pacific/Pago_Pago", "UTC"]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)), min_size=1, max_size=6),
    st.sampled_from(ZONES),
)
def test_the_bulk_time_path_refuses_exactly_what_the_cell_by_cell_path_refuses(
    moments: list[datetime], zone_name: str
) -> None:
    texts = [f"{moment.year:04d}-{moment:%m-%d %H:%M:%S}" for moment in moments]
    column = COLUMNS_BY_KEY["payment_time"]
    rules = RowRules(ZoneInfo(zone_name), DEFAULT_PLACEHOLDER_MOBILES)
    bulk = _bulk(column, texts, "\x00".join(texts), rules)
    by_cell = CheckedRows(list(range(2, len(texts) + 2)), {})
    expected = _one_by_one(by_cell, Field(column, 0, column.english), texts, rules)
    in_range = [bounds.time_in_range(m.replace(tzinfo=ZoneInfo(zone_name))) for m in moments]
    assert [issue.code for issues_ in by_cell.errors.values() for issue in issues_] == [
        issues.TIME_OUT_OF_RANGE for ok in in_range if not ok
    ]
    if bulk is not None:
        assert all(in_range) and bulk == expected
