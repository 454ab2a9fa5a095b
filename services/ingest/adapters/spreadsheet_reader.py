"""Reading the uploaded bytes into a table of cell texts: .xlsx/.xlsm and legacy .xls through calamine, CSV
through `csv`.

Guarantees: bytes in, `Table` out, or `ImportFileError`; no traceback of a reader escapes. Row numbers are the
ones the user sees (1-based, counting blank and title rows above the header). Fully blank rows are dropped.
Merged cells are filled down with their top-left value. Memory and time are bounded by `ImportOptions`.
Number cells become their display text; those of ID columns whose text may not be what was typed (decimals, or
more than 15 digits: calamine hands every number over as a binary float) are listed, so they can be refused.
"""

from __future__ import annotations

import csv
import io
import itertools
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from python_calamine import CalamineWorkbook, SheetTypeEnum, SheetVisibleEnum

from services.ingest.adapters.xls_container import inspect_xls
from services.ingest.adapters.xlsx_archive import ErrorCells, check_bounds, column_letters, inspect_xlsx
from services.ingest.domain.spreadsheet import issues
from services.ingest.domain.spreadsheet.issues import ImportFileError
from services.ingest.domain.spreadsheet.options import ImportOptions
from services.ingest.domain.spreadsheet.template import COLUMNS_BY_KEY, HEADER_INDEX, Kind, header_key
from services.ingest.domain.spreadsheet.values import display_text, float_text, is_exact_id_number

UTF8_BOM = b"\xef\xbb\xbf"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")
TEXT_SUFFIXES = (".csv", ".tsv")
SNIFFED_SUFFIXES = (".xlsx", ".xlsm", ".xls")  # read as CSV when that is what they hold
PLAIN_TEXT_SUFFIXES = (".txt",)  # Excel's "Unicode text" (UTF-16, tab-separated) and "text (tab-delimited)"
HEADER_SEARCH_ROWS = 10  # title rows above the header that are tolerated
UNREADABLE_WORKBOOK = (
    "The workbook cannot be read: it is damaged or was not written by a spreadsheet program. Open it in Excel "
    "or WPS and save it again as .xlsx, or export it as CSV."
)


@dataclass(frozen=True, slots=True)
class Table:
    """The header and the non-blank data rows (row number, cell texts as wide as the header) of the sheet read;
    `inexact_numbers` holds the (row number, column index) of number cells that are no exact identifier,
    `error_cells` those of cells showing a spreadsheet error value (#N/A, #REF!...). `columns`, when the reader
    has them at hand, are the same data rows' texts column by column (one tuple per header column)."""

    sheet: str | None
    header_row: int
    header: list[str]
    rows: list[tuple[int, Sequence[str]]]
    inexact_numbers: frozenset[tuple[int, int]] = field(default_factory=frozenset)
    error_cells: frozenset[tuple[int, int]] = field(default_factory=frozenset)
    hidden_skipped: tuple[str, ...] = ()  # hidden worksheets passed over to find this one
    columns: list[tuple[str, ...]] | None = None
    # CSV rows with non-blank cells past the header's last column: (row number, cells, the first such cell)
    overlong_rows: tuple[tuple[int, int, str], ...] = ()

    def data_columns(self) -> list[tuple[str, ...]]:
        """The data rows' texts column by column."""
        if self.columns is not None:
            return self.columns
        if not self.rows:
            return [() for _ in self.header]
        return list(zip(*(cells for _, cells in self.rows), strict=True))


