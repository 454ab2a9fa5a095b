"""Cell texts are shown a column at a time, each distinct value once: the same texts as cell by cell."""

from __future__ import annotations

from datetime import datetime

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
