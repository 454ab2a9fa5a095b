"""Workbooks that make calamine allocate a dense grid past the sheet bounds are refused before it reads them.

calamine allocates rows x columns cells up to a sheet's farthest cell; past the machine's memory the allocation
aborts the whole process (every tenant's requests with it), which no `except` catches. Each file here is parsed in
a child process, so that on a reader without the check the test fails (the child dies) instead of the test run.
"""

from __future__ import annotations

import io
import json
import re
import struct
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import xlwt

from services.ingest.adapters.xls_container import cell_extent
from services.ingest.application.parsing import ImportFileError, ImportOptions, parse_import
from services.ingest.domain.spreadsheet import issues
from tests.unit.ingest.test_import_support import HEADER, csv_bytes, grid_of, row, xlsx_bytes
from tests.unit.ingest.test_import_xls import xls_bytes

ROOT = Path(__file__).resolve().parents[3]
PARSE_IN_A_CHILD = """
import json, sys
from services.ingest.application.parsing import ImportFileError, parse_import
data = sys.stdin.buffer.read()
try:
    parsed = parse_import(data, sys.argv[1])
except ImportFileError as refused:
    print(json.dumps({"refused": refused.code, "message": refused.message}))
else:
    print(json.dumps({"orders": len(parsed.orders)}))
"""
NUMBER, MULBLANK, LABELSST = 0x0203, 0x00BE, 0x00FD


def parse_in_a_child(data: bytes, filename: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PARSE_IN_A_CHILD, filename],
        input=data,
        capture_output=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"the reader died (exit {done.returncode}): {done.stderr[-400:]!r}"
    answer: dict[str, object] = json.loads(done.stdout)
    return answer


def far_xls(row_no: int, column: int) -> bytes:
    """A valid .xls (header + one order) with one more number cell at 0-based (`row_no`, `column`); xlwt writes
    at most column 255, so a farther column is patched into the NUMBER record afterwards."""
    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("Orders")
    for col, name in enumerate(HEADER):
        sheet.write(0, col, name)
    for col, value in enumerate(grid_of([row()])[1]):
        if value not in ("", None):
            sheet.write(1, col, value if isinstance(value, str | int | float) else str(value))
    written = min(column, 255)
    sheet.write(row_no, written, 7.123456789123)  # not an integer: xlwt writes a NUMBER record, not an RK
    out = io.BytesIO()
    book.save(out)
    data = out.getvalue()
    if written != column:
        record = struct.pack("<HHHH", NUMBER, 14, row_no, written)
        at = data.index(record)
        data = data[:at] + struct.pack("<HHHH", NUMBER, 14, row_no, column) + data[at + 8 :]
    return data


@pytest.mark.parametrize(
    ("row_no", "column", "code"),
    [
        (65_535, 65_520, issues.TOO_MANY_COLUMNS),  # 137 GB asked for: the process aborted
        (1, 65_520, issues.TOO_MANY_COLUMNS),
        (65_535, 255, issues.TOO_MANY_COLUMNS),  # within Excel 97's own bounds: 1.5 GB and 9 s of CPU for 6 KB
        (65_535, 3, issues.TOO_MANY_ROWS),
        (1, 100, issues.TOO_MANY_COLUMNS),
    ],
)
def test_an_xls_cell_past_the_sheet_bounds_is_refused_before_calamine_reads_the_sheet(
    row_no: int, column: int, code: str
) -> None:
    answer = parse_in_a_child(far_xls(row_no, column), "orders.xls")
    assert answer.get("refused") == code, answer
    assert "Orders" in str(answer["message"])


def test_an_xls_within_the_bounds_is_read() -> None:
    assert parse_in_a_child(far_xls(10_998, 99), "orders.xls") == {"orders": 1}
    assert len(parse_import(xls_bytes([row()]), "orders.xls").orders) == 1


def records(*items: tuple[int, bytes]) -> bytes:
    return b"".join(struct.pack("<HH", kind, len(payload)) + payload for kind, payload in items)


def test_the_extent_counts_every_cell_record_kind_and_the_last_column_of_multi_cell_records() -> None:
    bof = (0x0809, struct.pack("<HH", 0x0600, 0x0010) + b"\x00" * 12)
    stream = records(
        bof,
        (LABELSST, struct.pack("<HHHI", 4, 2, 0, 0)),
        (MULBLANK, struct.pack("<HH", 9, 1) + struct.pack("<H", 15) * 3 + struct.pack("<H", 3)),
        (0x000A, b""),  # EOF
    )
    assert cell_extent(stream) == [(0, 4, 10)]  # (its BOF's offset, farthest column, farthest row), 1-based
    assert cell_extent(stream[:-7]) == [(0, 3, 10)]  # a cut record counts by what it holds


