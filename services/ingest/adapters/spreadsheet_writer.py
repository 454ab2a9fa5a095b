"""Writing workbooks with openpyxl: the import template and the result workbook (uploaded rows + outcome).

Both are generated from `domain.spreadsheet.template`, so they never drift from what the parser accepts. Every text
written that a spreadsheet could take for a formula (starting with = + - @, tab or carriage return) is neutralised
with a leading `'` and stored as a string; the parser strips that quote again on re-upload. A character no workbook can
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

from services.core.order import OrderSource, OrderStatus
from services.ingest.application.parsing import ParsedImport, SheetRow
from services.ingest.domain.language import (
    DEFAULT_LANG,
    Lang,
    column_example,
    column_header,
    column_name,
    column_rule_zh,
    result_headers,
    rules,
    source_label,
    status_label,
    template_text,
)
from services.ingest.domain.spreadsheet.template import (
    COLUMNS,
    HEADER_INDEX,
    Column,
    Kind,
    column_rule,
    header_key,
)
from services.ingest.domain.spreadsheet.values import FORMULA_PREFIXES, visible

VALIDATED_ROWS = 5001  # drop-downs cover the header plus 5,000 data rows
MAX_CELL_TEXT = 32_767  # characters of one cell of an .xlsx (Excel's specifications and limits)
_BOLD = Font(bold=True)
_REQUIRED_FILL = PatternFill("solid", fgColor="FFF2CC")
_TEXT_FORMAT = "@"
_FAILED_FILL = PatternFill("solid", fgColor="FFC7CE")  # Excel's own "bad" red
_MAX_WIDTH = 40
_ERRORS_WIDTH = 80


def neutralise(text: str) -> str:
    """Text a spreadsheet will never evaluate: `'` before a leading = + - @ tab or carriage return."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def _put(sheet: Worksheet, row: int, col: int, text: str, lang: Lang = DEFAULT_LANG) -> None:
    cell = sheet.cell(row=row, column=col)
    cell.value = fitted(neutralise(visible(text)), lang)
    cell.data_type = "s"  # never "f", even if openpyxl guessed a formula


def fitted(text: str, lang: Lang) -> str:
    """`text` within what a workbook cell holds (`MAX_CELL_TEXT`): a longer one is cut, with a marker saying how
    long it was (Excel empties a longer cell when it "repairs" the file; WPS cuts it without a word)."""
    if len(text) <= MAX_CELL_TEXT:
        return text
    marker = template_text("cut", lang).format(count=len(text))
    return text[: MAX_CELL_TEXT - len(marker)] + marker


def _save(book: Workbook) -> bytes:
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _comment(column: Column, lang: Lang) -> Comment:
    other = column.english if lang is Lang.ZH else column.chinese
    rule = column_rule_zh(column) if lang is Lang.ZH else column_rule(column)
    required = template_text("required", lang) if column.required else ""
    text = f"{other}\n{required}{rule}"
    example = column_example(column, lang)
    if example:
        text += f"\n{template_text('example', lang)}{example}"
    comment = Comment(text, "Order Info")
    comment.width, comment.height = 320, 160
    return comment


def _list_validation(labels: Sequence[str], col: int, lang: Lang) -> DataValidation:
    letter = get_column_letter(col)
    validation = DataValidation(type="list", formula1='"' + ",".join(labels) + '"', allow_blank=True)
    validation.error = template_text("pick", lang)
    validation.add(f"{letter}2:{letter}{VALIDATED_ROWS}")
    return validation


def _orders_sheet(sheet: Worksheet, lang: Lang) -> None:
    sheet.title = template_text("sheet.orders", lang)
    for col, column in enumerate(COLUMNS, 1):
        header = column_header(column, lang)
        cell = sheet.cell(row=1, column=col, value=header)
        cell.font, cell.comment = _BOLD, _comment(column, lang)
        if column.required:
            cell.fill = _REQUIRED_FILL
        example_text = column_example(column, lang)
        example = sheet.cell(row=2, column=col)
        example.value = neutralise(example_text) if example_text else None
        example.number_format = _TEXT_FORMAT
        width = sum(2 if ord(ch) > 0x2E7F else 1 for ch in header)  # CJK characters are twice as wide
        sheet.column_dimensions[get_column_letter(col)].width = max(14, width + 4)
        if column.kind is Kind.SOURCE:
            sheet.add_data_validation(_list_validation([source_label(s, lang) for s in OrderSource], col, lang))
        elif column.kind is Kind.STATUS:
            sheet.add_data_validation(_list_validation([status_label(s, lang) for s in OrderStatus], col, lang))
    sheet.freeze_panes = "A2"


