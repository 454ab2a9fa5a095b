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
from dataclasses import dataclass

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from services.ingest.domain.importing import ParsedImport, SheetRow
from services.ingest.domain.template import (
    COLUMNS,
    ERRORS_HEADER,
    HEADER_INDEX,
    RESULT_HEADER,
    RULES,
    SOURCE_LABELS,
    STATUS_LABELS,
    WARNINGS_HEADER,
    Column,
    Kind,
    column_rule,
    header_key,
)
from services.ingest.domain.validation import FORMULA_PREFIXES, visible

ORDERS_SHEET = "Orders"
INSTRUCTIONS_SHEET = "Instructions"
VALIDATED_ROWS = 5001  # drop-downs cover the header plus 5,000 data rows
_BOLD = Font(bold=True)
_REQUIRED_FILL = PatternFill("solid", fgColor="FFF2CC")
_TEXT_FORMAT = "@"
_FAILED_FILL = PatternFill("solid", fgColor="FFC7CE")  # Excel's own "bad" red
_MAX_WIDTH = 40
_ERRORS_WIDTH = 80


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
    outcomes: Mapping[int, tuple[str, ...]],
) -> bytes:
    """The uploaded rows with "Result", "Errors" and "Warnings" columns (from `outcomes[row_no] = (result,
    errors[, warnings])`).

    Rows keep file order; a row without an outcome gets blank result cells. The header parses again (the added
    columns are recognised and ignored), so users can fix the failed rows and upload this file as is.
    """
    header, rows = (source.header, source.rows) if isinstance(source, ParsedImport) else source
    book = Workbook()
    sheet = book.active
    sheet.title = ORDERS_SHEET
    for col, text in enumerate([*header, RESULT_HEADER, ERRORS_HEADER, WARNINGS_HEADER], 1):
        _put(sheet, 1, col, text)
        sheet.cell(row=1, column=col).font = _BOLD
    for line, row in enumerate(rows, 2):
        result, errors, *warnings = outcomes.get(row.row_no, ("", ""))
        for col, text in enumerate([*row.cells, result, errors, *warnings[:1]], 1):
            if text:
                _put(sheet, line, col, text)
    sheet.freeze_panes = "A2"
    return _save(book)


@dataclass(frozen=True, slots=True)
class FailedRow:
    """A row to fix: its cells as uploaded (aligned with the upload's header), why, and which headers failed."""

    cells: Sequence[str]
    errors: str
    error_columns: Sequence[str]


def build_failed_workbook(header: Sequence[str], rows: Sequence[FailedRow]) -> bytes:
    """Only the rows to fix, in the template's columns and order (columns the template does not know are left
    out), with the error text of each row last: fixed and uploaded again, it imports exactly these rows.
    Failed cells are highlighted; the sheet has an autofilter, a frozen header and column widths."""
    position: dict[str | None, int] = {}
    for at, name in enumerate(header):
        position.setdefault(HEADER_INDEX.get(header_key(name)), at)
    book = Workbook()
    sheet = book.active
    sheet.title = ORDERS_SHEET
    titles = [*(column.header for column in COLUMNS), ERRORS_HEADER]
    widths = [len(title) + 4 for title in titles]
    for col, title in enumerate(titles, 1):
        _put(sheet, 1, col, title)
        sheet.cell(row=1, column=col).font = _BOLD
    for line, row in enumerate(rows, 2):
        failed = {HEADER_INDEX.get(header_key(name)) for name in row.error_columns}
        for col, column in enumerate(COLUMNS, 1):
            index = position.get(column.key)
            text = row.cells[index] if index is not None and index < len(row.cells) else ""
            if text:
                _put(sheet, line, col, text)
                widths[col - 1] = max(widths[col - 1], min(len(text) + 2, _MAX_WIDTH))
            if column.key in failed:
                sheet.cell(row=line, column=col).fill = _FAILED_FILL
        _put(sheet, line, len(titles), row.errors)
        sheet.cell(row=line, column=len(titles)).alignment = Alignment(wrap_text=True, vertical="top")
    widths[-1] = _ERRORS_WIDTH
    for col, width in enumerate(widths, 1):
        sheet.column_dimensions[get_column_letter(col)].width = max(width, 10)
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(titles))}{len(rows) + 1}"
    sheet.freeze_panes = "A2"
    return _save(book)