def moved_sheet_xlsx(far_cell: str) -> bytes:
    """A valid .xlsx whose worksheet part is `xl/data/orders.xml` (the relationship says so: any part name is
    valid OOXML), holding one more cell at `far_cell`."""
    source = zipfile.ZipFile(io.BytesIO(xlsx_bytes(grid_of([row()]))))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            name, data = info.filename, source.read(info)
            if name == "xl/worksheets/sheet1.xml":
                name = "xl/data/orders.xml"
                cell = f'<row r="3"><c r="{far_cell}" t="inlineStr"><is><t>x</t></is></c></row>'.encode()
                data = re.sub(rb"<dimension [^>]*>", b"", data).replace(b"</sheetData>", cell + b"</sheetData>")
            elif name in ("xl/_rels/workbook.xml.rels", "[Content_Types].xml"):
                data = data.replace(b"/xl/worksheets/sheet1.xml", b"/xl/data/orders.xml")
                data = data.replace(b'"worksheets/sheet1.xml"', b'"data/orders.xml"')
            target.writestr(name, data)
    return out.getvalue()


def test_an_xlsx_sheet_stored_outside_xl_worksheets_is_bounded_like_any_sheet() -> None:
    answer = parse_in_a_child(moved_sheet_xlsx("XFD3"), "orders.xlsx")  # 16,384 x 3 cells: read, then refused
    assert answer.get("refused") == issues.TOO_MANY_COLUMNS, answer
    answer = parse_in_a_child(moved_sheet_xlsx("XFD1048576"), "orders.xlsx")  # 550 GB asked for: aborted
    assert answer.get("refused") == issues.TOO_MANY_COLUMNS, answer
    assert parse_in_a_child(moved_sheet_xlsx("B3"), "orders.xlsx") == {"orders": 1}


