"""Writing workbooks with openpyxl: the import template and the result workbook (uploaded rows + outcome).

Both are generated from `domain.template`, so they never drift from what the parser accepts. Every text written
that a spreadsheet could take for a formula (starting with = + - @, tab or carriage return) is neutralised with a
leading `'` and stored as a string; the parser strips that quote again on re-upload. A character no workbook can
hold (control characters, lone surrogates: refused at upload, but rows stored before that rule may have them) is
written as U+FFFD, so a stored value never makes the result workbook fail.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from services.ingest.application.parsing import ParsedImport, SheetRow
from services.ingest.domain.spreadsheet.template import (
    COLUMNS,
    ERRORS_HEADER,
    RESULT_HEADER,
    RULES,
    SOURCE_LABELS,
    STATUS_LABELS,
    Column,
    Kind,
    column_rule,
)
from services.ingest.domain.spreadsheet.values import FORMULA_PREFIXES, visible

ORDERS_SHEET = "Orders"
INSTRUCTIONS_SHEET = "Instructions"
VALIDATED_ROWS = 5001  # drop-downs cover the header plus 5,000 data rows
_BOLD = Font(bold=True)
_REQUIRED_FILL = PatternFill("solid", fgColor="FFF2CC")
_TEXT_FORMAT = "@"


def neutralise(text: str) -> str:
    """Text a spreadsheet will never evaluate: `'` before a leading = + - @ tab or carriage return."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def _put(sheet: Worksheet, row: int, col: int, text: str) -> None:
    cell = sheet.cell(row=row, column=col)
    cell.value = neutralise(visible(text))
    cell.data_type = "s"  # never "f", even if openpyxl guessed a formula


def _save(book: Workbook) -> bytes:
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _comment(column: Column) -> Comment:
    text = f"{column.chinese}\n{'Required. ' if column.required else ''}{column_rule(column)}"
    if column.example:
        text += f"\nExample: {column.example}"
    comment = Comment(text, "Order Info")
    comment.width, comment.height = 320, 160
    return comment


def _list_validation(labels: Sequence[str], col: int) -> DataValidation:
    letter = get_column_letter(col)
    validation = DataValidation(type="list", formula1='"' + ",".join(labels) + '"', allow_blank=True)
    validation.error = "Pick a value from the list (Chinese aliases are accepted too)."
    validation.add(f"{letter}2:{letter}{VALIDATED_ROWS}")
    return validation


def _orders_sheet(sheet: Worksheet) -> None:
    sheet.title = ORDERS_SHEET
    for col, column in enumerate(COLUMNS, 1):
        cell = sheet.cell(row=1, column=col, value=column.header)
        cell.font, cell.comment = _BOLD, _comment(column)
        if column.required:
            cell.fill = _REQUIRED_FILL
        example = sheet.cell(row=2, column=col)
        example.value = neutralise(column.example) if column.example else None
        example.number_format = _TEXT_FORMAT
        sheet.column_dimensions[get_column_letter(col)].width = max(14, len(column.header) + 4)
        if column.kind is Kind.SOURCE:
            sheet.add_data_validation(_list_validation(list(SOURCE_LABELS.values()), col))
        elif column.kind is Kind.STATUS:
            sheet.add_data_validation(_list_validation(list(STATUS_LABELS.values()), col))
    sheet.freeze_panes = "A2"


def _instructions_sheet(sheet: Worksheet) -> None:
    sheet.append(
        ["Order import template: one row per product line. Fill in the Orders sheet (this sheet is not read)."]
    )
    sheet.append([])
    sheet.append(["Column", "Chinese header", "Required", "Rule", "Example"])
    for cell in sheet[3]:
        cell.font = _BOLD
    for column in COLUMNS:
        sheet.append(
            [column.english, column.chinese, "yes" if column.required else "", column_rule(column), column.example]
        )
    sheet.append([])
    sheet.append(["Rules"])
    sheet.cell(row=sheet.max_row, column=1).font = _BOLD
    for rule in RULES:
        sheet.append([neutralise(rule)])
    for letter, width in zip("ABCDE", (26, 16, 10, 90, 22), strict=True):
        sheet.column_dimensions[letter].width = width
    for row in sheet.iter_rows(min_row=4, min_col=4, max_col=4):
        row[0].alignment = Alignment(wrap_text=True, vertical="top")


def build_template() -> bytes:
    """The import template: an Orders sheet (headers with comments, drop-downs, one example row) first, then an
    Instructions sheet. The parser reads the first sheet with data, so the Instructions never get parsed."""
    book = Workbook()
    _orders_sheet(book.active)
    _instructions_sheet(book.create_sheet(INSTRUCTIONS_SHEET))
    return _save(book)


def build_result_workbook(
    source: ParsedImport | tuple[Sequence[str], Sequence[SheetRow]],
    outcomes: Mapping[int, tuple[str, str]],
) -> bytes:
    """The uploaded rows with "Result" and "Errors" columns (from `outcomes[row_no] = (result, errors)`).

    Rows keep file order; a row without an outcome gets blank result cells. The header parses again (the two
    added columns are recognised and ignored), so users can fix the failed rows and upload this file as is.
    """
    header, rows = (source.header, source.rows) if isinstance(source, ParsedImport) else source
    book = Workbook()
    sheet = book.active
    sheet.title = ORDERS_SHEET
    for col, text in enumerate([*header, RESULT_HEADER, ERRORS_HEADER], 1):
        _put(sheet, 1, col, text)
        sheet.cell(row=1, column=col).font = _BOLD
    for line, row in enumerate(rows, 2):
        result, errors = outcomes.get(row.row_no, ("", ""))
        for col, text in enumerate([*row.cells, result, errors], 1):
            if text:
                _put(sheet, line, col, text)
    sheet.freeze_panes = "A2"
    return _save(book)
