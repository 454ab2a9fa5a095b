"""An upload's file is read in a worker process (`reader_processes`): a file whose read aborts, runs out of memory
or of time is refused as `workbook_too_complex` (never a dead process, never a 500) and the pool goes on reading
the next file; what the reader answers crosses the process boundary unchanged."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from services.ingest.adapters.reader_processes import ReaderPool
from services.ingest.adapters.spreadsheet_reader import Table, read_table
from services.ingest.application.parsing import ImportFileError, parse_import
from services.ingest.domain.language import Lang, file_message
from services.ingest.domain.spreadsheet import issues
from services.ingest.domain.spreadsheet.options import DEFAULT_OPTIONS, ImportOptions
from tests.unit.ingest.test_import_container_bounds import damaged_xls
from tests.unit.ingest.test_import_support import row, xlsx_bytes
from tools.samples import sample_rows, write_sample_xlsx


@pytest.fixture(scope="module")
def readers() -> Iterator[ReaderPool]:
    pool = ReaderPool(2)
    pool.start()
    yield pool
    pool.close()


def refusal(pool: ReaderPool, data: bytes, name: str = "bomb.xlsx") -> ImportFileError:
    with pytest.raises(ImportFileError) as refused:
        pool.read(data, name, None, DEFAULT_OPTIONS)
    return refused.value


@contextmanager
def _pool(size: int, **limits: Any) -> Iterator[ReaderPool]:
    pool = ReaderPool(size, **limits)
    try:
        yield pool
    finally:
        pool.close()


def too_complex_then_reads_again(pool: ReaderPool, data: bytes, english: str, chinese: str) -> None:
    """`data` is refused as workbook_too_complex saying `english` (and `chinese` in zh-CN), and `pool` then reads
    a good file."""
    refused = refusal(pool, data)
    assert refused.code == issues.WORKBOOK_TOO_COMPLEX and english in refused.message
    assert chinese in file_message(refused.code, refused.message, Lang.ZH)
    assert pool.read(xlsx_bytes([row()]), "orders.xlsx", None, DEFAULT_OPTIONS).header


def test_a_file_read_in_a_worker_is_the_table_read_in_process(readers: ReaderPool, tmp_path: Path) -> None:
    write_sample_xlsx(tmp_path / "orders.xlsx", sample_rows(20, 3, seed=4))
    data = (tmp_path / "orders.xlsx").read_bytes()
    assert readers.read(data, "orders.xlsx", None, DEFAULT_OPTIONS) == read_table(
        data, "orders.xlsx", None, DEFAULT_OPTIONS
    )
    parsed = parse_import(data, "orders.xlsx", read=readers.read)
    assert parsed == parse_import(data, "orders.xlsx") and len(parsed.orders) == 20


def test_a_refusal_of_the_reader_crosses_the_process_boundary_whole(readers: ReaderPool) -> None:
    data = b"not,a,header\n1,2,3\n"
    with pytest.raises(ImportFileError) as expected:
        read_table(data, "orders.txt", None, DEFAULT_OPTIONS)
    refused = refusal(readers, data, "orders.txt")
    assert (refused.code, refused.message) == (expected.value.code, expected.value.message)


def sleeping_read(data: bytes, filename: str, sheet: str | None, options: ImportOptions) -> Table:
    if data == b"slow":
        time.sleep(60)
    return read_table(data, filename, sheet, options)


def aborting_read(data: bytes, filename: str, sheet: str | None, options: ImportOptions) -> Table:
    if data == b"abort":
        os.abort()
    return read_table(data, filename, sheet, options)


def test_a_worker_that_dies_is_replaced_and_the_other_reads_go_on() -> None:
    with _pool(2, reader=aborting_read) as pool:
        for _ in range(3):
            too_complex_then_reads_again(pool, b"abort", "the reader stopped on it", "另存为 .xlsx 或导出为 CSV")


def hungry_read(data: bytes, filename: str, sheet: str | None, options: ImportOptions) -> Table:
    if data == b"hungry":
        return [bytearray(1 << 20) for _ in range(1024)]  # type: ignore[return-value]  # 1 GB, 1 MB at a time
    return read_table(data, filename, sheet, options)


def test_a_read_past_the_memory_limit_is_too_complex() -> None:
    with _pool(1, memory=400 << 20, reader=hungry_read) as pool:
        too_complex_then_reads_again(pool, b"hungry", "more than 400 MB of memory", "读取需要超过 400 MB 内存")


def test_a_read_past_the_time_limit_is_too_complex_and_its_worker_is_killed() -> None:
    with _pool(1, seconds=1.5, reader=sleeping_read) as pool:
        started = time.monotonic()
        too_complex_then_reads_again(pool, b"slow", "1.5 seconds", "1.5 秒内未能读完")  # read by a new worker
        assert time.monotonic() - started < 10


def test_an_xls_that_aborts_calamine_is_refused_as_damaged_and_the_reader_lives(readers: ReaderPool) -> None:
    refused = refusal(readers, damaged_xls(), "orders.xls")
    assert refused.code == issues.ENCRYPTED_OR_LEGACY and ".xlsx" in refused.message
    assert readers.read(xlsx_bytes([row()]), "orders.xlsx", None, DEFAULT_OPTIONS).header


_NUL_TABLE = Table("Orders", 1, ["A", "B"], [(2, ("x\x00y", "")), (4, ("", "z"))], columns=[("x\x00y", ""), ("", "z")])


def nul_read(data: bytes, filename: str, sheet: str | None, options: ImportOptions) -> Table:
    return _NUL_TABLE


def test_texts_holding_the_separator_of_the_way_back_cross_it_unchanged() -> None:
    """A column's texts go back joined by U+0000: a column with a text holding it goes as it is."""
    with _pool(1, reader=nul_read) as pool:
        assert pool.read(b"nul", "orders.xlsx", None, DEFAULT_OPTIONS) == _NUL_TABLE


_ODD_COLUMNS: list[tuple[str, ...]] = [
    ("", "", ""),  # a column of empty texts
    ("\x00", "\x00\x00", ""),  # texts that are the separator alone
    ("\ud800", "a\r\nb", "\u2028\x85\x1e"),  # a lone surrogate, line ends of every kind
    ("末尾\x00", "\ufeff", " "),
]
_ODD_TABLE = Table(
    "Orders",
    1,
    ["A", "B", "C", "D"],
    [(row_no, tuple(column[i] for column in _ODD_COLUMNS)) for i, row_no in enumerate((2, 5, 9))],
    columns=_ODD_COLUMNS,
)
_ONE_ROW = Table("Orders", 3, ["A", "B"], [(4, ("", ""))], columns=[("",), ("",)])


def odd_read(data: bytes, filename: str, sheet: str | None, options: ImportOptions) -> Table:
    return _ODD_TABLE if data == b"odd" else _ONE_ROW


def test_odd_texts_and_empty_columns_cross_the_process_boundary_exactly() -> None:
    """Empty texts, a column of them, a single row, U+0000 alone or repeated, lone surrogates and every kind of
    line end come back as they went, cell for cell and column for column."""
    with _pool(1, reader=odd_read) as pool:
        for data, table in ((b"odd", _ODD_TABLE), (b"one", _ONE_ROW)):
            read = pool.read(data, "orders.xlsx", None, DEFAULT_OPTIONS)
            assert read == table and read.data_columns() == table.data_columns()
            assert [list(cells) for _, cells in read.rows] == [list(cells) for _, cells in table.rows]
