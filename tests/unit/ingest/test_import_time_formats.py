"""The time formats real exports use, one test each, read through the whole parser; anything else is refused."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from services.ingest.application.parsing import ParsedImport, parse_import
from services.ingest.domain.spreadsheet import issues
from tests.unit.ingest.test_import_support import csv_bytes, grid_of, row, xlsx_bytes

SHANGHAI = ZoneInfo("Asia/Shanghai")


def order_time(text: str, **kw: Any) -> datetime:
    parsed = parse_import(csv_bytes([row(OrderTime=text, PaymentTime="")]), "orders.csv", **kw)
    assert parsed.errors == [], parsed.errors
    return parsed.orders[0].order_time


def test_minutes_without_seconds_as_excel_saves_a_csv_in_a_chinese_locale() -> None:
    assert order_time("2026/11/30 14:00") == datetime(2026, 11, 30, 14, 0, tzinfo=SHANGHAI)


def test_one_digit_month_day_and_hour() -> None:
    assert order_time("2026/11/3 9:05:00") == datetime(2026, 11, 3, 9, 5, tzinfo=SHANGHAI)
    assert order_time("2026-1-3 9:05") == datetime(2026, 1, 3, 9, 5, tzinfo=SHANGHAI)


def test_a_date_alone_is_midnight_in_the_imports_zone() -> None:
    assert order_time("2026-11-30") == datetime(2026, 11, 30, tzinfo=SHANGHAI)


def test_chinese_year_month_day() -> None:
    assert order_time("2026年11月30日 14:00") == datetime(2026, 11, 30, 14, 0, tzinfo=SHANGHAI)
    assert order_time("2026年11月3日 9:05:30") == datetime(2026, 11, 3, 9, 5, 30, tzinfo=SHANGHAI)
    assert order_time("2026年11月30日") == datetime(2026, 11, 30, tzinfo=SHANGHAI)


def test_iso_8601_as_order_info_writes_it_reads_back_the_same_instant_without_a_warning() -> None:
    parsed = parse_import(csv_bytes([row(OrderTime="2026-11-30T14:00:00+08:00")]), "orders.csv")
    assert parsed.orders[0].order_time == datetime(2026, 11, 30, 14, 0, tzinfo=SHANGHAI)
    assert issues.TIME_OFFSET_USED not in [w.code for w in parsed.warnings]
    assert order_time("2026-11-30T06:00:00Z") == datetime(2026, 11, 30, 14, 0, tzinfo=SHANGHAI)
    assert order_time("2026-11-30T14:00:00.250") == datetime(2026, 11, 30, 14, 0, 0, 250000, tzinfo=SHANGHAI)


def test_an_offset_wins_over_the_imports_zone_with_a_warning() -> None:
    parsed = parse_import(
        csv_bytes([row(OrderTime="2026-11-30T14:00:00+09:00", PaymentTime="")]), "orders.csv", timezone="UTC"
    )
    assert parsed.errors == []
    when = parsed.orders[0].order_time
    assert when == datetime(2026, 11, 30, 5, 0, tzinfo=UTC) and when.utcoffset() == timedelta(hours=9)
    [warning] = [w for w in parsed.warnings if w.code == issues.TIME_OFFSET_USED]
    assert warning.row == 2 and warning.column == "Order Time"
    assert "2026-11-30T14:00:00+09:00" in warning.message and "UTC" in warning.message


def test_excel_date_and_date_time_cells() -> None:
    grid = grid_of([row(OrderTime=datetime(2026, 11, 30, 14, 0), PaymentTime=date(2026, 12, 1))])
    parsed: ParsedImport = parse_import(xlsx_bytes(grid), "orders.xlsx")
    assert parsed.errors == [], parsed.errors
    assert parsed.orders[0].order_time == datetime(2026, 11, 30, 14, 0, tzinfo=SHANGHAI)
    assert parsed.orders[0].payment_time == datetime(2026, 12, 1, tzinfo=SHANGHAI)


def test_a_date_with_the_year_last_is_refused_as_ambiguous() -> None:
    parsed = parse_import(csv_bytes([row(OrderTime="03/11/2026 14:00")]), "orders.csv")
    [error] = parsed.errors
    assert error.code == issues.AMBIGUOUS_DATE and error.row == 2 and error.column == "Order Time"
    assert "day and month cannot be told apart" in error.message and "year first" in error.message


def test_other_forms_are_still_refused_and_bounds_hold() -> None:
    for text in ("30 Nov 2026", "2026.11.30 14:00", "20261130", "2026-11-30T14:00:00+24:00", "1999-12-31"):
        parsed = parse_import(csv_bytes([row(OrderTime=text)]), "orders.csv")
        assert [e.code for e in parsed.errors] in ([issues.INVALID_TIME], [issues.TIME_OUT_OF_RANGE]), text
    late = parse_import(csv_bytes([row(OrderTime="2099-12-31T23:00:00-05:00")]), "orders.csv")
    assert [e.code for e in late.errors] == [issues.TIME_OUT_OF_RANGE]


def test_an_offset_with_minutes_past_59_is_refused_not_carried_into_the_hour() -> None:
    # 08:60 was read as +09:00 and 08:99 as +09:39: an instant the file never named, without a word
    for text in ("2026-11-30T14:00:00+08:60", "2026-11-30T14:00:00+0899", "2026-11-30T14:00:00-05:75"):
        parsed = parse_import(csv_bytes([row(OrderTime=text, PaymentTime="")]), "orders.csv")
        assert [(e.code, e.row, e.column) for e in parsed.errors] == [(issues.INVALID_TIME, 2, "Order Time")], text
    assert order_time("2026-11-30T14:00:00+14:00") == datetime(2026, 11, 30, 8, 0, tzinfo=SHANGHAI)
    assert order_time("2026-11-30T14:00:00-12:00") == datetime(2026, 12, 1, 10, 0, tzinfo=SHANGHAI)
