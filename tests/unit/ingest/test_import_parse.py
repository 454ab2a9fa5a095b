"""parse_import end to end on small CSV/xlsx files: every row rule, grouping, row numbers, modes."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from services.core.order import Buyer, Order, OrderSource, OrderStatus, Receiver, Store
from services.ingest.application.parsing import (
    ImportFileError,
    ImportOptions,
    ParsedImport,
    accept,
    issues_by_row,
    parse_import,
)
from services.ingest.domain.spreadsheet import issues
from tests.unit.ingest.test_import_support import HEADER, csv_bytes, grid_of, row, xlsx_bytes

SHANGHAI = ZoneInfo("Asia/Shanghai")


def parse(rows: list[dict[str, Any]], **kw: Any) -> ParsedImport:
    return parse_import(csv_bytes(rows), "orders.csv", **kw)


def codes(parsed: ParsedImport, row_no: int | None = None) -> list[str]:
    return [i.code for i in parsed.errors if row_no is None or i.row == row_no]


def warning_codes(parsed: ParsedImport) -> list[str]:
    return [i.code for i in parsed.warnings]


def test_a_valid_row_becomes_the_expected_order() -> None:
    parsed = parse([row(BuyerNickname="Lily", ReceiverMobile="+86 139 1234 5678", Remark="gift")])
    assert parsed.errors == [] and parsed.counts.orders == 1
    assert parsed.orders[0] == Order(
        order_no="A001",
        source=OrderSource.YOUZAN,
        status=OrderStatus.PAID,
        status_raw="Paid",
        order_time=datetime(2022, 9, 14, 11, 3, 23, tzinfo=SHANGHAI),
        payment_time=datetime(2022, 9, 14, 11, 5, tzinfo=SHANGHAI),
        store=Store(store_no="S1"),
        buyer=Buyer(mobile="13912345678", nickname="Lily"),
        receiver=Receiver(mobile="13912345678"),
        order_amount=Decimal("21.00"),
        remark="gift",
        lines=[
            {
                "product_id": "P1",
                "product_name": "Tea",
                "quantity": 2,
                "unit_price": Decimal("10.50"),
                "line_amount": Decimal("21.00"),
                "row_no": 2,
            }
        ],
    )


def test_built_orders_pass_full_pydantic_validation_unchanged() -> None:
    parsed = parse([row(), row(ProductID="P2", Quantity="1", UnitPrice="¥1,299", LineAmount="1299")])
    for order in parsed.orders:
        assert Order.model_validate(order.model_dump()) == order
        assert Order.model_validate_json(order.model_dump_json()) == order


# One rule per case: the changes to a valid row, the error code expected on it and its column.
ROW_ERRORS: list[tuple[dict[str, Any], str, str | None]] = [
    ({"OrderNo": ""}, issues.BLANK_REQUIRED, "Order No."),
    ({"OrderSource": "  "}, issues.BLANK_REQUIRED, "Order Source"),
    ({"OrderSource": "Pinduoduo"}, issues.INVALID_SOURCE, "Order Source"),
    ({"OrderSource": "拼多多"}, issues.INVALID_SOURCE, "Order Source"),
    ({"OrderStatus": "Refunded"}, issues.INVALID_STATUS, "Order Status"),
    ({"OrderTime": "14/09/2022"}, issues.AMBIGUOUS_DATE, "Order Time"),
    ({"OrderTime": "Sept 14 2022"}, issues.INVALID_TIME, "Order Time"),
    ({"PaymentTime": "2022-09-14 11"}, issues.INVALID_TIME, "Payment Time"),
    ({"ProductID": ""}, issues.BLANK_REQUIRED, "Product ID"),
    ({"ProductID": "1.23457E+11"}, issues.SCIENTIFIC_NOTATION, "Product ID"),
    ({"ProductID": "p" * 65}, issues.TOO_LONG, "Product ID"),
    ({"ProductName": "n" * 256}, issues.TOO_LONG, "Product Name"),
    ({"Remark": "r" * 1001}, issues.TOO_LONG, "Remark"),
    ({"Quantity": "2.5"}, issues.NOT_INTEGER, "Quantity"),
    ({"Quantity": "0"}, issues.NOT_POSITIVE, "Quantity"),
    ({"Quantity": "x"}, issues.INVALID_NUMBER, "Quantity"),
    ({"UnitPrice": "1.234", "LineAmount": ""}, issues.TOO_MANY_DECIMALS, "Unit Price"),
    ({"UnitPrice": "-1", "LineAmount": ""}, issues.NEGATIVE_AMOUNT, "Unit Price"),
    ({"OrderAmount": "12,34"}, issues.INVALID_NUMBER, "Order Amount"),
    ({"StoreNo": ""}, issues.STORE_MISSING, "Store No., Store ID"),
    ({"BuyerMobile": "12912345678"}, issues.INVALID_MOBILE, "Buyer Mobile"),
    ({"BuyerMobile": ""}, issues.BUYER_MISSING, None),
    ({"BuyerMobile": "13800000000"}, issues.BUYER_MISSING, None),
    ({"BuyerMobile": "00000000000"}, issues.BUYER_MISSING, None),
]


@pytest.mark.parametrize(("changes", "code", "column"), ROW_ERRORS)
def test_row_rules(changes: dict[str, Any], code: str, column: str | None) -> None:
    parsed = parse([row(**changes)])
    assert codes(parsed) == [code]
    issue = parsed.errors[0]
    assert issue.row == 2 and issue.message.startswith("Row 2")
    if column is not None:
        assert issue.column == column
        assert f'"{column}"' in issue.message or column in issue.message
    assert parsed.orders == [] and parsed.counts.invalid_rows == 1
    assert [held.order_no for held in parsed.held_back] == (["A001"] if changes != {"OrderNo": ""} else [])


def test_messages_name_the_value_and_what_is_expected() -> None:
    issue = parse([row(Quantity="2.5")]).errors[0]
    assert issue.value == "2.5" and '"2.5"' in issue.message and "expected a whole number" in issue.message


def test_store_id_alone_is_enough() -> None:
    parsed = parse([row(StoreNo="", StoreID="88")])
    assert parsed.errors == [] and parsed.orders[0].store == Store(store_id="88")


@pytest.mark.parametrize("column", ["BuyerNickname"])
def test_any_single_buyer_identifier_is_enough(column: str) -> None:
    parsed = parse([row(BuyerMobile="", **{column: "Lily"})])
    assert parsed.errors == [] and parsed.orders[0].buyer == Buyer(nickname="Lily")


def test_placeholder_mobile_is_a_warning_and_counts_as_absent() -> None:
    parsed = parse([row(BuyerMobile="13800000000", BuyerNickname="Lily")])
    assert parsed.errors == [] and warning_codes(parsed) == [issues.PLACEHOLDER_MOBILE]
    assert parsed.orders[0].buyer == Buyer(nickname="Lily")


def test_configured_placeholders_count_as_absent() -> None:
    options = ImportOptions(placeholder_mobiles=frozenset({"139 1234 5678"}))
    parsed = parse([row()], options=options)
    assert codes(parsed) == [issues.BUYER_MISSING] and warning_codes(parsed) == [issues.PLACEHOLDER_MOBILE]


def test_invalid_receiver_mobile_is_a_warning_and_kept_as_text() -> None:
    parsed = parse([row(ReceiverMobile=" 021-1234 ")])
    assert parsed.errors == [] and warning_codes(parsed) == [issues.INVALID_RECEIVER_MOBILE]
    receiver = parsed.orders[0].receiver
    assert receiver is not None and receiver.mobile == "021-1234"


def test_payment_before_order_is_a_warning() -> None:
    parsed = parse([row(PaymentTime="2022-09-13 11:05:00")])
    assert parsed.errors == [] and warning_codes(parsed) == [issues.PAYMENT_BEFORE_ORDER]


def test_line_amount_mismatch_is_a_warning_and_kept() -> None:
    parsed = parse([row(LineAmount="20.00")])
    assert parsed.errors == [] and warning_codes(parsed) == [issues.LINE_AMOUNT_MISMATCH]
    assert parsed.orders[0].lines[0].line_amount == Decimal("20.00")


def test_status_raw_keeps_the_file_text() -> None:
    parsed = parse([row(OrderStatus="交易成功")])
    assert parsed.orders[0].status is OrderStatus.DEALED and parsed.orders[0].status_raw == "交易成功"


def test_rows_of_an_order_are_grouped_in_file_order() -> None:
    rows = [row(), row(OrderNo="B002"), row(ProductID="P2", OrderSource="有赞", OrderStatus="已付款")]
    parsed = parse(rows)
    assert parsed.errors == []
    assert [(o.order_no, [line.row_no for line in o.lines]) for o in parsed.orders] == [("A001", [2, 4]), ("B002", [3])]


ORDER_LEVEL_CHANGES = [
    {"OrderSource": "Douyin"},
    {"OrderStatus": "Shipped"},
    {"OrderTime": "2022-09-14 11:03:24"},
    {"PaymentTime": "2022-09-14 11:05:01"},
    {"StoreNo": "S2"},
    {"BuyerMobile": "13912345679"},
    {"BuyerNickname": "Other"},
    {"OrderAmount": "22.00"},
    {"StoreID": "9"},
]


@pytest.mark.parametrize("changes", ORDER_LEVEL_CHANGES)
def test_rows_that_disagree_on_order_fields_are_errors_on_the_later_row(changes: dict[str, Any]) -> None:
    base = {"StoreID": "8", "BuyerNickname": "Lily"}  # blank in `row()`: a field given on one row only is no conflict
    parsed = parse([row(**base), row(ProductID="P2", **{**base, **changes}), row(ProductID="P3", **base)])
    assert [(i.row, i.code) for i in parsed.errors] == [(3, issues.INCONSISTENT_ORDER)]
    assert "row 2" in parsed.errors[0].message
    assert [(h.order_no, h.rows) for h in parsed.held_back] == [("A001", (2, 3, 4))] and parsed.orders == []


ORDER_LEVEL_BLANK = {
    "OrderSource": "",
    "OrderStatus": "",
    "OrderTime": "",
    "PaymentTime": "",
    "StoreNo": "",
    "OrderAmount": "",
    "BuyerMobile": "",
}


def test_order_fields_given_on_the_first_line_only_are_the_orders_fields_on_every_line() -> None:
    # As many exports lay out an order of several products: its fields on its first line, blank below.
    parsed = parse([row(), row(ProductID="P2", **ORDER_LEVEL_BLANK), row(OrderNo="B002", ProductID="P3")])
    assert parsed.errors == [] and parsed.warnings == []
    repeated = parse([row(), row(ProductID="P2"), row(OrderNo="B002", ProductID="P3")])
    assert parsed.orders == repeated.orders
    assert [len(o.lines) for o in parsed.orders] == [2, 1]
    # The result workbook keeps the cells as uploaded: the second row's are still blank.
    payment = HEADER.index("Payment Time")
    assert [r.cells[payment] for r in parsed.rows] == ["2022-09-14 11:05:00", "", "2022-09-14 11:05:00"]


def test_a_blank_order_field_takes_the_first_row_of_the_order_that_gives_it() -> None:
    parsed = parse([row(PaymentTime="", OrderAmount=""), row(ProductID="P2"), row(ProductID="P3", OrderAmount="")])
    assert parsed.errors == []
    (order,) = parsed.orders
    assert order.payment_time == datetime(2022, 9, 14, 11, 5, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert order.order_amount == Decimal("21.00")


def test_an_order_field_given_on_no_row_of_the_order_is_still_missing() -> None:
    parsed = parse([row(OrderTime=""), row(ProductID="P2", OrderTime=""), row(OrderNo="B002", ProductID="P3")])
    assert [(i.row, i.code) for i in parsed.errors] == [(2, issues.BLANK_REQUIRED), (3, issues.BLANK_REQUIRED)]
    assert [o.order_no for o in parsed.orders] == ["B002"]


def test_blank_cells_are_filled_only_from_the_same_order_no() -> None:
    # B002's blank order time is not taken from A001 (the row above), and a row without Order No. takes nothing.
    parsed = parse([row(), row(OrderNo="B002", ProductID="P2", OrderTime=""), row(OrderNo="", ProductID="P3")])
    assert sorted((i.row, i.code) for i in parsed.errors) == [(3, issues.BLANK_REQUIRED), (4, issues.BLANK_REQUIRED)]
    assert [i.column for i in parsed.errors if i.row == 3] == ["Order Time"]


def test_order_level_fields_not_compared_may_differ() -> None:
    parsed = parse([row(), row(ProductID="P2", Remark="second", ProductName="Other", ReceiverMobile="13912345678")])
    assert parsed.errors == [] and parsed.orders[0].remark == "second"


def test_an_invalid_reference_value_does_not_flag_the_other_rows() -> None:
    parsed = parse([row(OrderSource="Pinduoduo"), row(ProductID="P2"), row(ProductID="P3")])
    assert [(i.row, i.code) for i in parsed.errors] == [(2, issues.INVALID_SOURCE)]


def test_duplicate_product_and_sku_is_an_error_on_the_second_row() -> None:
    parsed = parse([row(), row(Quantity="1", LineAmount=""), row(ProductSKU="red")])
    assert [(i.row, i.code) for i in parsed.errors] == [(3, issues.DUPLICATE_LINE)]


def test_same_product_in_two_orders_is_fine() -> None:
    assert parse([row(), row(OrderNo="B")]).errors == []


def test_a_bad_row_holds_back_its_whole_order_only() -> None:
    parsed = parse([row(), row(ProductID="P2", Quantity="-1"), row(OrderNo="B")])
    assert [o.order_no for o in parsed.orders] == ["B"]
    assert [(h.order_no, h.rows) for h in parsed.held_back] == [("A001", (2, 3))]
    assert (parsed.counts.rows, parsed.counts.valid_rows, parsed.counts.invalid_rows) == (3, 2, 1)
    assert (parsed.counts.orders, parsed.counts.held_back) == (1, 1)


def test_accept_partial_and_strict() -> None:
    parsed = parse([row(), row(OrderNo="B", Quantity="0")])
    assert [o.order_no for o in accept(parsed, "partial")] == ["A001"]
    with pytest.raises(ImportFileError) as caught:
        accept(parsed, "strict")
    assert caught.value.code == issues.STRICT_MODE_REJECTED and "1 errors" in caught.value.message
    clean = parse([row()])
    assert accept(clean, "strict") == clean.orders


def test_issues_by_row() -> None:
    parsed = parse_import(
        csv_bytes(
            [row(), row(OrderNo="B", Quantity="0", BuyerMobile="13800000000", BuyerNickname="x")], [*HEADER, "X"]
        ),
        "o.csv",
    )
    by_row = issues_by_row(parsed)
    assert set(by_row) == {3}
    assert [i.code for i in by_row[3]] == [issues.NOT_POSITIVE, issues.PLACEHOLDER_MOBILE]


def test_headers_in_chinese_any_order_case_and_spacing() -> None:
    header = [
        "商品ID",
        "  order no  ",
        "订单来源*",
        "ORDER STATUS",
        "下单时间＊",
        "店铺编号",
        "数量",
        "单价",
        "买家手机号",
    ]
    values = ["P1", "A1", "抖音", "已发货", "2022-09-14 11:03:23", "S1", "1", "5", "13912345678"]
    parsed = parse_import(csv_bytes([dict(zip(header, values, strict=True))], header), "o.csv")
    assert parsed.errors == [] and parsed.orders[0].source is OrderSource.DOUYIN
    assert parsed.header == header


def test_unknown_columns_are_one_warning_each_and_result_columns_are_silent() -> None:
    header = [*HEADER, "Platform Note", "Result", "Errors"]
    parsed = parse_import(csv_bytes([row(), row(ProductID="P2")], header), "o.csv")
    assert [(w.row, w.column, w.code) for w in parsed.warnings] == [(None, "Platform Note", issues.UNKNOWN_COLUMN)]


def test_missing_required_columns_reject_the_file_listing_them() -> None:
    header = [h for h in HEADER if h not in ("Quantity*", "Order Time*")]
    with pytest.raises(ImportFileError) as caught:
        parse_import(csv_bytes([row()], header), "o.csv")
    assert caught.value.code == issues.MISSING_COLUMNS
    assert "Order Time" in caught.value.message and "Quantity" in caught.value.message


def test_a_column_twice_rejects_the_file() -> None:
    with pytest.raises(ImportFileError) as caught:
        parse_import(csv_bytes([row()], [*HEADER, "订单编号"]), "o.csv")
    assert caught.value.code == issues.DUPLICATE_COLUMNS


def test_row_numbers_count_leading_and_blank_rows_which_are_skipped() -> None:
    grid = [
        [],
        [],
        *grid_of([row()])[:1],
        [],
        grid_of([row()])[1],
        [None] * len(HEADER),
        grid_of([row(Quantity="0")])[1],
    ]
    parsed = parse_import(xlsx_bytes(grid), "o.xlsx")
    assert parsed.header_row == 3
    assert [r.row_no for r in parsed.rows] == [5, 7]
    assert [(i.row, i.code) for i in parsed.errors] == [(7, issues.NOT_POSITIVE), (7, issues.DUPLICATE_LINE)]


def test_a_title_row_above_the_header_is_skipped() -> None:
    grid = [["Orders export 2022-09"], *grid_of([row()])]
    parsed = parse_import(xlsx_bytes(grid), "o.xlsx")
    assert parsed.header_row == 2 and parsed.errors == [] and parsed.orders[0].lines[0].row_no == 3


def test_too_many_rows_rejects_the_file_with_the_count() -> None:
    rows = [row(ProductID=f"P{i}") for i in range(7)]
    with pytest.raises(ImportFileError) as caught:
        parse(rows, options=ImportOptions(max_rows=5))
    assert caught.value.code == issues.TOO_MANY_ROWS and "7 data rows" in caught.value.message
    assert parse(rows[:5], options=ImportOptions(max_rows=5)).counts.rows == 5


def test_timezone_is_the_callers_and_unknown_zones_are_refused() -> None:
    parsed = parse([row()], timezone="Europe/Berlin")
    assert parsed.orders[0].order_time == datetime(2022, 9, 14, 11, 3, 23, tzinfo=ZoneInfo("Europe/Berlin"))
    assert parsed.orders[0].order_time.utcoffset().total_seconds() == 2 * 3600  # type: ignore[union-attr]
    for name in ("Mars/Olympus", "../../etc/passwd", ""):
        with pytest.raises(ImportFileError) as caught:
            parse([row()], timezone=name)
        assert caught.value.code == issues.UNKNOWN_TIMEZONE


def test_the_servers_own_zone_and_other_files_of_the_zone_database_are_no_import_zone() -> None:
    # "localtime" (in `available_timezones()`) read the file's times in the server's zone; the console took any
    # file of the database ("posixrules", "right/UTC") as a zone
    for name in ("localtime", "Factory", "posixrules", "right/UTC", "posix/Asia/Shanghai"):
        with pytest.raises(ImportFileError) as caught:
            parse([row()], timezone=name)
        assert caught.value.code == issues.UNKNOWN_TIMEZONE, name
    assert parse([row()], timezone="UTC").orders[0].order_time.utcoffset() == timedelta(0)


def test_times_do_not_depend_on_the_server_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    import time as time_module

    expected = parse([row()]).orders[0].order_time
    monkeypatch.setenv("TZ", "America/Los_Angeles")
    time_module.tzset()
    try:
        assert parse([row()]).orders[0].order_time == expected
        assert expected.isoformat() == "2022-09-14T11:03:23+08:00"
    finally:
        monkeypatch.undo()
        time_module.tzset()


def test_excel_number_and_date_cells() -> None:
    cells = row(
        OrderNo=1.23456789012e11,
        OrderTime=datetime(2022, 9, 14, 11, 3, 23),
        PaymentTime=None,
        ProductID=12345.0,
        Quantity=3.0,
        UnitPrice=0.1 + 0.2,
        LineAmount=0.9000000000000001,
        OrderAmount=None,
        BuyerMobile=13912345678.0,
    )
    parsed = parse_import(xlsx_bytes(grid_of([cells])), "o.xlsx")
    assert parsed.errors == [] and parsed.warnings == []
    order = parsed.orders[0]
    assert (order.order_no, order.lines[0].product_id, order.buyer.mobile) == ("123456789012", "12345", "13912345678")
    assert (order.lines[0].quantity, order.lines[0].unit_price) == (3, Decimal("0.30"))
    assert order.order_time == datetime(2022, 9, 14, 11, 3, 23, tzinfo=SHANGHAI)


@pytest.mark.parametrize(("cell", "code"), [(2.5, issues.NOT_INTEGER), (1.234, issues.TOO_MANY_DECIMALS)])
def test_excel_number_cells_that_break_rules(cell: float, code: str) -> None:
    column = "Quantity" if code == issues.NOT_INTEGER else "UnitPrice"
    parsed = parse_import(xlsx_bytes(grid_of([row(LineAmount=None, **{column: cell})])), "o.xlsx")
    assert codes(parsed) == [code]


def test_date_only_cell_is_an_order_time_at_midnight() -> None:
    parsed = parse_import(xlsx_bytes(grid_of([row(OrderTime=date(2022, 9, 14), PaymentTime=None)])), "o.xlsx")
    assert codes(parsed) == [] and parsed.orders[0].order_time == datetime(2022, 9, 14, tzinfo=SHANGHAI)


def test_merged_order_cells_are_filled_down() -> None:
    rows = [row(), row(ProductID="P2"), row(ProductID="P3")]
    data = xlsx_bytes(grid_of(rows))
    book = load_workbook(io.BytesIO(data))
    sheet = book.active
    for column in "ABCD":
        sheet.merge_cells(f"{column}2:{column}4")  # openpyxl blanks the merged cells below the top-left
    buffer = io.BytesIO()
    book.save(buffer)
    parsed = parse_import(buffer.getvalue(), "o.xlsx")
    assert parsed.errors == []
    assert [len(o.lines) for o in parsed.orders] == [3]
    assert parsed.rows[2].cells[0] == "A001"


@pytest.mark.parametrize(
    "cells",
    [
        {  # what a Chinese input method types: full-width digits, point, comma, dash, colon, slash and space
            "OrderTime": "2026－11－11 10：00",
            "PaymentTime": "２０２６／１１／１１\u3000１０：０５：００",
            "Quantity": "２",
            "UnitPrice": "１２．５",
            "LineAmount": "２５．００",
            "OrderAmount": "￥１，０２５．００",
            "BuyerMobile": "１３９－１２３４－５６７８",
        },
        {  # copied from a web back-office: zero-width space, direction mark, no-break and thin spaces, a BOM
            "OrderTime": "\u200e2026-11-11\u00a010:00",
            "PaymentTime": "2026/11/11\u200910:05:00",
            "Quantity": "2\u200b",
            "UnitPrice": "12.5\u200b",
            "LineAmount": "\u206625.00\u2069",
            "OrderAmount": "¥1,025.00\u200d",
            "BuyerMobile": "\ufeff139 1234 5678",
        },
    ],
    ids=["full-width", "invisible"],
)
def test_numbers_times_and_mobiles_read_as_the_ascii_they_stand_for(cells: dict[str, str]) -> None:
    parsed = parse([row(ProductID="Ｐ１", **cells)])
    assert parsed.errors == [], parsed.errors
    (order,) = parsed.orders
    assert order.order_time == datetime(2026, 11, 11, 10, 0, tzinfo=SHANGHAI)
    assert order.payment_time == datetime(2026, 11, 11, 10, 5, tzinfo=SHANGHAI)
    (line,) = order.lines
    assert (line.quantity, line.unit_price, line.line_amount) == (2, Decimal("12.50"), Decimal("25.00"))
    assert order.order_amount == Decimal("1025.00") and order.buyer.mobile == "13912345678"
    assert line.product_id == "Ｐ１"  # identifiers are kept as typed: only numbers and times are folded


def test_a_full_width_number_that_is_refused_is_shown_as_typed() -> None:
    (error,) = parse([row(Quantity="２．５")]).errors
    assert (error.code, error.value) == (issues.NOT_INTEGER, "２．５")
    (error,) = parse([row(OrderAmount="\u221221.00")]).errors  # the minus sign U+2212: a negative amount
    assert (error.code, error.value) == (issues.NEGATIVE_AMOUNT, "\u221221.00")


def test_excel_text_formulas_of_exports_read_as_their_text() -> None:
    # ="2045123456789012345": what a back-office writes in a CSV so that Excel keeps all digits of an id; the
    # order no. was stored with its =" and ", a different order from the same one typed plainly
    rows = [row(OrderNo='="2045123456789012345"', ProductID='="P 1"', UnitPrice='="10.50"', Remark='="a ""b"""')]
    parsed = parse(rows)
    assert parsed.errors == [], parsed.errors
    (order,) = parsed.orders
    assert order.order_no == "2045123456789012345" and order.lines[0].product_id == "P 1"
    assert order.lines[0].unit_price == Decimal("10.50") and order.remark == 'a "b"'


