"""The language catalog: zh-CN by default, English on request, one source for the template, labels and messages."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from openpyxl import load_workbook

from services.core.order import OrderSource, OrderStatus
from services.ingest.adapters.spreadsheet_writer import build_result_workbook, build_template
from services.ingest.application.parsing import ImportFileError, issues_by_row, parse_import
from services.ingest.domain.language import (
    RULES_ZH,
    TRANSLATED_FILE_CODES,
    TRANSLATED_ISSUE_CODES,
    Lang,
    accepted_lang,
    choose_lang,
    file_message,
    issue_message,
    outcome_detail,
    outcome_label,
    result_headers,
    state_label,
    status_label,
)
from services.ingest.domain.persona import LifecycleThresholds, OrderAggregates, build_persona
from services.ingest.domain.spreadsheet import issues
from services.ingest.domain.spreadsheet.template import COLUMNS, HEADER_INDEX, RULES, header_key
from tests.unit.ingest.test_import_support import HEADER, csv_bytes, row

CODES = {v for k, v in vars(issues).items() if k.isupper() and isinstance(v, str)}
ROW_CODES = issues.ROW_ERROR_CODES | issues.WARNING_CODES


def _book(data: bytes) -> Any:
    return load_workbook(io.BytesIO(data))


def test_the_template_is_chinese_by_default_and_english_on_request() -> None:
    zh, en = _book(build_template()), _book(build_template(Lang.EN))
    assert zh.sheetnames == ["订单", "填写说明"] and en.sheetnames == ["Orders", "Instructions"]
    assert [c.value for c in zh["订单"][1]] == [c.chinese + ("*" if c.required else "") for c in COLUMNS]
    assert [c.value for c in en["Orders"][1]] == [c.english + ("*" if c.required else "") for c in COLUMNS]
    zh_lists = {dv.formula1 for dv in zh["订单"].data_validations.dataValidation}
    assert '"其他,待付款,已付款,已发货,已签收,交易成功,交易关闭"' in zh_lists
    assert any("有赞" in f and "京东" in f for f in zh_lists)
    assert zh["订单"]["B2"].value == "有赞" and zh["订单"]["C2"].value == "已付款"
    assert "Order No." in zh["订单"]["A1"].comment.text and "订单编号" in en["Orders"]["A1"].comment.text
    instructions = "\n".join(str(c.value) for r in zh["填写说明"].iter_rows() for c in r if c.value)
    assert "每个商品一行" in instructions and all(rule in instructions for rule in RULES_ZH)


def test_both_languages_headers_parse_to_the_same_columns() -> None:
    for column in COLUMNS:
        for name in (column.chinese, column.english, f"{column.chinese}*", f"{column.english}*"):
            assert HEADER_INDEX[header_key(name)] == column.key
    assert len(RULES_ZH) == len(RULES)


@pytest.mark.parametrize("lang", list(Lang))
def test_a_filled_template_of_either_language_parses_to_the_same_order(lang: Lang) -> None:
    book = load_workbook(io.BytesIO(build_template(lang)))
    book.worksheets[0]["A2"] = "E20220914002"  # no longer the example row itself, which is skipped
    out = io.BytesIO()
    book.save(out)
    parsed = parse_import(out.getvalue(), "template.xlsx")
    assert parsed.errors == [] and len(parsed.orders) == 1
    order = parsed.orders[0]
    assert (order.order_no, order.source, order.status) == ("E20220914002", OrderSource.YOUZAN, OrderStatus.PAID)


def test_every_code_has_a_chinese_message() -> None:
    assert ROW_CODES <= TRANSLATED_ISSUE_CODES, ROW_CODES - TRANSLATED_ISSUE_CODES
    assert CODES - ROW_CODES <= TRANSLATED_FILE_CODES, CODES - ROW_CODES - TRANSLATED_FILE_CODES


BAD_ROWS = [
    row(Quantity="0"),
    row(Quantity="abc"),
    row(UnitPrice="1.234"),
    row(OrderTime="yesterday"),
    row(OrderStatus="Lost"),
    row(OrderSource="Amazon"),
    row(OrderNo="A002", StoreNo=""),  # an order of its own: a blank takes the value of its order's other rows
    row(BuyerMobile="123", BuyerNickname="x"),
    row(OrderNo="A003", BuyerMobile="", BuyerNickname=""),
    row(ProductID=""),
    row(OrderNo="A" * 70),
    row(PaymentTime="2022-09-14 10:00:00"),
    row(LineAmount="5.00"),
    row(ReceiverMobile="12"),
    row(BuyerMobile="13800000000", BuyerNickname="x"),
    row(ProductID="1.23E+11"),
]


def test_every_row_message_of_a_bad_file_reads_in_chinese() -> None:
    parsed = parse_import(csv_bytes(BAD_ROWS), "orders.csv")
    found = [*parsed.errors, *parsed.warnings]
    assert {i.code for i in found} >= {issues.NOT_POSITIVE, issues.INVALID_TIME, issues.STORE_MISSING}
    for issue in found:
        zh = issue_message(issue.code, issue.row, issue.column, issue.value, issue.message, Lang.ZH)
        assert zh.startswith(f"第 {issue.row} 行") and "Row" not in zh, (issue, zh)
        assert zh.endswith("。"), zh
        assert issue_message(issue.code, issue.row, issue.column, issue.value, issue.message, Lang.EN) == issue.message


def test_a_row_error_names_row_column_value_and_expectation_in_chinese() -> None:
    [issue] = parse_import(csv_bytes([row(), row(OrderNo="B", Quantity="0")]), "orders.csv").errors
    zh = issue_message(issue.code, issue.row, issue.column, issue.value, issue.message, Lang.ZH)
    assert zh == "第 3 行，“Quantity”列：“0”不是正数；应为1 到 1,000,000 之间的整数。"
    assert issue.message.startswith('Row 3, column "Quantity": "0" is not positive')
    [long] = parse_import(csv_bytes([row(OrderNo="A" * 70)]), "orders.csv").errors
    assert "长度为 70 个字符；应为最多 64 个字符" in issue_message(
        long.code, long.row, long.column, long.value, long.message, Lang.ZH
    )


def test_file_refusals_read_in_chinese() -> None:
    with pytest.raises(ImportFileError) as refused:
        parse_import(csv_bytes([row()], header=["Order No.*", "Quantity*"]), "orders.csv")
    assert refused.value.code == issues.MISSING_COLUMNS
    zh = file_message(refused.value.code, refused.value.message, Lang.ZH)
    assert zh.startswith("表头（第 1 行）缺少必填列：订单来源、订单状态、下单时间"), zh
    assert file_message(refused.value.code, refused.value.message, Lang.EN) == refused.value.message
    strict = file_message(
        issues.STRICT_MODE_REJECTED, "Strict mode: 4 rows have 5 errors; nothing is imported.", Lang.ZH
    )
    assert strict == "严格模式：4 行共有 5 个错误；未导入任何内容。"


def test_outcome_and_state_words_have_labels_in_both_languages() -> None:
    assert outcome_label("stale_status", Lang.ZH) == "状态过旧（未采用）"
    assert outcome_label("stale_status", Lang.EN) == "stale status (not applied)"
    assert outcome_label("held_back", Lang.ZH).startswith("暂缓")
    assert state_label("completed_with_errors", Lang.ZH) == "已完成（有错误）"
    assert status_label(OrderStatus.PAID, Lang.ZH) == "已付款" and status_label(OrderStatus.PAID, Lang.EN) == "Paid"
    assert outcome_detail("status paid is older than the stored shipped: not applied", Lang.ZH) == (
        "状态“已付款”比已存储的“已发货”旧：未采用"
    )
    assert outcome_detail("2 line(s) added, 1 updated", Lang.ZH) == "新增 2 行，更新 1 行"


@pytest.mark.parametrize(
    ("query", "header", "expected"),
    [
        (None, None, Lang.ZH),
        (None, "en-US,en;q=0.9", Lang.EN),
        (None, "zh-CN,zh;q=0.9,en;q=0.8", Lang.ZH),
        (None, "fr-FR, en;q=0.5", Lang.EN),
        (None, "en;q=0.2, zh;q=0.8", Lang.ZH),
        (None, "de, fr", Lang.ZH),
        (None, "en;q=0", Lang.ZH),
        (None, "garbage;;q=x,", Lang.ZH),
        ("en", "zh-CN", Lang.EN),
        ("zh", "en", Lang.ZH),
    ],
)
def test_query_wins_over_accept_language_and_zh_is_the_default(
    query: str | None, header: str | None, expected: Lang
) -> None:
    assert choose_lang(query, header) is expected


def test_accept_language_of_any_size_is_read_quickly_and_safely() -> None:
    assert accepted_lang("x" * 100_000) is None
    assert accepted_lang(",".join(["de"] * 10_000)) is None


@pytest.mark.parametrize(
    ("lang", "headers"), [(Lang.ZH, ["导入结果", "错误信息", "警告信息"]), (Lang.EN, ["Result", "Errors", "Warnings"])]
)
def test_result_workbook_headers_follow_the_language_and_reupload(lang: Lang, headers: list[str]) -> None:
    parsed = parse_import(csv_bytes([row(), row(OrderNo="B", Quantity="0")]), "orders.csv")
    by_row = issues_by_row(parsed)
    outcomes = {
        r.row_no: (
            outcome_label("invalid" if r.row_no in by_row else "created", lang),
            "; ".join(
                issue_message(i.code, i.row, i.column, i.value, i.message, lang) for i in by_row.get(r.row_no, [])
            ),
        )
        for r in parsed.rows
    }
    sheet = _book(build_result_workbook(parsed, outcomes, lang)).active
    assert [c.value for c in sheet[1]][-3:] == headers == list(result_headers(lang))
    assert sheet.cell(row=3, column=len(parsed.header) + 1).value == outcome_label("invalid", lang)
    again = parse_import(build_result_workbook(parsed, outcomes, lang), "result.xlsx")
    assert again.warnings == [] and [i.code for i in again.errors] == [issues.NOT_POSITIVE]


def test_persona_times_are_utc_with_z_whatever_the_offset_of_the_orders() -> None:
    east = timezone(timedelta(hours=8))
    agg = OrderAggregates(
        1,
        1,
        Decimal("10"),
        Decimal("10"),
        datetime(2026, 11, 30, 14, 0, tzinfo=east),
        datetime(2026, 11, 30, 14, 0, tzinfo=east),
        datetime(2026, 11, 30, 14, 5, tzinfo=east),
    )
    persona = build_persona(agg, datetime(2026, 12, 1, tzinfo=UTC), LifecycleThresholds())
    assert persona["first_order_time"] == "2026-11-30T06:00:00Z"
    assert persona["last_paid_time"] == "2026-11-30T06:05:00Z"


def test_an_invalid_header_cell_is_placed_in_chinese() -> None:
    with pytest.raises(ImportFileError) as refused:
        parse_import(csv_bytes([row()], [*HEADER, "bad\x00, name"], "utf-16"), "orders.csv")
    zh = file_message(refused.value.code, refused.value.message, Lang.ZH)
    column = len(HEADER) + 1
    assert zh == (
        f"表头（第 1 行）第 {column} 列的单元格“bad\ufffd, name”含有控制字符或无效字符 U+0000（第 4 个字符）："
        "请重新输入表头。"
    ), zh
