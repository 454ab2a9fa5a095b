"""Safety check of a legacy .xls (BIFF in an OLE2 compound file), run before calamine sees it.

calamine allocates a dense grid up to a sheet's farthest cell, and a BIFF cell record carries a 16-bit row and
column: a 6 KB .xls with one cell at column 65,520 asks for 137 GB and aborts the process; one at row 65,536,
column 256 (within Excel 97's own bounds) costs 1.5 GB and 9 s of CPU. So `inspect_xls` walks the cell records of
the workbook stream and raises `ImportFileError` for a sheet reaching past `max_columns` or `max_sheet_rows`, the
bounds the .xlsx check applies (`xlsx_archive`). A container it cannot follow is refused as damaged; one without a
workbook stream (a password-protected .xlsx) is left to calamine, which refuses it.

Pure reading of bytes, bounded by their length: every sector chain is followed at most once per sector.
"""

from __future__ import annotations

import struct
import sys
from array import array
from collections.abc import Iterator

from services.ingest.adapters.xlsx_archive import ErrorCells, check_bounds
from services.ingest.domain.spreadsheet import issues
from services.ingest.domain.spreadsheet.issues import ImportFileError
from services.ingest.domain.spreadsheet.options import ImportOptions

DAMAGED = (
    "The file is a password-protected workbook or a damaged .xls; remove the password, or open it in Excel or WPS "
    "and save it as .xlsx."
)
_END_OF_CHAIN = 0xFFFFFFFE
_WORKBOOK_STREAMS = ("workbook", "book")  # BIFF8, BIFF5
_BOF, _BOUNDSHEET = 0x0809, 0x0085
# Records of one cell: row and column are their first two 16-bit fields (FORMULA, BLANK, NUMBER, LABEL, BOOLERR,
# RK, LABELSST, RSTRING, and the BIFF2-4 spellings calamine may read too).
_ONE_CELL = frozenset(
    {0x0006, 0x0201, 0x0203, 0x0204, 0x0205, 0x027E, 0x00FD, 0x00D6, 0x0406, 0x0001, 0x0002, 0x0003, 0x0004, 0x0005}
)
_BOOLERR = 0x0205
_ERROR_RECORDS = frozenset({0x0006, 0x0406})  # FORMULA (BIFF5-8, BIFF4): an error as its cached result
ERROR_TEXTS = {
    0x00: "#NULL!",
    0x07: "#DIV/0!",
    0x0F: "#VALUE!",
    0x17: "#REF!",
    0x1D: "#NAME?",
    0x24: "#NUM!",
    0x2A: "#N/A",
    0x2B: "#GETTING_DATA",
}
_MULTI_CELL = frozenset({0x00BD, 0x00BE})  # MULRK, MULBLANK: row, first column, ..., last column (last field)

Extent = tuple[int, int, int]  # (offset of the sheet's BOF in the stream, farthest column, farthest row), 1-based


def inspect_xls(data: bytes, options: ImportOptions) -> dict[str, ErrorCells]:
    """Raise `ImportFileError` unless every sheet of the workbook stream stays within the sheet bounds.

    Answers the error cells (which calamine reads as blank) of each sheet that has some, by sheet name."""
    try:
        streams = _workbook_streams(data)
    except (struct.error, IndexError, ValueError) as exc:
        raise ImportFileError(issues.ENCRYPTED_OR_LEGACY, DAMAGED) from exc
    found: dict[str, ErrorCells] = {}
    for stream in streams:
        names: dict[int, str] = {}
        for at, column, row in cell_extent(stream, names):
            check_bounds(names.get(at, "a sheet"), column, row, options)
        for at, cells in error_cells(stream).items():
            if at in names:
                found[names[at]] = cells
    return found


def error_cells(stream: bytes) -> dict[int, ErrorCells]:
    """The error cells of each substream holding some, by the offset of its BOF: a BOOLERR record whose flag
    says error, or a FORMULA record whose cached result is an error (type 2, then 0xFFFF in its last two bytes)."""
    found: dict[int, ErrorCells] = {}
    start = 0
    for at, kind, _, payload in _records(stream):
        if kind == _BOF:
            start = at
        elif (kind in _ERROR_RECORDS and len(payload) >= 14) or (kind == _BOOLERR and len(payload) >= 8):
            code = _error_code(kind, payload)
            if code is not None:
                row, column = struct.unpack_from("<HH", payload)
                found.setdefault(start, {})[(row + 1, column + 1)] = ERROR_TEXTS.get(code, "#VALUE!")
    return found


def _error_code(kind: int, payload: bytes) -> int | None:
    if kind == _BOOLERR:
        return payload[6] if payload[7] == 1 else None
    return payload[8] if payload[6] == 2 and payload[12:14] == b"\xff\xff" else None


