"""Parse benchmark: 5,000 rows x 25 columns through the calamine (.xlsx) and CSV paths, plus openpyxl read-only.

Run: `python -m benchmarks.bench_parse [runs]`. Prints the machine and the median of the runs for each path.
The openpyxl figure reads the same workbook (values only) and then runs the same validation and grouping.
Then the CPU time of each stage of the calamine path (median of the runs), to tell where a parse goes.

Two .xlsx flavours of the same rows: as openpyxl 3.1 writes them (every text an inline string in the sheet, the
sheet 5.7 MB), and with shared strings (`shared_strings`), as Excel, WPS and the platforms' exports write them (the
sheet holds indexes, each distinct text is written once in xl/sharedStrings.xml).
"""

from __future__ import annotations

import io
import itertools
import os
import platform
import re
import statistics
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from python_calamine import CalamineWorkbook

from services.ingest.adapters import spreadsheet_reader as reader
from services.ingest.adapters.spreadsheet_reader import Table
from services.ingest.adapters.xlsx_archive import inspect_xlsx
from services.ingest.application import parsing as importing
from services.ingest.application.workers import READERS
from services.ingest.domain.spreadsheet.options import DEFAULT_OPTIONS
from services.ingest.domain.spreadsheet.rows import RowRules, check_rows
from services.ingest.domain.spreadsheet.split import group_rows
from services.ingest.domain.spreadsheet.values import display_text
from tools.samples import sample_rows, write_sample_csv, write_sample_xlsx

ORDERS, LINES = 1250, 4  # 5,000 rows
_INLINE_CELL = re.compile(rb'<c ([^>]*?)t="inlineStr"([^>]*)><is><t(?:\s[^>]*)?>([^<]*)</t></is></c>')
_SHARED_STRINGS_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
_SHARED_STRINGS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"


def shared_strings(data: bytes) -> bytes:
    """The workbook `data` (as openpyxl 3.1 writes it: inline strings) with its texts moved to a shared-strings
    part, as Excel and WPS write them; the cells read the same."""
    strings: dict[bytes, int] = {}

    def shared(match: re.Match[bytes]) -> bytes:
        index = strings.setdefault(match.group(3), len(strings))
        return b"<c " + match.group(1) + b't="s"' + match.group(2) + b"><v>%d</v></c>" % index

    source, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as book:
        for info in source.infolist():
            part = source.read(info.filename)
            if info.filename.startswith("xl/worksheets/"):
                part = _INLINE_CELL.sub(shared, part)
            elif info.filename == "[Content_Types].xml":
                override = f'<Override PartName="/xl/sharedStrings.xml" ContentType="{_SHARED_STRINGS_TYPE}"/>'
                part = part.replace(b"</Types>", override.encode() + b"</Types>")
            elif info.filename == "xl/_rels/workbook.xml.rels":
                rel = f'<Relationship Id="rIdShared" Type="{_SHARED_STRINGS_REL}" Target="sharedStrings.xml"/>'
                part = part.replace(b"</Relationships>", rel.encode() + b"</Relationships>")
            book.writestr(info.filename, part)
        head = f'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" uniqueCount="{len(strings)}">'
        book.writestr(
            "xl/sharedStrings.xml", head.encode() + b"".join(b"<si><t>%s</t></si>" % t for t in strings) + b"</sst>"
        )
    return out.getvalue()


def _timings(work: Callable[[], Any], runs: int) -> tuple[float, float, float]:
    """Median wall time, best wall time and median CPU time of the process (the machine is shared: CPU time
    is what the code costs when other processes take turns on the two cores)."""
    work()  # warm-up: imports, zoneinfo cache
    wall, cpu = [], []
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        work()
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    return statistics.median(wall), min(wall), statistics.median(cpu)


def _openpyxl_table(data: bytes) -> Table:
    book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    rows = [[display_text(v) for v in row] for row in book.worksheets[0].iter_rows(values_only=True)]
    book.close()
    return Table(None, 1, rows[0], list(enumerate(rows[1:], 2)))


def _via_openpyxl(data: bytes) -> importing.ParsedImport:
    original = importing.read_table
    importing.read_table = lambda *_args: _openpyxl_table(data)  # type: ignore[assignment]
    try:
        return importing.parse_import(data, "orders.xlsx")
    finally:
        importing.read_table = original