@pytest.mark.parametrize("masked", ["139****5678", "139 **** 5678", "+86 138*****234", "*******5678"])
def test_a_mobile_masked_by_the_platform_is_ignored_with_a_warning_not_an_error(masked: str) -> None:
    # Douyin, Taobao and JD exports hide the middle digits of the buyer's number; the row was invalid
    from services.ingest.domain.language import Lang, issue_message

    parsed = parse([row(BuyerMobile=masked, BuyerNickname="小明")])
    assert parsed.errors == [], parsed.errors
    (order,) = parsed.orders
    assert order.buyer.mobile is None and order.buyer.nickname == "小明"
    (warning,) = parsed.warnings
    assert (warning.code, warning.value) == (issues.MASKED_MOBILE, masked)
    zh = issue_message(warning.code, warning.row, warning.column, warning.value, warning.message, Lang.ZH)
    assert zh == f"第 2 行，“Buyer Mobile”列：“{masked}”是平台隐藏了部分数字的手机号，无法识别买家，已忽略。", zh
    (alone,) = parse([row(BuyerMobile=masked)]).errors  # nothing else names the buyer: the buyer is missing
    assert alone.code == issues.BUYER_MISSING


def test_a_header_repeated_below_is_skipped_with_a_warning() -> None:
    # two exports joined one after the other (the second's header, in Chinese here, is a row of the first)
    from services.ingest.domain.language import Lang, issue_message
    from services.ingest.domain.spreadsheet.template import COLUMNS

    chinese = {name: next(c.chinese for c in COLUMNS if c.english == name.rstrip("*")) for name in HEADER}
    parsed = parse([row(), chinese, row(OrderNo="A002")])
    assert parsed.errors == [] and [o.order_no for o in parsed.orders] == ["A001", "A002"]
    (warning,) = parsed.warnings
    assert (warning.row, warning.code) == (3, issues.REPEATED_HEADER)
    zh = issue_message(warning.code, warning.row, warning.column, warning.value, warning.message, Lang.ZH)
    assert zh == "第 3 行重复了表头（几个文件拼接在一起？），已跳过，未导入。", zh
    (only,) = parse([row(), {**chinese, "Quantity*": "2"}]).errors[:1]  # not all of it: an invalid row as before
    assert only.row == 3


