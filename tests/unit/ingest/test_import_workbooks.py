"""Template and result workbooks: generated from the column source of truth, round-trip through the parser."""

from __future__ import annotations

import io
from datetime import datetime
from decimal import Decimal
from typing import Any, get_args
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from pydantic.fields import FieldInfo

from services.core.order import Buyer, Order, OrderLine, OrderSource, OrderStatus, Receiver, Store
from services.ingest.adapters.spreadsheet_writer import build_result_workbook, build_template, neutralise
from services.ingest.application.parsing import SheetRow, issues_by_row, parse_import
from services.ingest.domain.language import Lang
from services.ingest.domain.spreadsheet import issues
from services.ingest.domain.spreadsheet.template import (
    COLUMNS,
    HEADER_INDEX,
    SOURCE_LABELS,
    STATUS_LABELS,
    header_key,
    render_markdown,
)
from tests.unit.ingest.test_import_support import csv_bytes, row


def load(data: bytes) -> Any:
    return load_workbook(io.BytesIO(data))


def test_template_headers_comments_dropdowns_and_instructions() -> None:
    book = load(build_template(Lang.EN))
    assert book.sheetnames == ["Orders", "Instructions"]
    sheet = book["Orders"]
    headers = [cell.value for cell in sheet[1]]
    assert headers == [c.english + ("*" if c.required else "") for c in COLUMNS]
    assert all(cell.comment is not None and cell.comment.text for cell in sheet[1])
    assert COLUMNS[0].chinese in sheet["A1"].comment.text
    lists = {dv.formula1 for dv in sheet.data_validations.dataValidation}
    assert '"' + ",".join(SOURCE_LABELS.values()) + '"' in lists
    assert '"' + ",".join(STATUS_LABELS.values()) + '"' in lists
    instructions = "\n".join(str(c.value) for r in book["Instructions"].iter_rows() for c in r if c.value)
    assert all(c.english in instructions and c.chinese in instructions for c in COLUMNS)


@pytest.mark.parametrize(("lang", "sheet"), [(Lang.EN, "Orders"), (Lang.ZH, "订单")])
def test_template_example_row_parses_to_the_expected_order(lang: Lang, sheet: str) -> None:
    book = load(build_template(lang))
    book[sheet]["A2"] = "E20220914002"  # no longer the example row itself, which is skipped
    out = io.BytesIO()
    book.save(out)
    parsed = parse_import(out.getvalue(), "template.xlsx")
    assert parsed.sheet == sheet and parsed.errors == [] and parsed.warnings == []
    order = parsed.orders[0]
    assert (order.order_no, order.source, order.status) == ("E20220914002", OrderSource.YOUZAN, OrderStatus.PAID)


def test_filled_in_template_round_trips_to_the_expected_order() -> None:
    book = load(build_template(Lang.EN))
    sheet = book["Orders"]
    sheet.delete_rows(2)
    values = {
        "order_no": "T-1",
        "source": "Douyin",
        "status": "Shipped",
        "order_time": datetime(2022, 9, 14, 11, 3, 23),
        "payment_time": "2022/09/14 11:04:00",
        "store_id": 778899.0,
        "product_id": "P9",
        "sku": "P9-XL",
        "quantity": 3,
        "unit_price": 19.9,
        "buyer_unionid": "oUnion1",
        "receiver_name": "Wang",
        "receiver_address": "1 Road",
    }
    sheet.append([values.get(column.key) for column in COLUMNS])
    buffer = io.BytesIO()
    book.save(buffer)
    parsed = parse_import(buffer.getvalue(), "filled.xlsx")
    assert parsed.errors == [] and parsed.warnings == []
    zone = ZoneInfo("Asia/Shanghai")
    assert parsed.orders == [
        Order(
            order_no="T-1",
            source=OrderSource.DOUYIN,
            status=OrderStatus.SHIPPED,
            status_raw="Shipped",
            order_time=datetime(2022, 9, 14, 11, 3, 23, tzinfo=zone),
            payment_time=datetime(2022, 9, 14, 11, 4, tzinfo=zone),
            store=Store(store_id="778899"),
            buyer=Buyer(unionid="oUnion1"),
            receiver=Receiver(name="Wang", address="1 Road"),
            lines=[OrderLine(product_id="P9", sku="P9-XL", quantity=3, unit_price=Decimal("19.90"), row_no=2)],
        )
    ]


def _max_length(model: type[Any], name: str) -> int | None:
    info: FieldInfo = model.model_fields[name]
    limits = [m.max_length for m in info.metadata if hasattr(m, "max_length")]
    for arg in get_args(info.annotation):
        for meta in getattr(arg, "__metadata__", ()):
            limits += [m.max_length for m in getattr(meta, "metadata", [meta]) if hasattr(m, "max_length")]
    return min((limit for limit in limits if limit is not None), default=None)