def read_table(data: bytes, filename: str, sheet: str | None, options: ImportOptions) -> Table:
    """Pick the reader by content first (zip, OLE, a web page or XML spreadsheet, CSV text under an Excel
    name), then by file name; refuse anything else."""
    name = filename.lower()
    if data.startswith(OLE_MAGIC):
        return read_legacy_workbook(data, sheet, options)
    if data.startswith(ZIP_MAGIC):
        return read_workbook(data, sheet, options)
    markup = markup_kind(data)
    if markup is not None and name.endswith(SNIFFED_SUFFIXES):
        raise ImportFileError(issues.UNSUPPORTED_FORMAT, f"The file is {markup}; save it as .xlsx or CSV.")
    if name.endswith(TEXT_SUFFIXES):
        return read_csv(data, options, sheet)
    text = _csv_text(data) if name.endswith(SNIFFED_SUFFIXES + PLAIN_TEXT_SUFFIXES) else None
    if text is not None:  # a CSV saved under an Excel name (a back-office's "export to Excel"), a text export
        return read_csv_text(text, options, sheet)
    if name.endswith(WORKBOOK_SUFFIXES):
        raise ImportFileError(issues.CORRUPT_WORKBOOK, f"{filename} is not a valid .xlsx workbook.")
    raise ImportFileError(
        issues.UNSUPPORTED_FORMAT, f"{filename} is not a spreadsheet; upload an .xlsx workbook or a CSV file."
    )


WEB_PAGE = "a web page (HTML) with an Excel file name"
XML_SPREADSHEET = "an XML Spreadsheet 2003 with an Excel file name"
_HTML_STARTS = ("<!doctype html", "<html", "<table", "<head", "<body", "<meta", "<style", "<!--")
_MARKUP_SAMPLE = 4096


