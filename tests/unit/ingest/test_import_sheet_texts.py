"""Cell texts are shown a column at a time, each distinct value once: the same texts as cell by cell."""

from __future__ import annotations

import re
from datetime import datetime

from hypothesis import example, given
from hypothesis import strategies as st

from services.ingest.adapters.spreadsheet_reader import _texts
from services.ingest.adapters.xlsx_archive import _all_referenced
from services.ingest.domain.spreadsheet.values import display_text


def test_a_column_of_booleans_and_numbers_keeps_each_cells_own_text() -> None:
    grid = [[True, 1.0, "a"], [1.0, 1.0, "b"], [False, 0.0, ""]]
    assert _texts(grid) == [["TRUE", "1", "a"], ["1", "1", "b"], ["FALSE", "0", ""]]


def test_repeated_numbers_and_dates_read_as_cell_by_cell() -> None:
    when = datetime(2026, 11, 30, 14, 0)
    grid = [[12345.0, 0.1 + 0.2, when, "x"] for _ in range(3)] + [[7.5, -0.0, when, None]]
    assert _texts(grid) == [[c if type(c) is str else display_text(c) for c in row] for row in grid]


def test_ragged_rows_are_read_cell_by_cell() -> None:
    assert _texts([[1.0, "a"], [2.5]]) == [["1", "a"], ["2.5"]]


def test_cells_and_rows_without_a_reference_first_are_walked() -> None:
    referenced = b'<row r="1"><c r="A1"><v>1</v></c></row>'
    assert _all_referenced(referenced)
    odd_sheets = (
        b"<row><c r='A1'/></row>",
        b'<row r="1"><c t="n" r="A1"/></row>',
        b'<x:c r="A1"/>',
        b'<row r="1"><c\tr="A1"/></row>',
        b'<row r="1"><c/></row>',
    )
    for odd in odd_sheets:
        assert not _all_referenced(odd), odd


@given(st.floats(allow_nan=True, allow_infinity=True))
@example(83.70999999999999)
@example(1.5e-07)
@example(1000000000000000.5)
@example(-0.0001)
@example(5e-324)  # subnormal: its shortest text (one digit) is not what ".15g" writes (CI run of 2026-12-02)
@example(-1.5e-310)
@example(2.2250738585072014e-308)
def test_a_number_cell_shows_fifteen_significant_digits(number: float) -> None:
    """The shortest round-trip text is taken when it is short enough: always what ".15g" writes."""
    expected = str(int(number)) if number.is_integer() else format(number, ".15g")
    assert display_text(number) == expected


def test_odd_tags_are_found_as_before() -> None:
    """The odd-tag search, one branch per tag name, finds what the single branch after the name found, and
    also a tag name followed by a form feed or vertical tab (not XML whitespace: such a sheet is walked)."""
    before = re.compile(rb"<(?:c|row)(?:[\t\r\n/>]| (?!r=))")
    tags = [b"<c", b"<row", b"<col", b"<cols", b"<rowBreaks"]
    tails = [b" r=", b" t=", b"\tr=", b"\nr=", b"\r", b">", b"/>", b" ", b"  r=", b" r =", b"r=", b"\x0c", b"\x0b"]
    for tag in tags:
        for tail in tails:
            xml = b"<sheetData>" + tag + tail + b'"A1"></c></sheetData>'
            found_before = before.search(xml) is not None
            if tail in (b"\x0c", b"\x0b") and tag in (b"<c", b"<row"):
                assert not _all_referenced(xml)
            else:
                assert _all_referenced(xml) is (not found_before and b":c" not in xml), (tag, tail)
