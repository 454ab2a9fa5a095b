"""A legacy .xls (BIFF8, written here by xlwt as Excel 97-2003 writes it) is read as an .xlsx is."""

from __future__ import annotations

import io
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import xlwt

from services.ingest.application.parsing import ImportFileError, parse_import
from services.ingest.domain.language import Lang, issue_message
from services.ingest.domain.spreadsheet import issues
from tests.unit.ingest.test_import_support import HEADER, row

SHANGHAI = ZoneInfo("Asia/Shanghai")


def xls_bytes(rows: list[dict[str, object]]) -> bytes:
    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("订单")
    dates = xlwt.easyxf(num_format_str="yyyy-mm-dd hh:mm:ss")
    for col, name in enumerate(HEADER):
        sheet.write(0, col, name)
    for line, values in enumerate(rows, 1):
        for col, name in enumerate(HEADER):
            value = values.get(name, "")
            if isinstance(value, datetime):
                sheet.write(line, col, value, dates)
            elif value != "":
                sheet.write(line, col, value)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_an_xls_file_is_read_like_an_xlsx() -> None:
    data = xls_bytes(
        [
            row(OrderTime=datetime(2026, 11, 30, 14, 0), Quantity=2, UnitPrice=10.5, LineAmount=21, OrderAmount=21),
            row(OrderNo="A002", OrderTime="2026/11/3 9:05", Quantity="x"),
        ]
    )
    assert data.startswith(b"\xd0\xcf\x11\xe0")  # a real OLE2 compound file
    parsed = parse_import(data, "orders.xls")
    assert parsed.sheet == "订单" and parsed.header == HEADER
    [order] = parsed.orders
    assert order.order_no == "A001" and order.order_time == datetime(2026, 11, 30, 14, 0, tzinfo=SHANGHAI)
    assert order.lines[0].quantity == 2 and order.lines[0].unit_price == Decimal("10.50")
    [error] = parsed.errors
    assert error.row == 3 and error.column == "Quantity" and error.code == issues.INVALID_NUMBER


def test_a_damaged_ole_file_is_named_as_such() -> None:
    data = xls_bytes([row()])[:600]
    try:
        parse_import(data, "orders.xls")
    except ImportFileError as refused:
        assert refused.code == issues.ENCRYPTED_OR_LEGACY and "save it as .xlsx" in refused.message
    else:
        raise AssertionError("a truncated .xls was read")


def test_error_cells_of_an_xls_are_row_errors_naming_the_value_not_blanks() -> None:
    # Error codes of BIFF8: #N/A 0x2A, #DIV/0! 0x07, #VALUE! 0x0F, #REF! 0x17 (BOOLERR records, as Excel writes them)
    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("订单")
    errors = {"Quantity*": 0x2A, "Product Name": 0x07, "Unit Price*": 0x0F, "Remark": 0x17}
    for col, name in enumerate(HEADER):
        sheet.write(0, col, name)
        if name in errors:
            sheet.row(1).set_cell_error(col, errors[name])
        elif row()[name] != "":
            sheet.write(1, col, row()[name])
    out = io.BytesIO()
    book.save(out)
    parsed = parse_import(out.getvalue(), "orders.xls")
    found = {(e.column, e.code, e.value) for e in parsed.errors}
    assert found == {
        ("Quantity", issues.ERROR_CELL, "#N/A"),
        ("Product Name", issues.ERROR_CELL, "#DIV/0!"),
        ("Unit Price", issues.ERROR_CELL, "#VALUE!"),
        ("Remark", issues.ERROR_CELL, "#REF!"),
    }, parsed.errors
    quantity = next(e for e in parsed.errors if e.column == "Quantity")
    zh = issue_message(quantity.code, quantity.row, quantity.column, quantity.value, quantity.message, Lang.ZH)
    assert zh.startswith("第 2 行，“Quantity”列：“#N/A”是表格的错误值"), zh