def test_a_leading_apostrophe_before_digits_is_no_part_of_the_value() -> None:
    # '2045123456789012345: an export's way to make Excel keep the digits (Excel's own text marker); the order
    # no. was stored with the apostrophe, another order than the same one typed plainly
    parsed = parse([row(OrderNo="'2045123456789012345", BuyerMobile="'13912345678", Quantity="'2", Remark="'90s")])
    assert parsed.errors == [], parsed.errors
    (order,) = parsed.orders
    assert (order.order_no, order.buyer.mobile, order.lines[0].quantity) == ("2045123456789012345", "13912345678", 2)
    assert order.remark == "'90s"  # text that is not a number keeps its apostrophe


@pytest.mark.parametrize("label", ["合计", "总计：", "Total", " 小计 "])
def test_a_totals_row_at_the_end_of_an_export_is_skipped_with_a_warning(label: str) -> None:
    from services.ingest.domain.language import Lang, issue_message

    blank = {key: "" for key in ("OrderSource", "OrderStatus", "OrderTime", "PaymentTime", "StoreNo", "ProductID")}
    blank |= {"ProductName": "", "BuyerMobile": "", "OrderAmount": "42.00", "Quantity": "4", "UnitPrice": ""}
    parsed = parse([row(), row(OrderNo="A002"), row(OrderNo=label, **blank)])
    assert parsed.errors == [] and len(parsed.orders) == 2, parsed.errors
    (warning,) = parsed.warnings
    assert (warning.row, warning.code, warning.value) == (4, issues.TOTAL_ROW, label.strip())
    zh = issue_message(warning.code, warning.row, warning.column, warning.value, warning.message, Lang.ZH)
    assert zh == f"第 4 行是合计行（“{label.strip()}”），已跳过，未导入。", zh
    (error, *_) = parse([row(OrderNo="合计")]).errors or [None]  # a real order named 合计: read as any order
    assert error is None