def _records(stream: bytes) -> Iterator[tuple[int, int, int, bytes]]:
    """(offset, type, size, payload) of each record; a record cut by the stream's end keeps what it holds."""
    at = 0
    while at + 4 <= len(stream):
        kind, size = struct.unpack_from("<HH", stream, at)
        yield at, kind, size, stream[at + 4 : at + 4 + size]
        at += 4 + size


def cell_extent(stream: bytes, names: dict[int, str] | None = None) -> list[Extent]:
    """The farthest column and row of the cells of each substream (from one BOF to the next) that holds cells;
    `names` receives the sheet names of the BOUNDSHEET records, by the offset of their BOF."""
    extents: list[Extent] = []
    start, column, row = 0, 0, 0
    for at, kind, size, payload in _records(stream):
        if kind in _ONE_CELL or kind in _MULTI_CELL:
            if len(payload) >= 4:
                first_row, first_column = struct.unpack_from("<HH", payload)
                last_column = first_column
                if kind in _MULTI_CELL and len(payload) == size >= 6:
                    (last_column,) = struct.unpack_from("<H", payload, len(payload) - 2)
                row = max(row, first_row + 1)
                column = max(column, first_column + 1, last_column + 1)
        elif kind == _BOF:
            if column or row:
                extents.append((start, column, row))
            start, column, row = at, 0, 0
        elif kind == _BOUNDSHEET and names is not None and len(payload) >= 8:
            (position,) = struct.unpack_from("<I", payload)
            length, wide = payload[6], payload[7] & 1
            text = payload[8 : 8 + length * (2 if wide else 1)]
            names[position] = text.decode("utf-16-le" if wide else "latin-1", "replace")
    if column or row:
        extents.append((start, column, row))
    return extents


def _workbook_streams(data: bytes) -> list[bytes]:
    """The contents of every stream named Workbook or Book of the compound file (usually one)."""
    shift, mini_shift = struct.unpack_from("<HH", data, 30)
    if not 7 <= shift <= 16 or not 1 <= mini_shift < shift:
        raise ValueError("sector size")
    size, mini_size = 1 << shift, 1 << mini_shift
    first_directory, cutoff, first_mini_fat = (struct.unpack_from("<I", data, at)[0] for at in (48, 56, 60))
    first_difat, difat_count = struct.unpack_from("<II", data, 68)

    sectors = len(data) // size  # no chain or table may name more sectors than the file holds

    def sector(number: int) -> bytes:
        offset = (number + 1) * size
        if offset >= len(data):
            raise ValueError("sector past the end")
        return data[offset : offset + size]

    fat_sectors = [n for n in struct.unpack_from("<109I", data, 76) if n < _END_OF_CHAIN]
    seen: set[int] = set()
    number = first_difat
    while number < _END_OF_CHAIN and len(seen) < difat_count and number not in seen:
        seen.add(number)
        links = _numbers(sector(number).ljust(size, b"\xff"))
        fat_sectors += [n for n in links[:-1] if n < _END_OF_CHAIN]
        number = links[-1]
        if len(fat_sectors) > sectors:
            raise ValueError("more allocation sectors than sectors")
    fat = _numbers(b"".join(sector(n).ljust(size, b"\xff") for n in fat_sectors))

    def chain(start: int, table: array[int]) -> list[int]:
        found: list[int] = []
        visited: set[int] = set()
        while start < _END_OF_CHAIN and start not in visited:
            if start >= len(table):
                raise ValueError("chain past the allocation table")
            visited.add(start)
            found.append(start)
            start = table[start]
        return found

    directory = b"".join(sector(n) for n in chain(first_directory, fat))
    entries = [directory[at : at + 128] for at in range(0, len(directory) - 127, 128)]
    if not entries:
        raise ValueError("no directory")
    root_start, _ = _start_and_size(entries[0])
    mini_stream = b"".join(sector(n) for n in chain(root_start, fat))
    mini_fat = _numbers(b"".join(sector(n) for n in chain(first_mini_fat, fat)))
    streams = []
    for entry in entries:
        name_bytes = struct.unpack_from("<H", entry, 64)[0]
        name = entry[: max(0, min(name_bytes, 64) - 2)].decode("utf-16-le", "replace").lower()
        if entry[66] != 2 or name not in _WORKBOOK_STREAMS:
            continue
        start, length = _start_and_size(entry)
        if length < cutoff:
            parts = [mini_stream[n * mini_size : (n + 1) * mini_size] for n in chain(start, mini_fat)]
        else:
            parts = [sector(n) for n in chain(start, fat)]
        streams.append(b"".join(parts)[:length])
    return streams


def _numbers(raw: bytes) -> array[int]:
    """The little-endian 32-bit numbers of `raw` (a trailing partial number dropped), compactly."""
    numbers = array("I", raw[: len(raw) // 4 * 4])
    if sys.byteorder == "big":
        numbers.byteswap()
    return numbers


def _start_and_size(entry: bytes) -> tuple[int, int]:
    start, size = struct.unpack_from("<II", entry, 116)  # the size's high half is undefined in version 3 files
    return start, size
