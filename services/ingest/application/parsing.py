"""Parsing an uploaded order file: bytes in, `ParsedImport` out. No IO besides decoding the given bytes.

The steps, in order: read the table (`adapters.spreadsheet_reader`: calamine or csv), check the rows
(`domain.spreadsheet.rows`, cell rules in `domain.spreadsheet.values`), split them into orders
(`domain.spreadsheet.split`). `application.imports` then encodes one message per order and publishes them.

Guarantees:
- Whole-file problems raise `ImportFileError` (stable `code`); everything about a row is a `RowIssue` value.
- `orders` holds only orders all of whose rows are valid; an order with any invalid row is in `held_back`
  whole; a row without a usable Order No. is invalid and belongs to no order.
- Every valid row is a line of exactly one order in `orders` or `held_back`.
- Times are aware instants in the import's time zone, independent of the server's zone.
- What is accepted can be stored (`bounds`): a cell holding an unstorable character is a row error, and `rows`
  (stored and written back into the result workbook) shows such characters as U+FFFD; a header cell holding one
  refuses the file.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Literal, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from services.core import bounds
from services.core.order import Order
from services.ingest.adapters.spreadsheet_reader import Table, read_table
from services.ingest.application.zones import named_zone
from services.ingest.domain.language import Lang, column_example
from services.ingest.domain.spreadsheet import issues
from services.ingest.domain.spreadsheet.issues import ImportFileError, RowIssue, file_too_large
from services.ingest.domain.spreadsheet.options import DEFAULT_OPTIONS, ImportOptions
from services.ingest.domain.spreadsheet.rows import CheckedRows, Field, RowRules, check_rows, shown
from services.ingest.domain.spreadsheet.split import HeldBackOrder, fill_order_fields, group_rows
from services.ingest.domain.spreadsheet.template import (
    COLUMNS_BY_KEY,
    HEADER_INDEX,
    IGNORED_HEADERS,
    REQUIRED_KEYS,
    Kind,
    header_key,
)
from services.ingest.domain.spreadsheet.values import (
    DEFAULT_PLACEHOLDER_MOBILES,
    clean,
    normalise_mobile,
    parse_decimal,
    visible,
)

TableReader = Callable[[bytes, str, str | None, ImportOptions], Table]

__all__ = [
    "DEFAULT_OPTIONS",
    "HeldBackOrder",
    "ImportCounts",
    "ImportFileError",
    "ImportOptions",
    "ParsedImport",
    "RowIssue",
    "SheetRow",
    "TableReader",
    "accept",
    "issues_by_row",
    "parse_import",
]


class SheetRow(NamedTuple):
    """A data row as the user sees it: its sheet row number and its cell texts, aligned with `header`."""

    row_no: int
    cells: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ImportCounts:
    rows: int
    valid_rows: int
    invalid_rows: int
    orders: int
    held_back: int


@dataclass(frozen=True)
class ParsedImport:
    """Everything learnt from one file; `header` and `rows` are what the result workbook writes back."""

    header: list[str]
    rows: list[SheetRow]
    orders: list[Order]
    held_back: list[HeldBackOrder]
    errors: list[RowIssue]
    warnings: list[RowIssue]
    counts: ImportCounts
    sheet: str | None
    header_row: int
    timezone: str


def parse_import(
    data: bytes,
    filename: str,
    *,
    timezone: str = "Asia/Shanghai",
    sheet: str | None = None,
    options: ImportOptions = DEFAULT_OPTIONS,
    read: TableReader = read_table,
) -> ParsedImport:
    """Read, validate and group an .xlsx/.xlsm or CSV order file; raise `ImportFileError` for whole-file problems.
    `read` reads the table (an upload's: in a child process, `reader_processes`)."""
    with _cycle_collection_paused():
        return _parse(data, filename, timezone, sheet, options, read)


@contextmanager
def _cycle_collection_paused() -> Iterator[None]:
    """Parsing allocates ~100k tuples, lists and models and no reference cycles; the cyclic collector would
    otherwise re-scan them over and over (a third of the parse time). Reference counting still frees
    everything; the collector's previous state is restored.

    What survives (~30,000 orders, lines, sets and sheet rows) would still be scanned once, by the first young
    collection after the collector is back (about 6 % of the parse): it is handed to the oldest generation
    instead (`freeze` then `unfreeze`, which move lists, not objects), scanned only by a full collection, like
    anything long-lived. Skipped when the process froze objects of its own (`unfreeze` would release them)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if gc.get_freeze_count() == 0:
            gc.freeze()
            gc.unfreeze()
        if was_enabled:
            gc.enable()


def _parse(
    data: bytes, filename: str, timezone: str, sheet: str | None, options: ImportOptions, read: TableReader
) -> ParsedImport:
    zone = _zone(timezone)
    if len(data) > options.max_bytes:
        raise ImportFileError(issues.FILE_TOO_LARGE, file_too_large(len(data), options.max_bytes))
    if not data.strip():
        raise ImportFileError(issues.EMPTY_FILE, "The file is empty.")
    table = read(data, filename, sheet, options)
    if table.columns is None:
        table = replace(table, columns=table.data_columns())
    fields, unknown = _layout(table)
    table, example = _skip_example_rows(table, fields)
    table, repeated = _skip_repeated_headers(table, fields)
    table, totals = _skip_total_rows(table, fields)
    example += repeated + totals
    if not table.rows:
        besides = " besides the template's example row, which is skipped" if example else ""
        raise ImportFileError(issues.NO_DATA_ROWS, f"The file has a header but no data rows{besides}.")
    placeholders = DEFAULT_PLACEHOLDER_MOBILES | {normalise_mobile(m) for m in options.placeholder_mobiles}
    row_nos = [row_no for row_no, _ in table.rows]
    rules = RowRules(zone, frozenset(placeholders))
    checked = check_rows(
        row_nos,
        fill_order_fields(table.data_columns(), fields),
        fields,
        rules,
        header=table.header,
        inexact_numbers=table.inexact_numbers,
        error_cells=table.error_cells,
    )
    _refuse_overlong_rows(checked, table)
    grouped = group_rows(checked, fields)
    invalid, total = len(checked.errors), len(row_nos)
    return ParsedImport(
        header=table.header,
        rows=_sheet_rows(table, checked.unstorable_rows),
        orders=grouped.orders,
        held_back=grouped.held_back,
        errors=_flatten(checked.errors),
        warnings=_hidden_sheets(table) + unknown + example + _flatten(checked.warnings),
        counts=ImportCounts(total, total - invalid, invalid, len(grouped.orders), len(grouped.held_back)),
        sheet=table.sheet,
        header_row=table.header_row,
        timezone=timezone,
    )


def _refuse_overlong_rows(checked: CheckedRows, table: Table) -> None:
    """A CSV row with more cells than its header is an error: its cells do not line up with the columns (an
    unquoted comma splits a cell and moves the rest right), and what falls past the last column is lost."""
    if not table.overlong_rows:
        return
    index_of = {row_no: index for index, row_no in enumerate(checked.row_nos)}
    for row_no, cells, past in table.overlong_rows:
        index = index_of.get(row_no)
        if index is None:  # the template's example row, skipped
            continue
        message = (
            f'Row {row_no} has {cells} cells, more than its header: "{shown(visible(past))}" lies past the last '
            "column. "
            "A cell holding the delimiter (a comma) must be in quotes, else it is split and every cell after it "
            "moves one column right; quote it, or save the file again as CSV from Excel or WPS."
        )
        checked.add_error(index, RowIssue(row_no, None, issues.TOO_MANY_CELLS, message, visible(past)))


def _sheet_rows(table: Table, unstorable: set[int]) -> list[SheetRow]:
    rows = [SheetRow(row_no, tuple(row)) for row_no, row in table.rows]
    for index in unstorable:
        row_no, cells = rows[index]
        rows[index] = SheetRow(row_no, tuple(map(visible, cells)))
    return rows


def _hidden_sheets(table: Table) -> list[RowIssue]:
    """A file-level warning per hidden sheet passed over: data the user may have meant to import."""
    return [
        RowIssue(
            None,
            None,
            issues.HIDDEN_SHEET_SKIPPED,
            f'Sheet "{name}" is hidden and was skipped; sheet "{table.sheet}" was read. Name the hidden sheet '
            "at upload to import it instead.",
            name,
        )
        for name in table.hidden_skipped
    ]


def _skip_example_rows(table: Table, fields: list[Field]) -> tuple[Table, list[RowIssue]]:
    """The template's example row left in (every template column of the file holds its example, or is blank
    where the example is) is no order: it is skipped with a warning."""
    found = [table.rows[index] for index in _example_indexes(table.rows, table.data_columns(), fields)]
    if not found:
        return table, []
    skipped = {row_no for row_no, _ in found}
    order_no = next((spec.index for spec in fields if spec.column.key == "order_no"), None)
    warnings = [
        RowIssue(
            row_no,
            None,
            issues.EXAMPLE_ROW,
            f'Row {row_no} is the template\'s example row (Order No. "{example_no}"); it is skipped, not imported.',
            example_no,
        )
        for row_no, cells in sorted(found)
        for example_no in [clean(cells[order_no]) if order_no is not None else ""]
    ]
    return _without_rows(table, skipped), warnings


def _skip_repeated_headers(table: Table, fields: list[Field]) -> tuple[Table, list[RowIssue]]:
    """A row whose every template column holds a header of that column (in either language: two exports joined
    one after the other) is no order: it is skipped with a warning. Looked for by the Order No. first."""
    order_no = next((spec for spec in fields if spec.column.key == "order_no"), None)
    if order_no is None:
        return table, []
    column = table.data_columns()[order_no.index]
    headers = {text for text in set(column) if HEADER_INDEX.get(header_key(text)) == "order_no"}
    candidates = [i for i, text in enumerate(column) if text in headers] if headers else []
    found = [
        table.rows[i][0]
        for i in candidates
        if all(HEADER_INDEX.get(header_key(table.rows[i][1][spec.index])) == spec.column.key for spec in fields)
    ]
    if not found:
        return table, []
    warnings = [
        RowIssue(
            row_no,
            None,
            issues.REPEATED_HEADER,
            f"Row {row_no} repeats the header (files joined one after the other?); it is skipped, not imported.",
            None,
        )
        for row_no in found
    ]
    return _without_rows(table, set(found)), warnings


TOTAL_LABELS = frozenset({"合计", "总计", "小计", "total", "totals", "sum"})
_ORDER_KEYS = ("source", "status", "order_time", "product_id")  # what every order row has and a totals row has not


def _skip_total_rows(table: Table, fields: list[Field]) -> tuple[Table, list[RowIssue]]:
    """An export's totals row (Order No. 合计 / Total, its source, status, order time and product blank: amounts
    summed below the orders) is no order: it is skipped with a warning. A row of a real order named 合计 has them."""
    order_no = next((spec for spec in fields if spec.column.key == "order_no"), None)
    if order_no is None:
        return table, []
    keyed = [spec.index for spec in fields if spec.column.key in _ORDER_KEYS]
    labels = {text for text in set(table.data_columns()[order_no.index]) if _is_total_label(text)}
    found = [
        (row_no, clean(cells[order_no.index]))
        for row_no, cells in (table.rows if labels else ())
        if cells[order_no.index] in labels and not any(cells[i].strip() for i in keyed)
    ]
    if not found:
        return table, []
    warnings = [
        RowIssue(row_no, None, issues.TOTAL_ROW, f'Row {row_no} is a totals row ("{label}"); it is skipped.', label)
        for row_no, label in found
    ]
    return _without_rows(table, {row_no for row_no, _ in found}), warnings


def _is_total_label(text: str) -> bool:
    return clean(text).rstrip(":：").strip().casefold() in TOTAL_LABELS


def _without_rows(table: Table, skipped: set[int]) -> Table:
    """`table` without the rows numbered in `skipped` (rows that are no order: skipped with a warning)."""
    table = replace(table, rows=[row for row in table.rows if row[0] not in skipped], columns=None)
    return replace(table, columns=table.data_columns())


def _example_indexes(
    rows: Sequence[tuple[int, Sequence[str]]], columns: Sequence[Sequence[str]], fields: Sequence[Field]
) -> list[int]:
    """Indexes of the rows every field of which holds the template's example, as the template of one language
    writes it (zh or en). Found a column at a time: each field narrows the candidates (the Order No. first, which
    no real row shares with the example), each distinct cell text compared once."""
    ordered = sorted(fields, key=lambda spec: spec.column.key != "order_no")
    first = ordered[0] if ordered else None
    column = columns[first.index] if first else []
    distinct = set(column)
    found: set[int] = set()
    for lang in Lang:
        candidates: list[int] = []
        if first is not None:
            example = column_example(first.column, lang)
            matching = {text for text in distinct if _holds_example(first, text, example)}
            candidates = [i for i, text in enumerate(column) if text in matching] if matching else []
        for spec in ordered[1:]:
            if not candidates:
                break
            example = column_example(spec.column, lang)
            candidates = [i for i in candidates if _holds_example(spec, rows[i][1][spec.index], example)]
        found.update(candidates)
    return sorted(found)


def _holds_example(spec: Field, cell: str, example: str) -> bool:
    text = clean(cell)
    return text == example or _same_number(spec, text, example)


def _same_number(spec: Field, text: str, example: str) -> bool:
    """A number cell shows 59.9 for the example's text 59.90."""
    if spec.column.kind not in (Kind.MONEY, Kind.QUANTITY) or not text or not example:
        return False
    return parse_decimal(text) == Decimal(example)


