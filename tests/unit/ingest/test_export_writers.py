"""The export writers: text cells only (never a formula), rows past a sheet's limit on the next sheet, and the
template rows of the domain's `export.row`."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from services.core.order import OrderStatus
from services.ingest.adapters import exports
from services.ingest.adapters.exports import CsvWriter, XlsxWriter
from services.ingest.domain import export

HEADER = ["A", "B"]
ROWS = [["=1+1", "plain"], ["", "@cmd"], ["中文", "bad\x01char"]]


def _xlsx(writer: XlsxWriter, pages: list[list[list[str]]]) -> bytes:
    return b"".join([*(writer.add(page) for page in pages), writer.close()])


def test_xlsx_cells_are_text_that_never_evaluates() -> None:
    book = load_workbook(io.BytesIO(_xlsx(XlsxWriter(HEADER), [ROWS])))
    sheet = book.worksheets[0]
    assert sheet.title == "Orders"
    assert [[c.value for c in row] for row in sheet.iter_rows()] == [
        ["A", "B"], ["'=1+1", "plain"], [None, "'@cmd"], ["中文", "bad\ufffdchar"]
    ]  # fmt: skip
    assert {c.data_type for row in sheet.iter_rows(min_row=2) for c in row if c.value} == {"s"}


def test_xlsx_rows_past_the_sheet_limit_continue_on_the_next_sheet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exports, "MAX_SHEET_ROWS", 2)
    rows = [[f"R{i}", str(i)] for i in range(5)]
    book = load_workbook(io.BytesIO(_xlsx(XlsxWriter(HEADER), [rows[:3], rows[3:]])))
    assert book.sheetnames == ["Orders", "Orders 2", "Orders 3"]
    found = [[[c.value for c in r] for r in s.iter_rows()] for s in book.worksheets]
    assert found == [[HEADER, *rows[0:2]], [HEADER, *rows[2:4]], [HEADER, rows[4]]]


def test_an_empty_xlsx_export_is_a_workbook_with_the_header() -> None:
    book = load_workbook(io.BytesIO(_xlsx(XlsxWriter(HEADER), [])))
    assert [[c.value for c in r] for r in book.worksheets[0].iter_rows()] == [HEADER]


def test_csv_has_a_bom_the_header_and_neutralised_cells() -> None:
    writer = CsvWriter(HEADER)
    data = writer.add(ROWS[:2]) + writer.close()
    assert data.startswith(b"\xef\xbb\xbf")
    assert list(csv.reader(io.StringIO(data.decode("utf-8-sig")))) == [HEADER, ["'=1+1", "plain"], ["", "'@cmd"]]


LINE = {
    "order_no": "E1", "source": "jingdong", "status": "paid", "status_raw": "已付款",
    "order_time": datetime(2026, 1, 1, 16, 30, tzinfo=UTC), "payment_time": None,
    "store": {"store_id": "X9"}, "buyer": {"mobile": "13912345678", "nickname": "Lily"}, "receiver": None,
    "order_amount": Decimal("20"), "paid_amount": None, "remark": None,
    "product_id": "P1", "sku": "", "product_name": None, "quantity": 2, "unit_price": Decimal("10.00"),
    "line_amount": None,
}  # fmt: skip


def test_a_line_becomes_a_template_row() -> None:
    cells = export.cells(LINE, ZoneInfo("Asia/Shanghai"))
    assert cells["source"] == "Jingdong" and cells["status"] == "已付款"
    assert cells["order_time"] == "2026-01-02 00:30:00" and cells["payment_time"] == ""
    assert (cells["store_no"], cells["store_id"], cells["buyer_mobile"]) == ("", "X9", "13912345678")
    assert (cells["order_amount"], cells["unit_price"], cells["quantity"]) == ("20.00", "10.00", "2")
    assert export.row(LINE, ZoneInfo("UTC"))[3] == "2026-01-01 16:30:00"
    assert len(export.row(LINE, UTC)) == len(export.HEADER)


def test_masked_rows_mask_the_buyers_and_the_receivers_mobiles_as_the_details_do() -> None:
    line = {**LINE, "receiver": {"name": "R", "mobile": "1390000"}, "buyer": {"nickname": "Lily"}}
    masked = export.cells({**LINE, "receiver": line["receiver"]}, UTC, mask=True)
    assert (masked["buyer_mobile"], masked["receiver_mobile"]) == ("139****5678", "*******")
    assert export.cells(line, UTC, mask=True)["buyer_mobile"] == ""  # nothing to mask: an empty cell
    assert export.cells(LINE, UTC)["buyer_mobile"] == "13912345678"


@pytest.mark.parametrize(
    ("counts", "taken"),
    [([], 0), ([3, 1], 2), ([2, 2, 1], 2), ([4, 1], 1), ([9, 1], 1), ([1, 9], 1), ([4], 1)],
)
def test_an_export_page_takes_the_orders_within_its_lines_and_always_one(counts: list[int], taken: int) -> None:
    assert export.orders_within(counts, 4) == taken


@pytest.mark.parametrize(
    ("status", "raw", "written"),
    [
        (OrderStatus.PAID, "Paid", "Paid"),
        (OrderStatus.PAID, "WAIT_SELLER_SEND", "Paid"),
        (OrderStatus.SHIPPED, "paid", "Shipped"),
    ],
)
def test_the_status_is_written_as_given_when_the_template_reads_it_so(
    status: OrderStatus, raw: str, written: str
) -> None:
    assert export.status_text(status, raw) == written
