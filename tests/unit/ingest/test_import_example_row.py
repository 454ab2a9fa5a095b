"""The template's example row, left in by the user, is recognised by its exact content and skipped with a warning."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from services.ingest.adapters.spreadsheet_writer import build_template
from services.ingest.application.parsing import ImportFileError, parse_import
from services.ingest.domain.language import Lang, issue_message
from services.ingest.domain.spreadsheet import issues
from services.ingest.domain.spreadsheet.template import COLUMNS
from tests.unit.ingest.test_import_support import csv_bytes


def filled_template(*rows: list[object], lang: Lang = Lang.EN) -> bytes:
    book = load_workbook(io.BytesIO(build_template(lang)))
    sheet = book.worksheets[0]
    for values in rows:
        sheet.append(values)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def real_row() -> list[object]:
    values = {c.key: c.example for c in COLUMNS}
    values.update(order_no="REAL-1", buyer_mobile="13900000001", quantity=3, unit_price=10.5, line_amount=31.5)
    values.update(order_amount=31.5, paid_amount=31.5)
    return [values[c.key] for c in COLUMNS]


@pytest.mark.parametrize("lang", list(Lang))
def test_the_example_row_of_the_downloaded_template_is_skipped_with_a_warning(lang: Lang) -> None:
    parsed = parse_import(filled_template(real_row(), lang=lang), "template.xlsx")
    assert parsed.errors == []
    assert [o.order_no for o in parsed.orders] == ["REAL-1"]
    assert [r.row_no for r in parsed.rows] == [3] and parsed.counts.rows == 1
    [warning] = [w for w in parsed.warnings if w.code == issues.EXAMPLE_ROW]
    assert warning.row == 2 and "example row" in warning.message and "E20220914001" in warning.message
    assert "示例行" in issue_message(warning.code, warning.row, warning.column, warning.value, warning.message, Lang.ZH)


def test_the_example_typed_with_number_cells_is_recognised_too() -> None:
    example = {c.key: c.example for c in COLUMNS}
    header = [c.header for c in COLUMNS]
    values = [
        {h: example[c.key] for h, c in zip(header, COLUMNS, strict=True)},
        {h: v for h, v in zip(header, real_row(), strict=True)},
    ]
    values[0]["Unit Price*"] = "59.9"  # what a number cell shows for the example's 59.90
    parsed = parse_import(csv_bytes(values, header=header), "orders.csv")
    assert [o.order_no for o in parsed.orders] == ["REAL-1"]
    assert issues.EXAMPLE_ROW in [w.code for w in parsed.warnings]


def test_a_row_that_differs_from_the_example_in_one_cell_is_an_order() -> None:
    example = {c.key: c.example for c in COLUMNS}
    header = [c.header for c in COLUMNS]
    changed = {h: example[c.key] for h, c in zip(header, COLUMNS, strict=True)}
    changed["Quantity*"] = "3"
    parsed = parse_import(csv_bytes([changed], header=header), "orders.csv")
    assert [o.order_no for o in parsed.orders] == ["E20220914001"]
    assert issues.EXAMPLE_ROW not in [w.code for w in parsed.warnings]


@pytest.mark.parametrize("lang", list(Lang))
def test_a_file_holding_only_the_example_row_has_no_data_rows(lang: Lang) -> None:
    with pytest.raises(ImportFileError) as refused:
        parse_import(filled_template(lang=lang), "template.xlsx")
    assert refused.value.code == issues.NO_DATA_ROWS and "example row" in refused.value.message