def _zone(name: str) -> ZoneInfo:
    """The import's zone (`zones`: never the server's own `localtime`)."""
    try:
        zone = named_zone(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        zone = None
    if zone is None:
        raise ImportFileError(issues.UNKNOWN_TIMEZONE, f'"{name}" is not a known IANA time zone (like Asia/Shanghai).')
    return zone


def _flatten(by_index: dict[int, list[RowIssue]]) -> list[RowIssue]:
    """Issues in row order, then in the order the rules found them."""
    return [issue for index in sorted(by_index) for issue in by_index[index]]


def _layout(table: Table) -> tuple[list[Field], list[RowIssue]]:
    """Map header cells to template columns; refuse missing required or repeated columns; warn once per unknown."""
    fields: dict[str, Field] = {}
    repeated: list[str] = []
    unknown: list[RowIssue] = []
    for index, text in enumerate(table.header):
        _check_header_cell(table, index, text)
        name = text.strip().rstrip("*＊").rstrip()
        key = HEADER_INDEX.get(header_key(name))
        if key is None:
            if name and header_key(name) not in IGNORED_HEADERS:
                message = f'Column "{name}" (row {table.header_row}) is not a template column; it is ignored.'
                unknown.append(RowIssue(None, name, issues.UNKNOWN_COLUMN, message, name))
        elif key in fields:
            repeated.append(name)
        else:
            fields[key] = Field(COLUMNS_BY_KEY[key], index, name)
    missing = [COLUMNS_BY_KEY[key].english for key in REQUIRED_KEYS if key not in fields]
    if missing:
        raise ImportFileError(
            issues.MISSING_COLUMNS,
            f"Required columns are missing from the header (row {table.header_row}): {', '.join(missing)}.",
        )
    if repeated:
        raise ImportFileError(issues.DUPLICATE_COLUMNS, f"Columns appear twice in the header: {', '.join(repeated)}.")
    return list(fields.values()), unknown


def _check_header_cell(table: Table, index: int, text: str) -> None:
    problem = bounds.unstorable_text_problem(text)
    if problem is not None:
        raise ImportFileError(
            issues.INVALID_HEADER,
            f'The header cell of column {index + 1} (row {table.header_row}), "{visible(text)[:60]}", {problem}; '
            "retype the header.",
        )


def issues_by_row(parsed: ParsedImport) -> dict[int, list[RowIssue]]:
    """Errors then warnings of each data row, keyed by sheet row number (file-level warnings are left out)."""
    by_row: dict[int, list[RowIssue]] = {}
    for issue in [*parsed.errors, *parsed.warnings]:
        if issue.row is not None:
            by_row.setdefault(issue.row, []).append(issue)
    return by_row


def accept(parsed: ParsedImport, mode: Literal["partial", "strict"]) -> list[Order]:
    """The orders to import. partial: the valid orders (held-back ones stay out); strict: all orders, or
    `ImportFileError(strict_mode_rejected)` when any row is invalid."""
    if mode == "strict" and parsed.errors:
        raise ImportFileError(
            issues.STRICT_MODE_REJECTED,
            f"Strict mode: {parsed.counts.invalid_rows} rows have {len(parsed.errors)} errors; nothing is imported.",
        )
    if mode not in ("partial", "strict"):
        raise ValueError(f"unknown mode {mode!r}")
    return list(parsed.orders)
