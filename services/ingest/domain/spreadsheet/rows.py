"""The data rows after the cell and row rules: typed values column by column, errors and warnings by row.

Rules are applied a column at a time: when one regular-expression pass over a whole column proves every cell is
already in canonical form (e.g. all `\\d+(\\.\\d{1,2})?` for money), the values are converted in bulk; otherwise each
distinct cell text goes through `validation` once. Both paths give the same values and issues (tested).

A field whose cell broke a rule holds `INVALID`, so grouping can tell "blank" (None) from "unusable".
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from services.core import bounds
from services.ingest.domain.spreadsheet import issues
from services.ingest.domain.spreadsheet.issues import RowIssue
from services.ingest.domain.spreadsheet.template import BUYER_KEYS, COLUMNS_BY_KEY, STORE_KEYS, Column, Kind
from services.ingest.domain.spreadsheet.values import (
    CENT,
    ERROR_VALUE,
    ERROR_VALUES,
    INEXACT_ID,
    MASKED,
    Invalid,
    Masked,
    Placeholder,
    check_length,
    clean,
    half_width,
    invisible_in_id,
    is_masked_mobile,
    offset_differs,
    parse_id,
    parse_mobile,
    parse_money,
    parse_quantity,
    parse_source,
    parse_status,
    parse_text,
    parse_time,
    unstorable,
    visible,
)


class _Invalid:
    def __repr__(self) -> str:
        return "INVALID"


INVALID: Any = _Invalid()
_MAX_SHOWN = 60
_SEP = "\x00"  # not whitespace; a cell holding it is unstorable, refused before the bulk path is tried
# Whole-column patterns of canonical cells (blank allowed), separated by \x00.
_CANONICAL: dict[Kind, re.Pattern[str]] = {
    Kind.MONEY: re.compile(r"(?:\d{1,12}(?:\.\d{1,2})?)?(?:\x00(?:\d{1,12}(?:\.\d{1,2})?)?)*"),
    Kind.TIME: re.compile(r"(?:\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)?(?:\x00(?:\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)?)*"),
    Kind.MOBILE: re.compile(r"(?:1[3-9][0-9]{9})?(?:\x00(?:1[3-9][0-9]{9})?)*"),
    Kind.RECEIVER_MOBILE: re.compile(r"(?:1[3-9][0-9]{9})?(?:\x00(?:1[3-9][0-9]{9})?)*"),
    Kind.QUANTITY: re.compile(r"(?:[1-9]\d{0,5})?(?:\x00(?:[1-9]\d{0,5})?)*"),
}
# A cell beginning or ending with whitespace, found from each separator (a literal the search skips to); the
# blob's first and last characters are looked at apart.
_EDGE_SPACE = re.compile(r"\x00(?:\s|(?<=\s\x00))")
_DOT_SEGMENT_CELL = re.compile(r"(?:^|\x00)\.\.?(?:\x00|$)")
_UNSTORABLE_ASCII = bytes(code for code in range(128) if bounds.unstorable_char(chr(code)) is not None)
_MAYBE_SCIENTIFIC = re.compile(r"[eE][-+]?\d+(?:\x00|$)")  # fast pre-filter of the exact pattern below
# searched in the blob with a separator in front: the search skips from separator to separator
_SCIENTIFIC_CELL = re.compile(r"\x00[-+]?\d+(?:\.\d+)?[eE][-+]?\d+(?:\x00|$)")
# Wall-clock times this far inside the range are in range in every zone (offsets are within a day).
_SAFE_TIMES = (f"{bounds.MIN_TIME + timedelta(days=1):%Y-%m-%d}", f"{bounds.MAX_TIME - timedelta(days=1):%Y-%m-%d}")


@dataclass(frozen=True, slots=True)
class Field:
    """A template column found in the file: where it is and how the file spells its header."""

    column: Column
    index: int
    header: str


@dataclass(slots=True)
class CheckedRows:
    """Values by column key (one per row, file order) and issues by row index; grouping adds more errors."""

    row_nos: list[int]
    values: dict[str, list[Any]]
    errors: dict[int, list[RowIssue]] = field(default_factory=dict)
    warnings: dict[int, list[RowIssue]] = field(default_factory=dict)
    unstorable_rows: set[int] = field(default_factory=set)  # rows holding a cell that cannot be stored as is

    def add_error(self, index: int, issue: RowIssue) -> None:
        self.errors.setdefault(index, []).append(issue)

    def add_warning(self, index: int, issue: RowIssue) -> None:
        self.warnings.setdefault(index, []).append(issue)


@dataclass(frozen=True, slots=True)
class RowRules:
    """The per-import settings of the cell rules."""

    zone: tzinfo
    placeholders: frozenset[str]

    def parse(self, column: Column, text: str) -> Any:
        """One cleaned, non-blank cell: a value, `Invalid` or `PLACEHOLDER`."""
        kind = column.kind
        if kind is Kind.ID:
            if column.key == "order_no" and bounds.order_no_problem(text):
                return Invalid(issues.DOT_SEGMENT, bounds.DOT_SEGMENT_PROBLEM, "an order no. with other characters")
            return invisible_in_id(text) or parse_id(text, column.max_length)
        if kind is Kind.TEXT:
            return parse_text(text, column.max_length)
        if kind is Kind.SOURCE:
            return parse_source(text)
        if kind is Kind.STATUS:  # kept as status_raw: its length is bounded too
            return check_length(text, column.max_length) or parse_status(text)
        text = half_width(text)  # numbers, times and mobiles as a Chinese input method types them
        if kind is Kind.MOBILE and is_masked_mobile(text):
            return MASKED
        if kind is Kind.TIME:
            return parse_time(text, self.zone)
        if kind is Kind.QUANTITY:
            return parse_quantity(text)
        if kind is Kind.MONEY:
            return parse_money(text)
        return parse_mobile(text, self.placeholders)


def shown(value: str) -> str:
    """A value as quoted in a message: long ones are cut."""
    return value if len(value) <= _MAX_SHOWN else value[:_MAX_SHOWN] + "…"


def cell_issue(row_no: int, header: str, text: str, invalid: Invalid) -> RowIssue:
    text = visible(text)
    message = f'Row {row_no}, column "{header}": "{shown(text)}" {invalid.problem}; expected {invalid.expected}.'
    return RowIssue(row_no, header, invalid.code, message, text)


def check_rows(
    row_nos: list[int],
    columns: Sequence[Sequence[str]],
    fields: Sequence[Field],
    rules: RowRules,
    *,
    header: Sequence[str] = (),
    inexact_numbers: Collection[tuple[int, int]] = frozenset(),
    error_cells: Collection[tuple[int, int]] = frozenset(),
) -> CheckedRows:
    """Apply the cell rules to every known column, then the row rules (store, buyer, times, line amount).

    `columns` are the rows' cells column by column, one per header column, each as long as `row_nos`. Every cell,
    in a template column or not, is refused when it holds an unstorable character (`header` names the other
    columns); `inexact_numbers` are the (row number, column index) of number cells that are no exact identifier,
    refused in ID columns."""
    checked = CheckedRows(row_nos, {})
    dirty: dict[int, list[int]] = {}
    for spec in fields:  # a column's cells read once (joined), then checked while they are at hand
        texts = columns[spec.index]
        blob = _SEP.join(texts)
        dirty_rows = _unstorable_cells(texts, blob)
        if dirty_rows:
            dirty[spec.index] = dirty_rows
        checked.values[spec.column.key] = _read_column(checked, spec, texts, blob, rules, bool(dirty_rows))
        if spec.column.kind is Kind.STATUS:
            cleaned = {text: clean(text) for text in set(texts)}
            checked.values["status_raw"] = [cleaned[text] for text in texts]
        if spec.column.kind is Kind.ID and inexact_numbers:
            _refuse_inexact_numbers(checked, spec, texts, inexact_numbers)
        if error_cells or "#" in blob:
            _refuse_error_cells(checked, spec, texts, error_cells)
    known = {spec.index for spec in fields}
    for index, texts in enumerate(columns):
        if index not in known:
            dirty_rows = _unstorable_cells(texts, _SEP.join(texts))
            if dirty_rows:
                dirty[index] = dirty_rows
    _refuse_other_unstorable(checked, fields, header, columns, dict(sorted(dirty.items())))
    _check_store(checked, fields)
    _check_buyer(checked, fields)
    _check_times(checked, fields)
    _warn_offsets(checked, fields, rules.zone)
    _check_line_amount(checked, fields)
    return checked


def _unstorable_cells(texts: Sequence[str], blob: str) -> list[int]:
    """Indexes of the cells holding an unstorable character (one look at the whole column first: `blob` is its
    texts joined by `_SEP`, itself unstorable)."""
    if blob.count(_SEP) == len(texts) - 1:  # no cell holds the separator
        if blob.isascii():  # the unstorable ASCII characters deleted from its bytes: only the separators go
            if len(blob.encode("ascii").translate(None, _UNSTORABLE_ASCII)) == len(blob) - len(texts) + 1:
                return []
        else:
            joined = blob.replace(_SEP, "")
            if joined.isprintable() or bounds.unstorable_char(joined) is None:  # printable text holds none
                return []
    return [index for index, text in enumerate(texts) if bounds.unstorable_char(text) is not None]


def _refuse_other_unstorable(
    checked: CheckedRows,
    fields: Sequence[Field],
    header: Sequence[str],
    columns: Sequence[Sequence[str]],
    dirty: dict[int, list[int]],
) -> None:
    """Row errors for unstorable cells of columns outside the template (their text is stored and shown back)."""
    known = {spec.index for spec in fields}
    for column, indexes in dirty.items():
        checked.unstorable_rows.update(indexes)
        if column in known:
            continue
        name = header[column].strip() if column < len(header) and header[column].strip() else f"column {column + 1}"
        for index in indexes:
            text = columns[column][index]
            invalid = unstorable(text)
            if invalid is not None:
                checked.add_error(index, cell_issue(checked.row_nos[index], name, text, invalid))


def _refuse_inexact_numbers(
    checked: CheckedRows, spec: Field, texts: Sequence[str], inexact: Collection[tuple[int, int]]
) -> None:
    values = checked.values[spec.column.key]
    for index, row_no in enumerate(checked.row_nos):
        if (row_no, spec.index) in inexact and values[index] is not INVALID and values[index] is not None:
            checked.add_error(index, cell_issue(row_no, spec.header, texts[index], INEXACT_ID))
            values[index] = INVALID


def _refuse_error_cells(
    checked: CheckedRows, spec: Field, texts: Sequence[str], error_cells: Collection[tuple[int, int]]
) -> None:
    """A cell showing an error value (#N/A), an error cell of the workbook or its text (a CSV export), is
    refused as such, whatever else its text was taken for."""
    values = checked.values[spec.column.key]
    for index, row_no in enumerate(checked.row_nos):
        if (row_no, spec.index) in error_cells or clean(texts[index]) in ERROR_VALUES:
            for found in (checked.errors, checked.warnings):
                found[index] = [i for i in found.get(index, []) if i.column != spec.header]
            checked.add_error(index, cell_issue(row_no, spec.header, texts[index], ERROR_VALUE))
            values[index] = INVALID


def _read_column(
    checked: CheckedRows, spec: Field, texts: Sequence[str], blob: str, rules: RowRules, dirty: bool
) -> list[Any]:
    if dirty:
        return _one_by_one(checked, spec, texts, rules, dirty)
    values = _bulk(spec.column, texts, blob, rules)
    if values is None:
        return _one_by_one(checked, spec, texts, rules)
    if spec.column.required and "" in texts:
        for index, text in enumerate(texts):
            if text == "":
                values[index] = _blank(checked, index, spec)
    return values


def _bulk(column: Column, texts: Sequence[str], blob: str, rules: RowRules) -> list[Any] | None:
    """Values of a column whose every cell is canonical, converted in bulk; None when the column needs care.
    `blob` is the column's texts joined by `_SEP` (a clean column holds no `_SEP`: it is unstorable). The checks
    look at the blob, so a cell's text is never hashed for them; the conversions see each distinct text once
    (prices, times and names repeat down a column)."""
    kind = column.kind
    if blob.count(_SEP) != len(texts) - 1:  # a text holding the separator: no cell can be told apart
        return None
    if kind in (Kind.TEXT, Kind.ID):
        return _bulk_texts(column, texts, blob)
    pattern = _CANONICAL.get(kind)
    if pattern is None:
        return None
    if kind in (Kind.MOBILE, Kind.RECEIVER_MOBILE):  # texts of their own: matched as they are, not hashed
        if not pattern.fullmatch(blob) or _holds_any(blob, rules.placeholders):
            return None
        return _blanks_as_none(texts, blob)
    distinct = set(texts)  # the texts of a column of number or date cells are shared: hashed once each
    if not pattern.fullmatch(_SEP.join(distinct)):
        return None
    converted: dict[str, Any] | None
    if kind is Kind.MONEY:
        converted = {text: _cents(text) if text else None for text in distinct}
    elif kind is Kind.QUANTITY:
        converted = {text: int(text) if text else None for text in distinct}
    else:
        converted = _bulk_times(distinct, rules.zone)
    return None if converted is None else list(map(converted.__getitem__, texts))


def _cents(text: str) -> Decimal:
    """A canonical amount with two decimal places: a text with two decimals already reads as one."""
    return Decimal(text) if text[-3:-2] == "." else Decimal(text).quantize(CENT)


def _holds_any(blob: str, cells: Collection[str]) -> bool:
    """Whether a cell of `blob` is one of `cells` (a substring search first: most blobs hold none of them)."""
    if not any(cell in blob for cell in cells):
        return False
    return any(f"{_SEP}{cell}{_SEP}" in f"{_SEP}{blob}{_SEP}" for cell in cells)


def _blanks_as_none(texts: Sequence[str], blob: str) -> list[Any]:
    """The texts, a blank one as None (a blank cell shows in the blob as an empty one, or two separators in a row
    or one at an end)."""
    if blob and blob[0] != _SEP and blob[-1] != _SEP and _SEP + _SEP not in blob:
        return list(texts)
    return [text or None for text in texts]


def _is_scientific(blob: str) -> bool:
    return _MAYBE_SCIENTIFIC.search(blob) is not None and _SCIENTIFIC_CELL.search(_SEP + blob) is not None


def _bulk_texts(column: Column, texts: Sequence[str], blob: str) -> list[Any] | None:
    """Texts that need no cleaning (no surrounding whitespace, no leading quote or `="`) and fit the length
    limit."""
    if blob[:1].isspace() or blob[-1:].isspace() or _EDGE_SPACE.search(blob):
        return None
    if blob.startswith(("'", '="')) or "\x00'" in blob or '\x00="' in blob:
        return None
    if column.kind is Kind.ID and (_is_scientific(blob) or bounds.invisible_char(blob) is not None):
        return None
    if column.key == "order_no" and "." in blob and _DOT_SEGMENT_CELL.search(blob):
        return None
    if column.max_length is not None and max(map(len, texts)) > column.max_length:
        return None
    return _blanks_as_none(texts, blob)


def _bulk_times(distinct: Collection[str], zone: tzinfo) -> dict[str, Any] | None:
    present = [text for text in distinct if text]
    if present and not (_SAFE_TIMES[0] <= min(present) and max(present) < _SAFE_TIMES[1]):
        return None  # near or past the bounds: each time is checked as an instant in the zone
    parse = datetime.fromisoformat
    try:
        return {text: parse(text).replace(tzinfo=zone) if text else None for text in distinct}
    except ValueError:  # a date that does not exist: let the one-by-one path name it
        return None


def _one_by_one(
    checked: CheckedRows, spec: Field, texts: Sequence[str], rules: RowRules, dirty: bool = False
) -> list[Any]:
    """Each distinct cell text parsed once; issues are recorded per row only when some text has one.
    In a `dirty` column, a text with an unstorable character is refused before any other rule sees it."""
    parse = _parse_dirty_cell if dirty else _parse_cell
    parsed = {raw: parse(spec.column, raw, rules) for raw in set(texts)}
    values = [parsed[raw] for raw in texts]
    if any(_needs_settling(spec.column, value) for value in parsed.values()):
        return [
            _settle(checked, index, spec, raw, value)
            for index, (raw, value) in enumerate(zip(texts, values, strict=True))
        ]
    return values


def _parse_cell(column: Column, raw: str, rules: RowRules) -> Any:
    text = clean(raw)
    return rules.parse(column, text) if text else None


def _parse_dirty_cell(column: Column, raw: str, rules: RowRules) -> Any:
    return unstorable(raw) or _parse_cell(column, raw, rules)


def _needs_settling(column: Column, value: Any) -> bool:
    return isinstance(value, Invalid | Placeholder | Masked) or (value is None and column.required)


def _settle(checked: CheckedRows, index: int, spec: Field, raw: str, parsed: Any) -> Any:
    """Record the issue of one parsed cell and return the value the row keeps."""
    row_no = checked.row_nos[index]
    if parsed is None:
        return _blank(checked, index, spec) if spec.column.required else None
    # an unstorable character is shown where it is, even in the whitespace that cleaning would strip
    text = raw if isinstance(parsed, Invalid) and parsed.code == issues.INVALID_CHARACTER else clean(raw)
    if isinstance(parsed, Invalid):
        if spec.column.kind is Kind.RECEIVER_MOBILE and parsed.code == issues.INVALID_MOBILE:
            return _keep_receiver_mobile(checked, index, spec, text, parsed)
        checked.add_error(index, cell_issue(row_no, spec.header, text, parsed))
        return INVALID
    if isinstance(parsed, Placeholder):
        message = f'Row {row_no}, column "{spec.header}": "{text}" is a placeholder mobile; it is ignored.'
        checked.add_warning(index, RowIssue(row_no, spec.header, issues.PLACEHOLDER_MOBILE, message, text))
        return None
    if isinstance(parsed, Masked):
        message = (
            f'Row {row_no}, column "{spec.header}": "{text}" is a mobile whose digits the platform hides; it cannot '
            "identify the buyer and is ignored."
        )
        checked.add_warning(index, RowIssue(row_no, spec.header, issues.MASKED_MOBILE, message, text))
        return None
    return parsed


def _blank(checked: CheckedRows, index: int, spec: Field) -> Any:
    row_no = checked.row_nos[index]
    message = f'Row {row_no}, column "{spec.header}": the cell is blank; a value is required.'
    checked.add_error(index, RowIssue(row_no, spec.header, issues.BLANK_REQUIRED, message, ""))
    return INVALID


def _keep_receiver_mobile(checked: CheckedRows, index: int, spec: Field, text: str, invalid: Invalid) -> Any:
    row_no = checked.row_nos[index]
    too_long = check_length(text, spec.column.max_length)
    if too_long is not None:
        checked.add_error(index, cell_issue(row_no, spec.header, text, too_long))
        return INVALID
    message = cell_issue(row_no, spec.header, text, invalid).message[:-1] + "; it is kept as text."
    checked.add_warning(index, RowIssue(row_no, spec.header, issues.INVALID_RECEIVER_MOBILE, message, text))
    return text


def _headers(fields: Sequence[Field], keys: Sequence[str]) -> str:
    present = {spec.column.key: spec.header for spec in fields}
    return ", ".join(present.get(key, COLUMNS_BY_KEY[key].english) for key in keys)


def _column(checked: CheckedRows, key: str) -> list[Any]:
    return checked.values.get(key) or [None] * len(checked.row_nos)


def _check_store(checked: CheckedRows, fields: Sequence[Field]) -> None:
    columns = [_column(checked, key) for key in STORE_KEYS]
    if any(None not in column for column in columns):  # a column without a blank identifies every row
        return
    headers = _headers(fields, STORE_KEYS)
    for index, pair in enumerate(zip(*columns, strict=True)):
        if pair == (None, None):
            row_no = checked.row_nos[index]
            message = f"Row {row_no}: {headers} are both blank; one of them is required."
            checked.add_error(index, RowIssue(row_no, headers, issues.STORE_MISSING, message, None))


def _check_buyer(checked: CheckedRows, fields: Sequence[Field]) -> None:
    columns = [_column(checked, key) for key in BUYER_KEYS]
    if any(None not in column for column in columns):  # a column without a blank identifies every buyer
        return
    headers = _headers(fields, BUYER_KEYS)
    for index, ids in enumerate(zip(*columns, strict=True)):
        if ids == (None, None, None, None):
            row_no = checked.row_nos[index]
            message = f"Row {row_no}: {headers} are all blank (placeholders count as blank); one is required."
            checked.add_error(index, RowIssue(row_no, headers, issues.BUYER_MISSING, message, None))


def _check_times(checked: CheckedRows, fields: Sequence[Field]) -> None:
    headers = _headers(fields, ("payment_time", "order_time"))
    pairs = zip(_column(checked, "order_time"), _column(checked, "payment_time"), strict=True)
    for index, (ordered, paid) in enumerate(pairs):
        if type(paid) is datetime and type(ordered) is datetime and paid < ordered:
            row_no = checked.row_nos[index]
            paid_text, ordered_text = f"{paid:%Y-%m-%d %H:%M:%S}", f"{ordered:%Y-%m-%d %H:%M:%S}"
            message = f"Row {row_no}: the payment time {paid_text} is before the order time {ordered_text}."
            checked.add_warning(index, RowIssue(row_no, headers, issues.PAYMENT_BEFORE_ORDER, message, paid_text))


def _warn_offsets(checked: CheckedRows, fields: Sequence[Field], zone: tzinfo) -> None:
    """A time written with an offset other than the import's zone has at that instant: read at its own offset."""
    for spec in fields:
        if spec.column.kind is not Kind.TIME:
            continue
        values = checked.values[spec.column.key]
        # only a time read at its own offset can differ (the bulk path gives every time the zone itself)
        own = [i for i, value in enumerate(values) if type(value) is datetime and value.tzinfo is not zone]
        for index in own:
            value = values[index]
            if offset_differs(value, zone):
                row_no, shown_at = checked.row_nos[index], value.isoformat(timespec="seconds")
                message = (
                    f'Row {row_no}, column "{spec.header}": {shown_at} gives its own UTC offset; it is read at that '
                    f"offset, not in the import's time zone {zone}."
                )
                checked.add_warning(index, RowIssue(row_no, spec.header, issues.TIME_OFFSET_USED, message, shown_at))


def _check_line_amount(checked: CheckedRows, fields: Sequence[Field]) -> None:
    """Quantity x Unit Price must be storable (an error); a Line Amount other than it is a warning."""
    header = _headers(fields, ("line_amount",))
    triples = zip(*(_column(checked, k) for k in ("line_amount", "quantity", "unit_price")), strict=True)
    for index, (amount, quantity, price) in enumerate(triples):
        if type(quantity) is not int or type(price) is not Decimal:
            continue
        total = quantity * price
        if total > bounds.MAX_MONEY:
            _refuse_line_total(checked, index, _headers(fields, ("quantity", "unit_price")), total)
        elif type(amount) is Decimal and amount != total:
            row_no = checked.row_nos[index]
            message = (
                f'Row {row_no}, column "{header}": "{amount}" differs from Quantity x Unit Price = '
                f"{total}; the line is kept as given."
            )
            checked.add_warning(index, RowIssue(row_no, header, issues.LINE_AMOUNT_MISMATCH, message, str(amount)))


def _refuse_line_total(checked: CheckedRows, index: int, headers: str, total: Decimal) -> None:
    row_no = checked.row_nos[index]
    message = (
        f"Row {row_no}: Quantity x Unit Price = {total:,} is too large; expected a line total of at most "
        f"{bounds.MAX_MONEY:,}."
    )
    checked.add_error(index, RowIssue(row_no, headers, issues.TOTAL_TOO_LARGE, message, str(total)))
