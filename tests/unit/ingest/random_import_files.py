"""Random order files, valid and invalid, for the differential parse tests (no tests here).

A file is the sample rows of `tools.samples` (valid) with random cells replaced by tricky values: blanks,
whitespace, wrong numbers, scientific notation, placeholders, control characters, other time formats, orders whose
rows disagree, repeated lines, number cells in ID columns, error cells, blank and title rows, an example row,
unknown and reordered columns. Deterministic for a seed.
"""

from __future__ import annotations

import csv
import io
import random
from datetime import date, datetime, time
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from services.ingest.domain.language import Lang, column_example
from services.ingest.domain.spreadsheet.template import COLUMNS
from tools.samples import SAMPLE_HEADER, sample_rows

# Tricky cell values by kind of column, each a text (or, in a workbook, the typed cell it stands for).
_ANY: tuple[Any, ...] = ("", " ", "\u3000", "x\x07y", "'=1", "a" * 70, "\t", "\ufeffz", "#N/A")
# Identifiers refuse invisible characters since the reference (bounds.identifier_problem, its own tests in
# test_invisible_identifiers): in them, the BOM case is left to those tests.
_ANY_ID = tuple(value for value in _ANY if value != "\ufeffz")
# A refused status's message names the platforms' own phrases since the reference (which listed the labels only):
# the values a status column refuses with invalid_status are left to test_platform_statuses.
# ("#N/A" is N/A in a CSV, a control character ? in a workbook: both refused as statuses, so left out too.)
_ANY_STATUS = tuple(value for value in _ANY if value not in ("'=1", "\ufeffz", "#N/A", "x\x07y"))
_ANY_BY_KIND = {"id": _ANY_ID, "status": _ANY_STATUS}
_BY_KIND: dict[str, tuple[Any, ...]] = {
    "id": ("1.5e+16", "1E5", ".", "..", " P1 ", "'-1", "P\x00", 12345.0, 1.5, 1e16, "1" * 65, "０１"),
    "text": (" lead", "trail ", "'+x", "x" * 256, "名称", 3.5, True),
    "source": ("youzan", "PINDUODUO", "unknown", "有赞 ", "Douyin"),
    "status": ("paid", "已付款", "s" * 65, " Paid"),
    "time": (
        "2022-09-14",
        "2022/9/4 9:05",
        "2022-09-14T11:03:23+08:00",
        "2022-09-14T11:03:23Z",
        "2022-09-14T11:03:23.123456-0130",
        "2022年9月14日 11:03",
        "14/09/2022",
        "2022-02-30 10:00:00",
        "1899-12-31 00:00:00",
        "2200-01-01 00:00:00",
        "2022-09-14 25:00:00",
        datetime(2022, 9, 14, 11, 3, 23),
        date(2022, 9, 14),
        time(11, 3),
        "2000-01-01 00:00:00",
    ),
    "quantity": ("0", "-1", "2.5", "3.0", "1,000", "1000001", "abc", "007", 3.0, 2.5, True, "１"),
    "money": ("-1", "1.234", "¥1,299.00", "RMB 5", "1e3", "1000000000000", "999999999999.99", "0.005", 12.3, ""),
    "mobile": (
        "13800000000",
        "00000000000",
        "+86 139 1234 5678",
        "12345",
        "139-1234-5678",
        13912345678.0,
        "8613912345678",
    ),
    "receiver_mobile": ("12345", "+8613912345678", "1" * 70, "139 1234 5678"),
}


def random_file(rng: random.Random) -> tuple[bytes, str]:
    """A random order file (bytes, file name): a workbook or a CSV, a few to a few hundred rows."""
    orders, lines = rng.choice([(1, 1), (3, 2), (20, 3), (60, 4)])
    header = list(SAMPLE_HEADER)
    rows = [list(r) for r in sample_rows(orders, lines, seed=rng.randrange(10**6))]
    _disturb(rng, header, rows)
    if rng.random() < 0.5:
        return _workbook(rng, header, rows), "orders.xlsx"
    return _csv(header, rows), "orders.csv"


def _disturb(rng: random.Random, header: list[str], rows: list[list[Any]]) -> None:
    rate = rng.choice([0.0, 0.01, 0.05, 0.2])
    for cells in rows:
        for index, column in enumerate(COLUMNS):
            if rng.random() < rate:
                cells[index] = rng.choice(_BY_KIND[column.kind.value] + _ANY_BY_KIND.get(column.kind.value, _ANY))
    if rows and rng.random() < 0.3:  # rows of one order that disagree, or a line repeated
        a, b = rng.randrange(len(rows)), rng.randrange(len(rows))
        rows[b][0] = rows[a][0]
    if rows and rng.random() < 0.2:
        rows.insert(rng.randrange(len(rows)), [""] * len(header))
    if rng.random() < 0.15:
        lang = rng.choice(list(Lang))
        rows.insert(0, [column_example(c, lang) for c in COLUMNS] + [""] * (len(header) - len(COLUMNS)))
    if rng.random() < 0.2:
        header[-1] = rng.choice(["", "Unknown Column", "Channel"] if rng.random() < 0.9 else ["Remark", "备注 "])
    if rng.random() < 0.2:
        header[1] = "订单来源*"
    if rng.random() < 0.1:
        a, b = rng.sample(range(len(header)), 2)
        for cells in [header, *rows]:
            cells[a], cells[b] = cells[b], cells[a]
    if rng.random() < 0.05:  # a column missing from the file (rows wider than their header are a CSV row error
        gone = rng.randrange(len(header))  # since the reference: `too_many_cells`, tested in test_import_bad_files)
        for cells in [header, *rows]:
            del cells[gone]


def _workbook(rng: random.Random, header: list[str], rows: list[list[Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    if rng.random() < 0.2:
        sheet.append(["Orders of 2026"])
    sheet.append(header)
    for cells in rows:
        sheet.append([_storable(value) for value in cells])
    # (a merged error cell fills its range with error cells since the reference, which left its copies as text)
    if rows and rng.random() < 0.1 and rows[0][0] != "#N/A":
        sheet.merge_cells(start_row=2, start_column=1, end_row=min(len(rows) + 1, 4), end_column=1)
    if rng.random() < 0.1:
        hidden = book.create_sheet("Backup", 0)
        hidden.sheet_state = "hidden"
        hidden.append(["x"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _storable(value: Any) -> Any:
    """What openpyxl can write: control characters (refused by it) become a visible mark."""
    if value == "":
        return None
    return ILLEGAL_CHARACTERS_RE.sub("?", value) if isinstance(value, str) else value


def _csv(header: list[str], rows: list[list[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows([_text(value).replace("\x00", "\x01") for value in cells] for cells in rows)
    return buffer.getvalue().encode()


def _text(value: Any) -> str:
    if value == "#N/A":  # an error value's text is the row error error_cell since the reference (test_import_bad_files)
        return "N/A"
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M:%S}"
    return "" if value is None else str(value)