def markup_kind(data: bytes) -> str | None:
    """What a back-office's "export to Excel" often is: a web page (an HTML table) or an XML Spreadsheet 2003,
    saved with an .xls name; None for anything else."""
    head = data[:_MARKUP_SAMPLE]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        sample = head[: len(head) // 2 * 2].decode("utf-16", "replace")
    else:
        sample = head.removeprefix(UTF8_BOM).decode("utf-8", "replace")
    sample = sample.lstrip("\ufeff \t\r\n").lower()
    if sample.startswith("<?xml") and "urn:schemas-microsoft-com:office:spreadsheet" in sample:
        return XML_SPREADSHEET
    if sample.startswith(_HTML_STARTS) and ("<table" in sample or "<html" in sample):
        return WEB_PAGE
    return None


def _csv_text(data: bytes) -> str | None:
    """The text of a file that is CSV whatever its name says: text whose first lines hold a header naming the
    Order No. (a damaged workbook or a binary file is no such text)."""
    try:
        text = decode_text(data)
    except ImportFileError:
        return None
    lines = [line for line in _first_lines(text) if line.strip()]
    heads = lines[:HEADER_SEARCH_ROWS]
    return text if any(_is_header(line.split(d)) for line in heads for d in (",", "\t", ";")) else None


# --- xlsx ------------------------------------------------------------------------------------------------------


def read_workbook(data: bytes, sheet: str | None, options: ImportOptions) -> Table:
    error_cells = inspect_xlsx(data, options)
    try:
        return _read_book(CalamineWorkbook.from_filelike(io.BytesIO(data)), sheet, options, error_cells)
    except ImportFileError:
        raise
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # calamine errors, and pyo3 panics (BaseException subclasses)
        raise ImportFileError(issues.CORRUPT_WORKBOOK, UNREADABLE_WORKBOOK) from exc  # the reader's text: logs only


def read_legacy_workbook(data: bytes, sheet: str | None, options: ImportOptions) -> Table:
    """A legacy .xls (BIFF, in an OLE container) read by calamine like an .xlsx. The same container holds a
    password-protected .xlsx, which no reader opens: both are told apart only by trying.

    Its cells are bounded like an .xlsx's before calamine allocates their grid (`xls_container`). A damaged .xls
    can still make calamine abort the process that reads it: an upload's is read in a worker process
    (`reader_processes`), which answers its death as this damaged .xls."""
    error_cells = inspect_xls(data, options)
    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
        book.sheet_names  # noqa: B018 - reading the directory is what fails on an encrypted workbook
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # calamine errors, and pyo3 panics (BaseException subclasses)
        raise ImportFileError(issues.ENCRYPTED_OR_LEGACY, DAMAGED_XLS) from exc
    try:
        return _read_book(book, sheet, options, error_cells)
    except ImportFileError:
        raise
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:
        raise ImportFileError(issues.CORRUPT_WORKBOOK, UNREADABLE_WORKBOOK) from exc


DAMAGED_XLS = (
    "The file is a password-protected workbook or a damaged .xls; remove the password, or open it in "
    "Excel or WPS and save it as .xlsx."
)


def _read_book(book: Any, sheet: str | None, options: ImportOptions, error_cells: dict[str, ErrorCells]) -> Table:
    names: list[str] = list(book.sheet_names)
    if sheet is not None:
        if sheet not in names:
            listed = ", ".join(f'"{n}"' for n in names)
            raise ImportFileError(issues.SHEET_NOT_FOUND, f'There is no sheet "{sheet}"; the sheets are {listed}.')
        table = _read_sheet(book.get_sheet_by_name(sheet), options, error_cells.get(sheet, {}))
        if table is None:
            kind = next((m.typ for m in book.sheets_metadata if m.name == sheet), SheetTypeEnum.WorkSheet)
            raise ImportFileError(
                issues.NO_DATA_ROWS,
                f"Sheet {_without_rows(sheet, kind)}: it has no rows. Name the sheet that holds the orders, or leave "
                "the sheet field empty.",
            )
        return table
    worksheets = [m for m in book.sheets_metadata if m.typ == SheetTypeEnum.WorkSheet]
    hidden = [f'"{m.name}"' for m in worksheets if m.visible != SheetVisibleEnum.Visible]
    first: Table | None = None
    for metadata in worksheets:
        if metadata.visible != SheetVisibleEnum.Visible:
            continue  # what the user cannot see is not what they mean to import (a stale backup, a lookup list)
        table = _read_sheet(book.get_sheet_by_name(metadata.name), options, error_cells.get(metadata.name, {}))
        if table is not None and _is_header(table.header):  # not a cover sheet (export time, counts) before it
            first = table
            break
        first = first or table
    if first is not None:
        return replace(first, hidden_skipped=tuple(m.name for m in worksheets if f'"{m.name}"' in hidden))
    if hidden:
        raise ImportFileError(
            issues.EMPTY_WORKBOOK,
            f"The workbook has no visible sheet with data (hidden sheets are skipped: {', '.join(hidden)}); "
            "unhide the sheet or name it in the sheet field.",
        )
    listed = ", ".join(_without_rows(m.name, m.typ) for m in book.sheets_metadata)
    raise ImportFileError(issues.EMPTY_WORKBOOK, f"The workbook has no sheet with rows: {listed}.")


def _without_rows(name: str, kind: Any) -> str:
    """A sheet without rows, and why: a chart sheet (a chart alone), or an empty worksheet."""
    if kind == SheetTypeEnum.ChartSheet:
        return f'"{name}" is a chart sheet'
    if kind == SheetTypeEnum.WorkSheet:
        return f'"{name}" is empty'
    return f'"{name}" is no worksheet'


def _read_sheet(sheet: Any, options: ImportOptions, error_cells: ErrorCells) -> Table | None:
    if sheet.start is None:
        return None
    top, left = sheet.start
    grid: list[list[Any]] = sheet.to_python(skip_empty_area=True)
    errors = _show_errors(grid, error_cells, top, left)
    _fill_merged(grid, sheet.merged_cell_ranges or (), top, left)
    shown = _shown_columns(grid)
    texts: list[Sequence[str]] = _cell_texts(grid) if shown is None else list(zip(*shown.columns, strict=True))
    blank_free = shown is not None and _no_blank_row(shown.columns)
    table = _table(sheet.name, enumerate(texts, top + 1), options, _never_blank if blank_free else is_blank)
    if table is None:
        return None
    inexact = _inexact_ids(grid, top + 1, table, None if shown is None else shown.numbers)
    return replace(table, inexact_numbers=inexact, error_cells=errors, columns=_data_columns(shown, table, top + 1))


@dataclass(frozen=True, slots=True)
class _ShownColumns:
    """A rectangular grid's texts column by column, and the indexes of the columns holding a non-text cell."""

    columns: list[tuple[str, ...]]
    numbers: frozenset[int]


def _texts(grid: list[list[Any]]) -> list[list[str]]:
    """The grid's cells as the texts the user sees, row by row."""
    shown = _shown_columns(grid)
    if shown is None:
        return [list(row) for row in _cell_texts(grid)]
    return [list(row) for row in zip(*shown.columns, strict=True)]


def _cell_texts(grid: list[list[Any]]) -> list[Sequence[str]]:
    return [[c if type(c) is str else display_text(c) for c in row] for row in grid]


def _shown_columns(grid: list[list[Any]]) -> _ShownColumns | None:
    """The cells as the texts the user sees, a column at a time: each distinct number or date of a column is
    shown once (a column holding booleans cell by cell: True == 1.0 would share a text). None for ragged rows."""
    if not grid or len(set(map(len, grid))) != 1:
        return None
    columns: list[tuple[str, ...]] = []
    numbers: set[int] = set()
    for index, column in enumerate(zip(*grid, strict=True)):
        if _all_texts(column):
            columns.append(column)
            continue
        numbers.add(index)
        kinds = set(map(type, column))
        if bool in kinds:
            columns.append(tuple(c if type(c) is str else display_text(c) for c in column))
        else:
            distinct = set(column)
            shown = dict(zip(distinct, map(float_text if kinds == {float} else display_text, distinct), strict=True))
            columns.append(tuple(map(shown.__getitem__, column)))
    return _ShownColumns(columns, frozenset(numbers))


def _no_blank_row(columns: list[tuple[str, ...]]) -> bool:
    """Whether some column has no blank cell, so no row is blank: found from the first such column (the
    Order No. of a sheet that starts with it), one column read instead of every cell of every row."""
    return any(all(map(str.strip, column)) for column in columns)


def _never_blank(cells: Sequence[str]) -> bool:
    return False


def _all_texts(column: tuple[Any, ...]) -> bool:
    """Whether every cell is a text (most columns): joining them fails at the first one that is not."""
    try:
        "".join(column)
    except TypeError:
        return False
    return True


def _data_columns(shown: _ShownColumns | None, table: Table, first_row_no: int) -> list[tuple[str, ...]] | None:
    """The data rows' columns, sliced from the sheet's when no blank row was dropped between them."""
    if shown is None or not table.rows:
        return None
    start = table.rows[0][0] - first_row_no
    if table.rows[-1][0] - table.rows[0][0] + 1 != len(table.rows) or len(shown.columns) < len(table.header):
        return None
    return [column[start : start + len(table.rows)] for column in shown.columns[: len(table.header)]]


def _show_errors(grid: list[list[Any]], error_cells: ErrorCells, top: int, left: int) -> frozenset[tuple[int, int]]:
    """Put each error cell's value (#N/A...), which calamine reads as blank, back in the grid; answer their
    (row number, column index)."""
    found = set()
    for (row_no, column_no), shown in error_cells.items():
        row, col = row_no - 1 - top, column_no - 1 - left
        if 0 <= row < len(grid) and 0 <= col < len(grid[row]) and grid[row][col] in ("", None):
            grid[row][col] = shown
            found.add((row_no, col))
    return frozenset(found)


def _inexact_ids(
    grid: list[list[Any]], first_row_no: int, table: Table, numbers: frozenset[int] | None
) -> frozenset[tuple[int, int]]:
    """(row number, column index) of the number cells of ID columns whose text may not be what was typed;
    only the columns in `numbers` (when known) hold number cells."""
    ids = [index for index, name in enumerate(table.header) if _is_id_header(name)]
    if numbers is not None:
        ids = [index for index in ids if index in numbers]
    found: set[tuple[int, int]] = set()
    for col in ids:
        for row_no, _ in table.rows:
            row = grid[row_no - first_row_no]
            cell = row[col] if col < len(row) else None
            if cell is not None and type(cell) is not str and not is_exact_id_number(cell):
                found.add((row_no, col))
    return frozenset(found)


def _is_id_header(name: str) -> bool:
    key = HEADER_INDEX.get(header_key(name))
    return key is not None and COLUMNS_BY_KEY[key].kind is Kind.ID


def _fill_merged(grid: list[list[Any]], merges: Iterable[Any], top: int, left: int) -> None:
    """Copy each merged range's top-left value down its column; total work is bounded by the grid size."""
    budget = len(grid) * (len(grid[0]) if grid else 0)
    for (first_row, first_col), (last_row, _) in merges:
        row, col = first_row - top, first_col - left
        if not (0 <= row < len(grid) and 0 <= col < len(grid[row])):
            continue
        value = grid[row][col]
        for below in range(row + 1, min(last_row - top, len(grid) - 1) + 1):
            budget -= 1
            if budget < 0:
                return
            if col < len(grid[below]):
                grid[below][col] = value


# --- CSV -------------------------------------------------------------------------------------------------------


def decode_text(data: bytes) -> str:
    """UTF-16 (with BOM, or without one: `_text_with_nul`), then UTF-8 (BOM optional), then GB18030 (what Excel
    writes on Chinese systems)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise ImportFileError(issues.UNDECODABLE_TEXT, "The file is not valid UTF-16 text.") from exc
    if b"\x00" in data:
        return _text_with_nul(data)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:  # a UTF-8 BOM before a GB18030 body (some tools prepend one): the BOM is no text of the file
        return data.removeprefix(UTF8_BOM).decode("gb18030")
    except UnicodeDecodeError:
        pass
    raise ImportFileError(issues.UNDECODABLE_TEXT, "The file is neither UTF-8 nor GB18030 text; save it as CSV UTF-8.")


_UTF16_SAMPLE = 4096


def _text_with_nul(data: bytes) -> str:
    """A file holding NUL bytes: UTF-16 without a byte-order mark (NULs on one side of the byte pairs: the high
    bytes of ASCII) or UTF-8 is text, whose cells holding a NUL are row errors as in any other file (the cell
    rules); anything else is binary. Both were refused as binary, with a message about quotes in Chinese."""
    sample = data[:_UTF16_SAMPLE]
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    for encoding, nuls, others in (("utf-16-le", odd, even), ("utf-16-be", even, odd)):
        if len(data) % 2 == 0 and nuls * 4 >= len(sample) // 2 and others * 50 <= nuls:
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:
                break
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        binary = "The file is binary, not CSV text; upload .xlsx or CSV."
        raise ImportFileError(issues.UNSUPPORTED_FORMAT, binary) from None


_HEAD_CHARS = 1 << 16


def _first_lines(text: str) -> list[str]:
    """The first lines of `text` that the header is looked for in (`HEADER_SEARCH_ROWS * 4`), split from a head
    of the text that holds them and one more (a whole 1 MB file split into lines took a millisecond)."""
    count = HEADER_SEARCH_ROWS * 4
    lines = text[:_HEAD_CHARS].splitlines()
    return (lines if len(lines) > count else text.splitlines())[:count]


def sniff_delimiter(text: str) -> str:
    """Comma, tab or semicolon: the one that splits the header (a line among the first few naming Order No.) into
    a cell that names it; failing that, whichever the first non-blank line has most of (comma on a tie). A title
    line above the header (`Shop A; 2026`) does not decide."""
    lines = [line for line in _first_lines(text) if line.strip()]
    for line in lines[:HEADER_SEARCH_ROWS]:
        for delimiter in (",", "\t", ";"):
            if delimiter in line and _is_header(line.split(delimiter)):
                return delimiter
    return max((",", "\t", ";"), key=(lines[0] if lines else "").count)


def read_csv(data: bytes, options: ImportOptions, sheet: str | None = None) -> Table:
    return read_csv_text(decode_text(data), options, sheet)


def read_csv_text(text: str, options: ImportOptions, sheet: str | None = None) -> Table:
    """Strict CSV: a quote that is never closed (which would swallow every line below it into one cell) or text
    after a closing quote is a file error naming the row, never a silently shorter file. A CSV file has no
    sheet to name."""
    if sheet:
        raise ImportFileError(
            issues.SHEET_NOT_FOUND, "A CSV file has no sheets; leave the sheet field empty, or upload an .xlsx."
        )
    delimiter = sniff_delimiter(text)
    try:  # every record at C speed, the blank-line bound kept by `islice`
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
        records = list(itertools.islice(reader, options.max_sheet_rows + 1))
    except csv.Error:
        records = None
    if records is None or len(records) > options.max_sheet_rows:  # read again as it always was, to refuse it
        return _read_records(text, delimiter, options)
    table = _table(None, enumerate(records, 1), options)
    if table is None:
        raise ImportFileError(issues.EMPTY_FILE, "The CSV file has only blank lines.")
    width = len(records[table.header_row - 1])
    wider = enumerate(records, 1) if max(map(len, records)) > width else iter(())
    return replace(table, overlong_rows=_past_width(wider, table.header_row, width))


def _read_records(text: str, delimiter: str, options: ImportOptions) -> Table:
    """`read_csv_text` record by record: a file reaching past `max_sheet_rows` is refused where it does (whatever
    else is wrong with it after that), a `csv.Error` names its row."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    records = _Records(reader, options)
    try:
        table = _table(None, iter(records), options)
    except csv.Error as exc:
        raise ImportFileError(issues.UNSUPPORTED_FORMAT, _csv_problem(exc, records.count + 1)) from exc
    if table is None:
        raise ImportFileError(issues.EMPTY_FILE, "The CSV file has only blank lines.")
    return replace(table, overlong_rows=records.overlong(table.header_row))


class _Records:
    """The reader's records numbered from 1, remembering how many were read (to name the row of an error). A
    file reaching past `max_sheet_rows` (blank lines included) is refused there, as a sheet reaching that far is:
    19 MB of blank lines cost 16 s of CPU holding the GIL, which every other request waited for."""

    def __init__(self, reader: Iterator[list[str]], options: ImportOptions) -> None:
        self.reader, self.count, self.options = reader, 0, options
        self.leading: dict[int, int] = {}  # cells of the first non-blank records, the header among them
        self.wider: list[tuple[int, list[str]]] = []  # records with more cells than the narrowest of those

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        floor = sys.maxsize
        for cells in self.reader:
            self.count += 1
            if self.count > self.options.max_sheet_rows:
                check_bounds(None, 0, self.count, self.options)
            if len(self.leading) < HEADER_SEARCH_ROWS and not is_blank(cells):
                self.leading[self.count] = len(cells)
                floor = min(floor, len(cells))
            if len(cells) > floor:
                self.wider.append((self.count, cells))
            yield self.count, cells

    def overlong(self, header_row: int) -> tuple[tuple[int, int, str], ...]:
        """The data rows with more cells than the header record and a non-blank one past it: (row, cells, the
        first such cell). An unquoted comma in a cell splits it in two and moves every cell after it one column
        right; the last one fell past the header and was dropped without a word. (A column under a blank header
        cell is the header's: ignored, as ever.)"""
        return _past_width(iter(self.wider), header_row, self.leading[header_row])


def _past_width(
    records: Iterator[tuple[int, list[str]]], header_row: int, width: int
) -> tuple[tuple[int, int, str], ...]:
    """`_Records.overlong` of the numbered `records` (those with more cells than the header's `width` among them)."""
    found = []
    for row_no, cells in records:
        if row_no <= header_row or len(cells) <= width:
            continue
        past = next((cell for cell in cells[width:] if cell.strip()), None)
        if past is not None:
            found.append((row_no, len(cells), past))
    return tuple(found)


def _csv_problem(exc: csv.Error, row_no: int) -> str:
    reason = str(exc)
    if "field larger than field limit" in reason:
        return f"The CSV file has a cell longer than {csv.field_size_limit():,} characters; no column accepts that."
    if "unexpected end of data" in reason:
        return (
            f'Row {row_no}: a quote (") opens a cell that is never closed, so every line below it would be read '
            'as that one cell. Close the quote, or write a quote inside a cell as two quotes ("").'
        )
    if "expected after" in reason:
        return (
            f"Row {row_no}: a quoted cell goes on after its closing quote; write a quote inside a cell as two "
            'quotes ("") and save the file again as CSV.'
        )
    return "The CSV file cannot be read (it is not a CSV file); save it again as CSV UTF-8."


# --- shared ----------------------------------------------------------------------------------------------------


def is_blank(cells: Sequence[str]) -> bool:
    return not any(map(str.strip, cells))


def _is_header(cells: Sequence[str]) -> bool:
    return any(HEADER_INDEX.get(header_key(cell)) == "order_no" for cell in cells if cell)


def _table(
    sheet: str | None,
    numbered: Iterator[tuple[int, Sequence[str]]],
    options: ImportOptions,
    is_blank: Callable[[Sequence[str]], bool] = is_blank,
) -> Table | None:
    """Find the header (the first non-blank row, or a later one among the first few naming Order No.), then
    collect the data rows below it, refusing more than `max_rows` with their exact count."""
    leading: list[tuple[int, Sequence[str]]] = []
    for row_no, cells in numbered:
        if is_blank(cells):
            continue
        leading.append((row_no, cells))
        if _is_header(cells) or len(leading) == HEADER_SEARCH_ROWS:
            break
    if not leading:
        return None
    header_at = next((i for i, (_, cells) in enumerate(leading) if _is_header(cells)), 0)
    header_row, header = leading[header_at]
    header = _check_width(header, options, sheet)
    rows = leading[header_at + 1 :]
    for row_no, cells in numbered:
        if not is_blank(cells):
            rows.append((row_no, cells))
            if len(rows) > options.max_rows:
                _too_many_rows(len(rows) + sum(1 for _, rest in numbered if not is_blank(rest)), options)
    width = len(header)
    if len({len(cells) for _, cells in rows} | {width}) == 1:
        return Table(sheet, header_row, header, rows)
    return Table(sheet, header_row, header, [(n, _fit(cells, width)) for n, cells in rows])


def _fit(cells: Sequence[str], width: int) -> Sequence[str]:
    if len(cells) == width:
        return cells
    return list(cells[:width]) + [""] * (width - len(cells))


def _check_width(header: Sequence[str], options: ImportOptions, sheet: str | None) -> list[str]:
    width = len(header)
    while width and not header[width - 1].strip():
        width -= 1
    if width > options.max_columns:
        where = f'Sheet "{sheet}": the header' if sheet is not None else "The header"
        raise ImportFileError(
            issues.TOO_MANY_COLUMNS,
            f"{where} has {width} columns (A to {column_letters(width)}); at most {options.max_columns} columns "
            f"(A to {column_letters(options.max_columns)}) are accepted. Delete the columns you do not need.",
        )
    return list(header[:width])


def _too_many_rows(count: int, options: ImportOptions) -> None:
    raise ImportFileError(
        issues.TOO_MANY_ROWS,
        f"The file has {count:,} data rows; at most {options.max_rows:,} are accepted per import. Split the file.",
    )