def _instructions_sheet(sheet: Worksheet, lang: Lang) -> None:
    sheet.append([template_text("intro", lang)])
    sheet.append([])
    sheet.append([template_text(f"table.{key}", lang) for key in ("column", "other", "required", "rule", "example")])
    for cell in sheet[3]:
        cell.font = _BOLD
    for column in COLUMNS:
        other = column.english if lang is Lang.ZH else column.chinese
        rule = column_rule_zh(column) if lang is Lang.ZH else column_rule(column)
        required = template_text("yes", lang) if column.required else ""
        sheet.append([column_name(column, lang), other, required, rule, column_example(column, lang)])
    sheet.append([])
    sheet.append([template_text("rules", lang)])
    sheet.cell(row=sheet.max_row, column=1).font = _BOLD
    for rule_text in rules(lang):
        sheet.append([neutralise(rule_text)])
    for letter, width in zip("ABCDE", (26, 22, 10, 90, 22), strict=True):
        sheet.column_dimensions[letter].width = width
    for row in sheet.iter_rows(min_row=4, min_col=4, max_col=4):
        row[0].alignment = Alignment(wrap_text=True, vertical="top")


def build_template(lang: Lang = DEFAULT_LANG) -> bytes:
    """The import template in `lang`: an Orders sheet (headers with comments, drop-downs, one example row) first,
    then an Instructions sheet. The parser reads the first sheet with data, so the Instructions never get parsed;
    the headers and drop-down values of either language parse on upload."""
    book = Workbook()
    _orders_sheet(book.active, lang)
    _instructions_sheet(book.create_sheet(template_text("sheet.instructions", lang)), lang)
    return _save(book)


def build_result_workbook(
    source: ParsedImport | tuple[Sequence[str], Sequence[SheetRow]],
    outcomes: Mapping[int, tuple[str, ...]],
    lang: Lang = Lang.EN,
) -> bytes:
    """The uploaded rows with "Result", "Errors" and "Warnings" columns (from `outcomes[row_no] = (result,
    errors[, warnings])`, already in `lang`; the headers in `lang`: 导入结果 / 错误信息 / 警告信息 or
    Result / Errors / Warnings).

    Rows keep file order; a row without an outcome gets blank result cells. The header parses again (the added
    columns are recognised and ignored in either language), so users can fix the failed rows and upload this file
    as is.
    """
    header, rows = (source.header, source.rows) if isinstance(source, ParsedImport) else source
    book = Workbook()
    sheet = book.active
    sheet.title = template_text("sheet.orders", lang)
    for col, text in enumerate([*header, *result_headers(lang)], 1):
        _put(sheet, 1, col, text)
        sheet.cell(row=1, column=col).font = _BOLD
    for line, row in enumerate(rows, 2):
        result, errors, *warnings = outcomes.get(row.row_no, ("", ""))
        for col, text in enumerate([*row.cells, result, errors, *warnings[:1]], 1):
            if text:
                _put(sheet, line, col, text, lang)
    sheet.freeze_panes = "A2"
    return _save(book)


@dataclass(frozen=True, slots=True)
class FailedRow:
    """A row to fix: its cells as uploaded (aligned with the upload's header), why, and which headers failed."""

    cells: Sequence[str]
    errors: str
    error_columns: Sequence[str]


def build_failed_workbook(header: Sequence[str], rows: Sequence[FailedRow], lang: Lang = Lang.EN) -> bytes:
    """Only the rows to fix, in the template's columns and order (columns the template does not know are left
    out), with the error text of each row last: fixed and uploaded again, it imports exactly these rows.
    Failed cells are highlighted; the sheet has an autofilter, a frozen header and column widths."""
    position: dict[str | None, int] = {}
    for at, name in enumerate(header):
        position.setdefault(HEADER_INDEX.get(header_key(name)), at)
    book = Workbook()
    sheet = book.active
    sheet.title = template_text("sheet.orders", lang)
    titles = [*(column_header(column, lang) for column in COLUMNS), result_headers(lang)[1]]
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
                _put(sheet, line, col, text, lang)
                widths[col - 1] = max(widths[col - 1], min(len(text) + 2, _MAX_WIDTH))
            if column.key in failed:
                sheet.cell(row=line, column=col).fill = _FAILED_FILL
        _put(sheet, line, len(titles), row.errors, lang)
        sheet.cell(row=line, column=len(titles)).alignment = Alignment(wrap_text=True, vertical="top")
    widths[-1] = _ERRORS_WIDTH
    for col, width in enumerate(widths, 1):
        sheet.column_dimensions[get_column_letter(col)].width = max(width, 10)
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(titles))}{len(rows) + 1}"
    sheet.freeze_panes = "A2"
    return _save(book)