@pytest.mark.parametrize(
    ("key", "model", "field"),
    [
        ("order_no", Order, "order_no"),
        ("status", Order, "status_raw"),
        ("store_no", Store, "store_no"),
        ("store_id", Store, "store_id"),
        ("store_name", Store, "name"),
        ("product_id", OrderLine, "product_id"),
        ("sku", OrderLine, "sku"),
        ("product_name", OrderLine, "product_name"),
        ("buyer_sobot_id", Buyer, "sobot_customer_id"),
        ("buyer_unionid", Buyer, "unionid"),
        ("buyer_nickname", Buyer, "nickname"),
        ("receiver_name", Receiver, "name"),
        ("receiver_mobile", Receiver, "mobile"),
        ("receiver_address", Receiver, "address"),
        ("remark", Order, "remark"),
    ],
)
def test_column_length_limits_match_the_order_model(key: str, model: type[Any], field: str) -> None:
    column = next(c for c in COLUMNS if c.key == key)
    assert column.max_length == _max_length(model, field)


def test_every_header_spelling_maps_to_its_column() -> None:
    for column in COLUMNS:
        for spelling in (column.english, column.chinese, column.header, f" {column.english.upper()} * "):
            assert HEADER_INDEX[header_key(spelling)] == column.key


def test_markdown_documents_every_column_and_source() -> None:
    text = render_markdown()
    assert all(f"| {c.english} | {c.chinese} |" in text for c in COLUMNS)
    assert all(label in text for label in SOURCE_LABELS.values()) and "5,000" in text


@pytest.mark.parametrize("text", ["=1+2", "+86 139", "-5", "@SUM(A1)", "\tx", "\rx", '=HYPERLINK("http://x")'])
def test_result_cells_are_neutralised_and_never_formulas(text: str) -> None:
    data = build_result_workbook((["Remark"], [SheetRow(2, (text,))]), {2: ("invalid", text)})
    sheet = load(data).active
    for cell in (sheet["A2"], sheet["C2"]):
        assert cell.data_type != "f" and cell.value == "'" + text.replace("\r", "\n")  # XML reads \r as \n
    assert neutralise("plain") == "plain"


def test_result_workbook_reuploads_with_outcomes_ignored() -> None:
    rows = [row(BuyerMobile="+86 139 1234 5678", Remark="=cmd"), row(OrderNo="B", Quantity="0")]
    parsed = parse_import(csv_bytes(rows), "orders.csv")
    by_row = issues_by_row(parsed)
    outcomes = {
        r.row_no: (
            "invalid" if r.row_no in by_row else "accepted",
            "; ".join(i.message for i in by_row.get(r.row_no, [])),
        )
        for r in parsed.rows
    }
    data = build_result_workbook(parsed, outcomes)
    sheet = load(data).active
    assert [c.value for c in sheet[1]][-3:] == ["Result", "Errors", "Warnings"]
    assert sheet["A3"].value == "B" and sheet.cell(row=3, column=len(parsed.header) + 1).value == "invalid"
    assert "Quantity" in sheet.cell(row=3, column=len(parsed.header) + 2).value
    again = parse_import(data, "result.xlsx")
    assert again.warnings == [] and [i.code for i in again.errors] == [issues.NOT_POSITIVE]
    width = len(parsed.header)
    assert [(r.row_no, r.cells[:width]) for r in again.rows] == [
        (r.row_no, tuple(neutralise(c) for c in r.cells)) for r in parsed.rows
    ]
    assert again.orders[0].buyer.mobile == "13912345678" and again.orders[0].remark == "=cmd"


@pytest.mark.parametrize("lang", list(Lang))
def test_a_cell_longer_than_a_workbook_cell_holds_is_cut_with_a_marker(lang: Lang) -> None:
    # An .xlsx cell holds at most 32,767 characters: Excel "repairs" (empties) a longer one, WPS cuts it silently.
    from services.ingest.adapters.spreadsheet_writer import FailedRow, build_failed_workbook

    long, errors = "备" * 40_000, "x" * 33_000
    result = load(
        build_result_workbook((["Order No.", "Notes"], [SheetRow(2, ("A1", long))]), {2: ("r", errors)}, lang)
    )
    failed = load(build_failed_workbook(["Order No.", "Remark"], [FailedRow(("A1", long), errors, ())], lang))
    marker = "…（已截断，原有 40,000 个字符）" if lang is Lang.ZH else "… (cut: 40,000 characters)"
    cells = [*result.active[2], *failed.active[2]]
    assert all(len(str(cell.value or "")) <= 32_767 for cell in cells)
    assert result.active["B2"].value == long[: 32_767 - len(marker)] + marker
    assert str(result.active["D2"].value).startswith("x" * 32_000)
    assert any(str(cell.value).endswith(marker) for cell in failed.active[2])
