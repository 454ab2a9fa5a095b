"""Order statuses as the platforms' own exports write them read as the template's statuses; unknown ones are refused."""

from __future__ import annotations

import pytest

from services.core.order import OrderStatus
from services.ingest.application.parsing import parse_import
from services.ingest.domain.language import Lang, issue_message, render_vocabulary_markdown, rules
from services.ingest.domain.spreadsheet import issues
from services.ingest.domain.spreadsheet.platform_statuses import EXAMPLE_PHRASES, PLATFORM_STATUSES
from services.ingest.domain.spreadsheet.template import STATUS_ALIASES, STATUS_LABELS, label_key
from services.ingest.domain.spreadsheet.values import Invalid, parse_status
from tests.unit.ingest.test_import_support import csv_bytes, row

# Written by hand from the platforms' exports, not from the table: a phrase dropped from it fails here.
REAL_PHRASES = [
    ("等待买家付款", OrderStatus.TO_BE_PAID),  # Taobao / Tmall
    ("买家已付款，等待卖家发货", OrderStatus.PAID),
    ("买家已付款,等待卖家发货", OrderStatus.PAID),
    (" 卖家已发货 ， 等待买家确认 ", OrderStatus.SHIPPED),
    ("交易成功", OrderStatus.DEALED),
    ("交易关闭", OrderStatus.DEAL_CLOSED),
    ("WAIT_SELLER_SEND_GOODS", OrderStatus.PAID),
    ("trade_closed_by_taobao", OrderStatus.DEAL_CLOSED),
    ("待支付", OrderStatus.TO_BE_PAID),  # Douyin
    ("待发货", OrderStatus.PAID),
    ("已发货", OrderStatus.SHIPPED),
    ("已完成", OrderStatus.DEALED),
    ("已关闭", OrderStatus.DEAL_CLOSED),
    ("等待付款", OrderStatus.TO_BE_PAID),  # JD
    ("等待出库", OrderStatus.PAID),
    ("等待确认收货", OrderStatus.SHIPPED),
    ("完成", OrderStatus.DEALED),
    ("已取消", OrderStatus.DEAL_CLOSED),
    ("待付款", OrderStatus.TO_BE_PAID),  # Youzan, Weimob
    ("\u3000已完成\u3000", OrderStatus.DEALED),
]


@pytest.mark.parametrize(("text", "expected"), REAL_PHRASES)
def test_real_platform_phrases_read_as_their_status(text: str, expected: OrderStatus) -> None:
    assert parse_status(text) == expected


@pytest.mark.parametrize("entry", PLATFORM_STATUSES, ids=lambda e: e.phrase)
def test_every_phrase_of_the_table_reads_as_its_status_with_either_comma(entry: object) -> None:
    phrase, status = entry.phrase, entry.status  # type: ignore[attr-defined]
    for text in (phrase, f"  {phrase} ", phrase.replace("，", ","), phrase.replace("，", " , ")):
        assert parse_status(text) == status, text


def test_the_templates_labels_and_aliases_keep_their_status_and_no_phrase_is_listed_twice() -> None:
    for status in OrderStatus:
        for name in (STATUS_LABELS[status], status.value, *STATUS_ALIASES[status]):
            assert parse_status(name) == status, name
    keys = [label_key(entry.phrase.replace("，", ",")) for entry in PLATFORM_STATUSES]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("text", ["Refunded", "退款中", "等待卖家发货买家", "已完成了", "交易成功，", "closed"])
def test_unknown_statuses_are_still_refused_naming_platform_phrases(text: str) -> None:
    refused = parse_status(text)
    assert isinstance(refused, Invalid) and refused.code == issues.INVALID_STATUS
    assert "platform's own status" in refused.expected and all(p in refused.expected for p in EXAMPLE_PHRASES)


def test_the_refusal_reads_in_chinese_with_platform_examples() -> None:
    [issue] = parse_import(csv_bytes([row(OrderStatus="退款中")]), "orders.csv").errors
    assert (issue.row, issue.column, issue.code) == (2, "Order Status", issues.INVALID_STATUS)
    zh = issue_message(issue.code, issue.row, issue.column, issue.value, issue.message, Lang.ZH)
    assert zh.startswith("第 2 行") and "不是已知的订单状态" in zh and "买家已付款，等待卖家发货" in zh, zh


def test_a_file_of_platform_statuses_imports_with_them() -> None:
    rows = [row(OrderNo=f"T{n}", OrderStatus=text) for n, (text, _) in enumerate(REAL_PHRASES)]
    parsed = parse_import(csv_bytes(rows), "orders.csv")
    assert parsed.errors == []
    assert [order.status for order in parsed.orders] == [status for _, status in REAL_PHRASES]


def test_the_rules_and_the_docs_list_every_phrase_zh_first() -> None:
    zh_rule = next(r for r in rules(Lang.ZH) if "平台导出" in r)
    en_rule = next(r for r in rules(Lang.EN) if "platforms' own exports" in r)
    vocabulary = render_vocabulary_markdown()
    for entry in PLATFORM_STATUSES:
        assert entry.phrase in zh_rule and entry.phrase in en_rule and f"| {entry.phrase} |" in vocabulary
