"""Writers for exported order lists, fed a page of rows at a time and handing back the bytes written so far.

Memory is bounded by one page: nothing is kept of the rows already handed back. CSV is UTF-8 with a BOM (so
spreadsheet programs read the Chinese headers and text right). The .xlsx writer writes the sheet XML itself, with
inline strings (no shared-string table growing with the rows), into a zip stream that needs no seeking, so its
bytes can go to the client as they are made. A sheet holds at most `MAX_SHEET_ROWS` data rows; the rows beyond
continue on sheets "Orders 2", "Orders 3", ... (the importer reads the first sheet only; an import takes at most
5,000 rows anyway). Every cell is text a spreadsheet never evaluates: a leading = + - @ gets a `'` (stripped again
on import), characters no workbook can hold become U+FFFD, as in the result workbook.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Sequence
from typing import IO
from xml.sax.saxutils import escape

from openpyxl.utils import get_column_letter

from services.ingest.adapters.spreadsheet_writer import neutralise
from services.ingest.domain.language import Lang, template_text
from services.ingest.domain.spreadsheet.values import visible

ORDERS_SHEET = template_text("sheet.orders", Lang.EN)  # exports are in the English template's columns

MAX_SHEET_ROWS = 1_048_575  # Excel's row limit less the header row
UTF8_BOM = "\ufeff"

_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_REL_NS = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
_DOC_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = 'xmlns="http://schemas.openxmlformats.org/package/2006/relationships"'
_SHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
_BOOK_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


def safe_cell(text: str) -> str:
    """A cell's text as written: never a formula, never a character a workbook cannot hold."""
    return neutralise(visible(text))


class CsvWriter:
    def __init__(self, header: Sequence[str]) -> None:
        self._buffer = io.StringIO()
        self._csv = csv.writer(self._buffer, lineterminator="\r\n")
        self._buffer.write(UTF8_BOM)
        self._csv.writerow(header)

    def add(self, rows: Sequence[Sequence[str]]) -> bytes:
        self._csv.writerows([safe_cell(c) for c in r] for r in rows)
        return self._take()

    def close(self) -> bytes:
        return self._take()

    def _take(self) -> bytes:
        text = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        return text.encode()


class _Sink:
    """A write-only file for `zipfile`: keeps what was written until taken (no seek, no tell)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def take(self) -> bytes:
        data, self.parts = b"".join(self.parts), []
        return data


class XlsxWriter:
    """A workbook of text cells written as a stream: `add` pages of rows, then `close`; each returns new bytes."""

    def __init__(self, header: Sequence[str]) -> None:
        self._header = list(header)
        self._letters = [get_column_letter(i) for i in range(1, len(header) + 1)]
        self._sink = _Sink()
        self._zip = zipfile.ZipFile(self._sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1)
        self._sheets = 0
        self._sheet: IO[bytes] | None = None
        self._row = 0

    def add(self, rows: Sequence[Sequence[str]]) -> bytes:
        for cells in rows:
            if self._sheet is None or self._row > MAX_SHEET_ROWS:
                self._new_sheet()
            self._write_row(cells)
        return self._sink.take()

    def close(self) -> bytes:
        if self._sheet is None:
            self._new_sheet()
        self._end_sheet()
        self._write_book()
        self._zip.close()
        return self._sink.take()

    def _new_sheet(self) -> None:
        self._end_sheet()
        self._sheets += 1
        self._sheet = self._zip.open(f"xl/worksheets/sheet{self._sheets}.xml", "w", force_zip64=True)
        self._put(f"{_XML}<worksheet {_NS}><sheetData>")
        self._row = 0
        self._write_row(self._header)

    def _end_sheet(self) -> None:
        if self._sheet is not None:
            self._put("</sheetData></worksheet>")
            self._sheet.close()
            self._sheet = None

    def _write_row(self, cells: Sequence[str]) -> None:
        self._row += 1
        n = self._row
        parts = [f'<row r="{n}">']
        for letter, text in zip(self._letters, cells, strict=False):
            if text:
                value = escape(safe_cell(text))
                parts.append(f'<c r="{letter}{n}" t="inlineStr"><is><t xml:space="preserve">{value}</t></is></c>')
        parts.append("</row>")
        self._put("".join(parts))

    def _put(self, text: str) -> None:
        assert self._sheet is not None
        self._sheet.write(text.encode())

    def _write_book(self) -> None:
        numbers = range(1, self._sheets + 1)
        names = [ORDERS_SHEET if i == 1 else f"{ORDERS_SHEET} {i}" for i in numbers]
        sheets = "".join(
            f'<sheet name="{n}" sheetId="{i}" r:id="rId{i}"/>' for i, n in zip(numbers, names, strict=True)
        )
        self._zip.writestr("xl/workbook.xml", f"{_XML}<workbook {_NS} {_REL_NS}><sheets>{sheets}</sheets></workbook>")
        rels = "".join(
            f'<Relationship Id="rId{i}" Type="{_DOC_REL}/worksheet" Target="worksheets/sheet{i}.xml"/>' for i in numbers
        )
        self._zip.writestr("xl/_rels/workbook.xml.rels", f"{_XML}<Relationships {_PKG_REL}>{rels}</Relationships>")
        book_rel = f'<Relationship Id="rId1" Type="{_DOC_REL}/officeDocument" Target="xl/workbook.xml"/>'
        self._zip.writestr("_rels/.rels", f"{_XML}<Relationships {_PKG_REL}>{book_rel}</Relationships>")
        overrides = "".join(
            f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{_SHEET_TYPE}"/>' for i in numbers
        )
        types = (
            f'{_XML}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{_BOOK_TYPE}"/>{overrides}</Types>'
        )
        self._zip.writestr("[Content_Types].xml", types)