def compound_file(workbook: bytes) -> bytes:
    """A minimal OLE2 compound file (version 3) holding `workbook` as its Workbook stream, in the mini stream
    when shorter than 4,096 bytes (as some writers store a small workbook), else in regular sectors."""
    end, free, fat_sector = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD
    small = len(workbook) < 4096
    data_sectors = -(-len(workbook) // 512)
    mini_sectors = -(-len(workbook) // 64)
    fat = [fat_sector, end, end] + [n + 1 for n in range(3, 3 + data_sectors - 1)] + [end]
    mini_fat = [n + 1 for n in range(mini_sectors - 1)] + [end] if small else []

    def entry(name: str, kind: int, start: int, size: int) -> bytes:
        encoded = (name + "\0").encode("utf-16-le")
        return (
            encoded.ljust(64, b"\0")
            + struct.pack("<HBB", len(encoded), kind, 1)
            + struct.pack("<III", free, free, 1 if kind == 5 else free)
            + b"\0" * 36
            + struct.pack("<II", start, size)
            + b"\0" * 4
        )

    root = entry("Root Entry", 5, 3 if small else end, mini_sectors * 64 if small else 0)
    book = entry("Workbook", 2, 0 if small else 3, len(workbook))
    header = (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
        + b"\0" * 16
        + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
        + b"\0" * 6
        + struct.pack("<IIIIIIIII", 0, 1, 1, 0, 4096, 2 if small else end, 1 if small else 0, end, 0)
        + struct.pack("<109I", 0, *[free] * 108)
    )
    sectors = [
        struct.pack(f"<{len(fat)}I", *fat).ljust(512, b"\xff"),
        (root + book).ljust(512, b"\0"),
        struct.pack(f"<{len(mini_fat)}I", *mini_fat).ljust(512, b"\xff"),
    ]
    body = workbook.ljust(mini_sectors * 64, b"\0") if small else workbook
    body = body.ljust(-(-len(body) // 512) * 512, b"\0")
    return header + b"".join(sectors) + body


def workbook_stream(cells: list[tuple[int, int]]) -> bytes:
    globals_ = records((0x0809, struct.pack("<HH", 0x0600, 0x0005) + b"\0" * 12), (0x000A, b""))
    sheet_at = len(globals_) + len(records((0x0085, b"\0" * 14)))
    name = (0x0085, struct.pack("<IBBBB", sheet_at, 0, 0, 6, 0) + b"Orders")
    globals_ = globals_[:-4] + records(name, (0x000A, b""))
    sheet = records(
        (0x0809, struct.pack("<HH", 0x0600, 0x0010) + b"\0" * 12),
        *((NUMBER, struct.pack("<HHHd", r, c, 0, 1.5)) for r, c in cells),
        (0x000A, b""),
    )
    return globals_ + sheet


@pytest.mark.parametrize("padding", [0, 5000], ids=["mini stream", "regular sectors"])
def test_the_workbook_stream_is_found_in_the_mini_stream_and_in_regular_sectors(padding: int) -> None:
    stream = workbook_stream([(0, 0), (40_000, 2)]) + b"\0" * padding
    data = compound_file(stream)
    from services.ingest.adapters.xls_container import _workbook_streams

    assert [s.rstrip(b"\0") for s in _workbook_streams(data)] == [stream.rstrip(b"\0")]
    answer = parse_in_a_child(data, "orders.xls")
    assert answer.get("refused") == issues.TOO_MANY_ROWS and 'Sheet "Orders"' in str(answer["message"]), answer


@pytest.mark.parametrize(
    ("filename", "data", "expected"),
    [
        (
            "orders.xls",
            lambda: far_xls(65_535, 65_520),
            "工作表“Orders”用到 CRXA 列（第 65,521 列）；最多接受 100 列（A 到 CV 列）。",
        ),
        ("orders.xls", lambda: far_xls(20_000, 3), "工作表“Orders”延伸到第 20,001 行"),
        (
            "orders.xlsx",
            lambda: moved_sheet_xlsx("XFD3"),
            "工作表“Orders”用到 XFD 列（第 16,384 列）；最多接受 100 列（A 到 CV 列）。",
        ),
    ],
)
def test_a_far_cell_is_explained_in_chinese_with_its_own_figures(filename: str, data: object, expected: str) -> None:
    # The sheet part's own digits (sheet1.xml) were taken for the figures: "表头有 1 列；最多接受 16384 列".
    from services.ingest.domain.language import Lang, file_message

    answer = parse_in_a_child(data(), filename)  # type: ignore[operator]
    assert expected in file_message(str(answer["refused"]), str(answer["message"]), Lang.ZH)


@pytest.mark.parametrize("blank", [b"\r", b"\n", b",,,,\r\n", b" \n"])
def test_a_csv_reaching_past_the_sheet_bounds_is_refused_as_soon_as_it_does(blank: bytes) -> None:
    # 19 MB of blank lines took 11 to 16 s of CPU, holding the GIL: every other request of the API waited
    # (another tenant's order list: 5-27 ms before, 240-660 ms during two such uploads).
    data = (",".join(HEADER) + "\n").encode() + blank * (19 * 1024 * 1024 // len(blank))
    started = time.process_time()
    with pytest.raises(ImportFileError) as refused:
        parse_import(data, "orders.csv")
    assert refused.value.code == issues.TOO_MANY_ROWS and "reaches row 11,001" in refused.value.message
    assert time.process_time() - started < 2.0  # what reading 11,000 lines and decoding 19 MB cost, with room


@pytest.mark.parametrize(
    ("tail", "code", "said"),
    [
        (b"\n" * 12_000, issues.TOO_MANY_COLUMNS, "at most 100 columns"),  # the header, found first, is refused
        (b'"never closed\n' + b"\n" * 12_000, issues.TOO_MANY_COLUMNS, "at most 100 columns"),
    ],
)
def test_a_csv_past_the_sheet_bounds_is_refused_for_what_is_found_first(tail: bytes, code: str, said: str) -> None:
    """Past `max_sheet_rows` records (or at a quote never closed) a CSV file is read again record by record, as it
    always was: what is wrong first is what is said."""
    data = (",".join([*HEADER, *(f"Extra {n}" for n in range(120))]) + "\n").encode() + tail
    with pytest.raises(ImportFileError) as refused:
        parse_import(data, "orders.csv")
    assert refused.value.code == code and said in refused.value.message


def test_a_csv_quote_never_closed_names_its_row_whatever_the_rows_before_it() -> None:
    data = csv_bytes([row(), row(ProductID="P2")]) + b'"never closed,\n' + b"x\n" * 20
    with pytest.raises(ImportFileError) as refused:
        parse_import(data, "orders.csv")
    assert refused.value.code == issues.UNSUPPORTED_FORMAT and refused.value.message.startswith("Row 4: a quote")


def test_a_csv_of_more_rows_than_accepted_but_within_the_sheet_bounds_says_how_many() -> None:
    data = csv_bytes([row(ProductID=f"P{n}") for n in range(30)])
    with pytest.raises(ImportFileError) as refused:
        parse_import(data, "orders.csv", options=ImportOptions(max_rows=10))
    assert refused.value.code == issues.TOO_MANY_ROWS and "30 data rows" in refused.value.message


def damaged_xls() -> bytes:
    """`far_xls(10, 5)` with six bytes changed (found by mutation fuzzing): it passes `inspect_xls`, then calamine
    0.37 panics on a slice and aborts the process asking for 2,210,565,988,080 bytes."""
    data = bytearray(far_xls(10, 5))
    for at, value in ((855, 188), (870, 191), (1923, 183), (2111, 57), (2698, 133), (3858, 204)):
        data[at] = value
    return bytes(data)