def _stages(data: bytes, runs: int) -> dict[str, float]:
    """Median CPU seconds of each stage of `parse_import` over an .xlsx, run one after the other as it does."""
    spent: dict[str, list[float]] = {}

    def timed(stage: str, work: Callable[..., Any], *args: Any) -> Any:
        started = time.process_time()
        result = work(*args)
        spent.setdefault(stage, []).append(time.process_time() - started)
        return result

    options, rules = DEFAULT_OPTIONS, RowRules(importing._zone("Asia/Shanghai"), frozenset())
    with importing._cycle_collection_paused():
        for _ in range(runs):
            timed("container checks (xlsx_archive)", inspect_xlsx, data, options)
            book = CalamineWorkbook.from_filelike(io.BytesIO(data))
            sheet = timed("calamine: sheet read", book.get_sheet_by_name, book.sheet_names[0])
            grid = timed("calamine: to_python", sheet.to_python, True)
            shown = timed("cell texts", reader._shown_columns, grid)
            texts = timed("rows of cell texts", lambda columns: list(zip(*columns, strict=True)), shown.columns)
            table = timed("header and rows", reader._table, sheet.name, enumerate(texts, 1), options)
            timed("inexact identifiers", reader._inexact_ids, grid, 1, table, shown.numbers)
            table = replace(table, columns=reader._data_columns(shown, table, 1))
            fields, _ = importing._layout(table)
            table, _ = timed("example row", importing._skip_example_rows, table, fields)
            numbers = [n for n, _ in table.rows]
            checked = timed("cell and row rules", check_rows, numbers, table.data_columns(), fields, rules)
            timed("grouping into orders", group_rows, checked, fields)
            timed("rows shown back", importing._sheet_rows, table, checked.unstorable_rows)
    return {stage: statistics.median(times) for stage, times in spent.items()}


def _gil_released(data: bytes) -> tuple[float, int, float]:
    """Whether calamine's sheet read lets other Python threads run: the read's wall time, how many times a thread
    sleeping 1 ms woke during it, and its longest gap (a read holding the GIL shows one gap as long as the read).

    It does release it (python-calamine 0.9), but the container checks cannot overlap it: calamine must not open a
    container that has not passed them (a far cell reference aborts the process), so the measure is a finding."""
    wakes: list[float] = []
    done = threading.Event()

    def tick() -> None:
        while not done.wait(0.001):
            wakes.append(time.perf_counter())

    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    ticker = threading.Thread(target=tick)
    ticker.start()
    try:
        started = time.perf_counter()
        book.get_sheet_by_name(book.sheet_names[0])
        ended = time.perf_counter()
    finally:
        done.set()
        ticker.join()
    during = [started] + [w for w in wakes if started < w < ended] + [ended]
    return ended - started, len(during) - 2, max(b - a for a, b in itertools.pairwise(during))


def main(runs: int = 15) -> None:
    with tempfile.TemporaryDirectory() as directory:
        xlsx, csv_path = Path(directory, "orders.xlsx"), Path(directory, "orders.csv")
        write_sample_xlsx(xlsx, sample_rows(ORDERS, LINES, seed=1))
        write_sample_csv(csv_path, sample_rows(ORDERS, LINES, seed=1))
        xlsx_data, csv_data = xlsx.read_bytes(), csv_path.read_bytes()
    shared_data = shared_strings(xlsx_data)
    parsed = importing.parse_import(xlsx_data, "orders.xlsx")
    assert parsed.counts.valid_rows == ORDERS * LINES and parsed.counts.orders == ORDERS, parsed.counts
    assert importing.parse_import(csv_data, "orders.csv").counts.orders == ORDERS
    assert importing.parse_import(shared_data, "orders.xlsx").rows == parsed.rows
    print(f"machine: nproc={os.cpu_count()} python={platform.python_version()} ({platform.machine()})")
    shape = f"{ORDERS * LINES} rows x {len(parsed.header)} columns"
    print(f"input: {shape}; xlsx {len(xlsx_data):,} B (shared strings {len(shared_data):,} B), csv {len(csv_data):,} B")
    figures = {
        "xlsx via calamine (goal <= 0.150 s)": lambda: importing.parse_import(xlsx_data, "orders.xlsx"),
        "xlsx with shared strings via calamine": lambda: importing.parse_import(shared_data, "orders.xlsx"),
        "csv (goal <= 0.080 s)": lambda: importing.parse_import(csv_data, "orders.csv"),
        # what an upload pays: its table read in a reader process (`reader_processes`); CPU here is the API's part
        "xlsx as an upload reads it, in a reader process": lambda: importing.parse_import(
            xlsx_data, "orders.xlsx", read=READERS.read
        ),
        "xlsx via openpyxl read-only (comparison)": lambda: _via_openpyxl(xlsx_data),
    }
    READERS.start()
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    for label, work in figures.items():
        median, best, cpu = _timings(work, runs)
        print(f"{label}: median {median:.3f} s, best {best:.3f} s, median CPU {cpu:.3f} s ({runs} runs)")
    print("xlsx stages, median CPU (inline strings | shared strings):")
    inline, shared = _stages(xlsx_data, runs), _stages(shared_data, runs)
    for stage, seconds in inline.items():
        print(f"  {stage:<34} {seconds * 1000:7.1f} ms | {shared[stage] * 1000:7.1f} ms")
    read, woke, gap = _gil_released(xlsx_data)
    print(f"calamine sheet read {read * 1000:.0f} ms: a thread woke {woke} times, longest gap {gap * 1000:.1f} ms")
    READERS.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 15)
