"""Cell rules, table-driven: every alias, every number/time/mobile form, accepted or refused with its code."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from services.core.order import OrderSource, OrderStatus
from services.ingest.domain.spreadsheet import issues
from services.ingest.domain.spreadsheet.template import SOURCE_ALIASES, SOURCE_LABELS, STATUS_ALIASES, STATUS_LABELS
from services.ingest.domain.spreadsheet.values import (
    PLACEHOLDER,
    Invalid,
    clean,
    display_text,
    normalise_mobile,
    parse_id,
    parse_mobile,
    parse_money,
    parse_quantity,
    parse_source,
    parse_status,
    parse_time,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
PLACEHOLDERS = frozenset({"13800000000", "12345678901", "13999999999"})


def code(result: Any) -> str | None:
    return result.code if isinstance(result, Invalid) else None


SOURCE_CASES = [
    *((label, source) for source, label in SOURCE_LABELS.items()),
    *((alias, source) for source, aliases in SOURCE_ALIASES.items() for alias in aliases),
    ("YOUZAN", OrderSource.YOUZAN),
    ("  you zan ", OrderSource.YOUZAN),
    ("jd", OrderSource.JINGDONG),
    ("xiaoetech", OrderSource.XIAOE_TECH),
    ("XIAO E TECH", OrderSource.XIAOE_TECH),
    ("self-developed MALL of brand", OrderSource.BRAND_MALL),
    ("brand_mall", OrderSource.BRAND_MALL),
    # Written by hand: the names merchants and exports use; Tmall is read as Taobao (the template has no Tmall).
    ("天猫", OrderSource.TAOBAO),
    ("Tmall", OrderSource.TAOBAO),
    ("TMALL", OrderSource.TAOBAO),
    ("tian mao", OrderSource.TAOBAO),
    ("淘宝网", OrderSource.TAOBAO),
    ("京东商城", OrderSource.JINGDONG),
    ("jd.com", OrderSource.JINGDONG),
    ("抖店", OrderSource.DOUYIN),
    ("抖音小店", OrderSource.DOUYIN),
    ("快手小店", OrderSource.KUAISHOU),
    ("有赞商城", OrderSource.YOUZAN),
    ("weimeng", OrderSource.WEIMOB),
    ("Weipinhui", OrderSource.VIPSHOP),
    ("Xiaoetong", OrderSource.XIAOE_TECH),
    ("mogujie", OrderSource.MOGU),
    ("RED", OrderSource.XIAOHONGSHU),
]


@pytest.mark.parametrize(("text", "expected"), SOURCE_CASES)
def test_source_aliases(text: str, expected: OrderSource) -> None:
    assert parse_source(text) == expected


@pytest.mark.parametrize("text", ["Pinduoduo", "拼多多", "微店", "Amazon", "other", "youzan2", "天猫国际"])
def test_other_sources_are_refused(text: str) -> None:
    result = parse_source(text)
    assert code(result) == issues.INVALID_SOURCE
    assert isinstance(result, Invalid) and "other sources are not supported" in result.expected


STATUS_CASES = [
    *((label, status) for status, label in STATUS_LABELS.items()),
    *((alias, status) for status, aliases in STATUS_ALIASES.items() for alias in aliases),
    ("to be paid", OrderStatus.TO_BE_PAID),
    ("SIGNED FOR", OrderStatus.SIGNED_FOR),
    ("deal_closed", OrderStatus.DEAL_CLOSED),
    ("已成交", OrderStatus.DEALED),
]


@pytest.mark.parametrize(("text", "expected"), STATUS_CASES)
def test_status_aliases(text: str, expected: OrderStatus) -> None:
    assert parse_status(text) == expected


@pytest.mark.parametrize("text", ["Refunded", "退款中", "paid!", "closed"])
def test_unknown_statuses_are_refused(text: str) -> None:
    assert code(parse_status(text)) == issues.INVALID_STATUS


TIME_CASES: list[tuple[str, datetime | str]] = [
    ("2022-09-14 11:03:23", datetime(2022, 9, 14, 11, 3, 23, tzinfo=SHANGHAI)),
    ("2022/09/14 11:03:23", datetime(2022, 9, 14, 11, 3, 23, tzinfo=SHANGHAI)),
    ("2022-09-14 11:03", datetime(2022, 9, 14, 11, 3, tzinfo=SHANGHAI)),
    # fractions of a second, as database-backed exports write them (Youzan, Weimob)
    ("2022-09-14 11:03:23.000", datetime(2022, 9, 14, 11, 3, 23, tzinfo=SHANGHAI)),
    ("2022/9/14 11:03:23.5", datetime(2022, 9, 14, 11, 3, 23, 500_000, tzinfo=SHANGHAI)),
    ("2022-09-14 11:03:23.1234567", datetime(2022, 9, 14, 11, 3, 23, 123_456, tzinfo=SHANGHAI)),
    # a 12-hour clock, as Windows with Chinese (or English) regional settings writes a date-time into text
    ("2022/9/14 上午 11:03:23", datetime(2022, 9, 14, 11, 3, 23, tzinfo=SHANGHAI)),
    ("2022/9/14 下午 3:05", datetime(2022, 9, 14, 15, 5, tzinfo=SHANGHAI)),
    ("2022/9/14 下午12:00:00", datetime(2022, 9, 14, 12, 0, tzinfo=SHANGHAI)),
    ("2022/9/14 上午 12:30", datetime(2022, 9, 14, 0, 30, tzinfo=SHANGHAI)),
    ("2022-09-14 3:05:09 PM", datetime(2022, 9, 14, 15, 5, 9, tzinfo=SHANGHAI)),
    ("2022-09-14 12:05 am", datetime(2022, 9, 14, 0, 5, tzinfo=SHANGHAI)),
    ("2022年9月14日 下午3:05", datetime(2022, 9, 14, 15, 5, tzinfo=SHANGHAI)),
    ("2022/9/14 下午 13:05", issues.INVALID_TIME),
    ("2022/9/14 下午 0:05", issues.INVALID_TIME),
    ("下午 3:05", issues.INVALID_TIME),
    ("2022-09-14 11:03.5", issues.INVALID_TIME),
    ("2022-09-14", datetime(2022, 9, 14, tzinfo=SHANGHAI)),
    ("2022-9-14 11:03:23", datetime(2022, 9, 14, 11, 3, 23, tzinfo=SHANGHAI)),
    ("2022-09/14 11:03:23", issues.INVALID_TIME),
    ("2022-09-14T11:03:23", datetime(2022, 9, 14, 11, 3, 23, tzinfo=SHANGHAI)),
    ("2022-09-14 11:3:23", issues.INVALID_TIME),
    ("14/09/2022 11:03:23", issues.AMBIGUOUS_DATE),
    ("2022-02-30 10:00:00", issues.INVALID_TIME),
    ("2022-09-14 25:00:00", issues.INVALID_TIME),
    ("44818.46", issues.INVALID_TIME),
    ("yesterday", issues.INVALID_TIME),
]


@pytest.mark.parametrize(("text", "expected"), TIME_CASES)
def test_times(text: str, expected: datetime | str) -> None:
    result = parse_time(text, SHANGHAI)
    if isinstance(expected, str):
        assert code(result) == expected
    else:
        assert result == expected and isinstance(result, datetime) and result.utcoffset() is not None


def test_times_are_wall_clock_in_the_import_zone() -> None:
    new_york = parse_time("2022-09-14 11:03:23", ZoneInfo("America/New_York"))
    assert isinstance(new_york, datetime)
    assert new_york.utcoffset() is not None and new_york.utcoffset().total_seconds() == -4 * 3600  # type: ignore[union-attr]


MONEY_CASES: list[tuple[str, Decimal | str]] = [
    ("10", Decimal("10.00")),
    ("10.5", Decimal("10.50")),
    ("0", Decimal("0.00")),
    ("¥1,299.00", Decimal("1299.00")),
    ("￥1,299", Decimal("1299.00")),
    ("$ 12.30", Decimal("12.30")),
    ("1,234,567.89", Decimal("1234567.89")),
    ("0.30000000000000004", Decimal("0.30")),
    ("19.899999999999999", Decimal("19.90")),
    ("1.2300", Decimal("1.23")),
    ("999999999999.99", Decimal("999999999999.99")),
    ("1.234", issues.TOO_MANY_DECIMALS),
    ("1000000.001", issues.TOO_MANY_DECIMALS),
    ("0.005", issues.TOO_MANY_DECIMALS),
    ("-1", issues.NEGATIVE_AMOUNT),
    ("-¥5.00", issues.NEGATIVE_AMOUNT),
    ("1000000000000", issues.TOO_LARGE),
    ("1,2,3", issues.INVALID_NUMBER),
    ("12a", issues.INVALID_NUMBER),
    ("1e3", issues.INVALID_NUMBER),
    ("¥", issues.INVALID_NUMBER),
    ("nan", issues.INVALID_NUMBER),
]


@pytest.mark.parametrize(("text", "expected"), MONEY_CASES)
def test_money(text: str, expected: Decimal | str) -> None:
    result = parse_money(text)
    if isinstance(expected, str):
        assert code(result) == expected
    else:
        assert result == expected and isinstance(result, Decimal) and result.as_tuple().exponent == -2


QUANTITY_CASES: list[tuple[str, int | str]] = [
    ("3", 3),
    ("3.0", 3),
    ("1,000", 1000),
    ("1000000", 1_000_000),
    ("2.5", issues.NOT_INTEGER),
    ("0", issues.NOT_POSITIVE),
    ("-2", issues.NOT_POSITIVE),
    ("1000001", issues.TOO_LARGE),
    ("three", issues.INVALID_NUMBER),
    ("３", 3),  # full-width digits (Chinese input methods) are digits
]


@pytest.mark.parametrize(("text", "expected"), QUANTITY_CASES)
def test_quantity(text: str, expected: int | str) -> None:
    result = parse_quantity(text)
    assert (code(result) if isinstance(expected, str) else result) == expected


MOBILE_CASES: list[tuple[str, str | object]] = [
    ("13912345678", "13912345678"),
    ("139 1234 5678", "13912345678"),
    ("139-1234-5678", "13912345678"),
    ("(139)12345678", "13912345678"),
    ("+86 139 1234 5678", "13912345678"),
    ("+86-13912345678", "13912345678"),
    ("0086 13912345678", "13912345678"),
    ("8613912345678", "13912345678"),
    ("00000000000", PLACEHOLDER),
    ("0", PLACEHOLDER),
    ("13800000000", PLACEHOLDER),
    ("+86 138 0000 0000", PLACEHOLDER),
    ("12345678901", PLACEHOLDER),
    ("13999999999", PLACEHOLDER),
    ("12912345678", issues.INVALID_MOBILE),
    ("1391234567", issues.INVALID_MOBILE),
    ("139123456789", issues.INVALID_MOBILE),
    ("021-12345678", issues.INVALID_MOBILE),
    ("not a phone", issues.INVALID_MOBILE),
    ("１３９１２３４５６７８", issues.INVALID_MOBILE),  # a mobile is stored as ASCII digits only
]


@pytest.mark.parametrize(("text", "expected"), MOBILE_CASES)
def test_mobiles(text: str, expected: str | object) -> None:
    result = parse_mobile(text, PLACEHOLDERS)
    assert (code(result) if isinstance(expected, str) and expected.islower() else result) == expected


def test_normalise_mobile_keeps_non_prefixed_digits() -> None:
    assert normalise_mobile("86123") == "86123"


ID_CASES: list[tuple[str, str]] = [
    ("E2022", "E2022"),
    ("12345", "12345"),
    ("1.23456789012E+11", issues.SCIENTIFIC_NOTATION),
    ("1.2e5", issues.SCIENTIFIC_NOTATION),
    ("x" * 65, issues.TOO_LONG),
]


@pytest.mark.parametrize(("text", "expected"), ID_CASES)
def test_ids(text: str, expected: str) -> None:
    result = parse_id(text, 64)
    assert (code(result) if isinstance(result, Invalid) else result) == expected


DISPLAY_CASES: list[tuple[Any, str]] = [
    (None, ""),
    ("  as typed ", "  as typed "),
    (12345.0, "12345"),
    (1.23456789012e11, "123456789012"),
    (3.0, "3"),
    (2.5, "2.5"),
    (0.30000000000000004, "0.3"),
    (19.899999999999999, "19.9"),
    (1.234, "1.234"),
    (True, "TRUE"),
    (datetime(2022, 9, 14, 11, 3, 23), "2022-09-14 11:03:23"),
    (date(2022, 9, 14), "2022-09-14"),
    (time(11, 3, 23), "11:03:23"),
    (float("inf"), "inf"),
]


@pytest.mark.parametrize(("cell", "text"), DISPLAY_CASES)
def test_display_text(cell: Any, text: str) -> None:
    assert display_text(cell) == text


@pytest.mark.parametrize(
    ("text", "cleaned"), [(" a ", "a"), ("'=1+2", "=1+2"), ("'+86 139", "+86 139"), ("'abc", "'abc"), ("'", "'")]
)
def test_clean_strips_spaces_and_the_formula_guard(text: str, cleaned: str) -> None:
    assert clean(text) == cleaned
