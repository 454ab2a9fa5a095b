"""Hostile .xlsx files found by a security review of the reader's checks (each small, each within the archive
bounds): what calamine reads as a grid of billions of cells, a text copied into every cell, or XML that makes a
regex quadratic. Built here from a minimal workbook (one sheet "Orders", a header row and one data row)."""

from __future__ import annotations

import io
import random
import zipfile

_CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Types xmlns="http://schemas.openxmlformats.org/'
    b'package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    b'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/'
    b'workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    b'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.'
    b'spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/'
    b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>'
)
_RELS = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="http://schemas.openxmlformats'
    b'.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
    b'officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<workbook xmlns="http://schemas.openxmlformats.org/'
    b'spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    b'<sheets><sheet name="Orders" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="http://schemas.openxmlformats'
    b'.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
    b'officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" '
    b'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" '
    b'Target="sharedStrings.xml"/></Relationships>'
)
_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="http://schemas.openxmlformats.org/'
    b'spreadsheetml/2006/main"><dimension ref="A1:XFD1048576"/><sheetData>'
)
_TAIL = b"</sheetData></worksheet>"
_DATA = (
    b'<row r="1"><c r="A1" t="inlineStr"><is><t>order_id</t></is></c><c r="B1" t="inlineStr"><is><t>sku</t></is>'
    b'</c></row><row r="2"><c r="A2"><v>1</v></c><c r="B2" t="inlineStr"><is><t>X</t></is></c></row>'
)


def shared_strings(*texts: bytes) -> bytes:
    items = b"".join(b"<si><t>" + text + b"</t></si>" for text in texts)
    return (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<sst xmlns="http://schemas.openxmlformats.org/'
        b'spreadsheetml/2006/main" count="%d" uniqueCount="%d">' % (len(texts), len(texts)) + items + b"</sst>"
    )


def sheet_xml(sheet_data: bytes) -> bytes:
    """A whole worksheet part holding `sheet_data` in its `<sheetData>`."""
    return _HEAD + sheet_data + _TAIL


def workbook(sheet_data: bytes, sst: bytes | None = None, whole_sheet: bytes | None = None) -> bytes:
    """An .xlsx whose sheet "Orders" holds the header row, one data row and then `sheet_data`."""
    sheet = whole_sheet if whole_sheet is not None else _HEAD + _DATA + sheet_data + _TAIL
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _RELS)
        archive.writestr("xl/workbook.xml", _WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        archive.writestr("xl/sharedStrings.xml", sst if sst is not None else shared_strings(b"x"))
        archive.writestr("xl/worksheets/sheet1.xml", sheet)
    return buffer.getvalue()


def end_tag_rows(rows: int) -> bytes:
    """Bomb 1: `<a></row>` x `rows` (calamine adds a row at every end tag named row), then a row of 100 cells."""
    pick = random.Random(1).choice
    filler = b"".join(pick((b"<a></row>", b"<b></row>", b"<a ></row>", b"<b ></row>")) for _ in range(rows))
    return workbook(filler + b"<row>" + b"<c><v>1</v></c>" * 100 + b"</row>")


def prefixed_cells(columns: int, prefix: bytes = b"1") -> bytes:
    """Bomb 2: a row of `columns` cells `<1:c>` (calamine takes any `x:c` for a cell) and a row reaching row
    11,000: a grid calamine allocates whole (16,384 columns: 5.7 GB, an abort)."""
    cell = b"<" + prefix + b":c><v>1</v></" + prefix + b":c>"
    return workbook(b'<row r="3">' + cell * columns + b'</row><row r="11000"><c r="A11000"><v>1</v></c></row>')


def shared_string_copies(size: int, cells: int) -> bytes:
    """Bomb 3: one shared string of `size` characters referenced by `cells` cells, all within the bounds."""
    rows = []
    for row_no in range(3, 3 + (cells + 99) // 100):
        count = min(100, cells - (row_no - 3) * 100)
        rows.append(
            b'<row r="%d">' % row_no
            + b"".join(b'<c r="%s%d" t="s"><v>0</v></c>' % (_letters(c + 1), row_no) for c in range(count))
            + b"</row>"
        )
    return workbook(b"".join(rows), sst=shared_strings((b"ab" * size)[:size]))


def unclosed_cells(count: int) -> bytes:
    """Bomb 4: `<c ` x `count`, never closed (quadratic for a `[^>]*>` pattern)."""
    return workbook(b"", whole_sheet=_HEAD + _DATA + b'<row r="3">' + b"<c " * count)


def empty_tags(count: int) -> bytes:
    """Bomb 5: a far empty cell, then `count` empty `<row s=..>`/`<c s=..>` tags without references."""
    pick = random.Random(3).choice
    filler = b"".join(pick((b'<row s="1"/>', b'<row s="2"/>', b'<c s="1"/>', b'<c s="2"/>')) for _ in range(count))
    return workbook(b'<row r="3"><c r="XFD3" s="1"/></row>' + filler)


def _letters(number: int) -> bytes:
    letters = b""
    while number > 0:
        number, rest = divmod(number - 1, 26)
        letters = bytes([65 + rest]) + letters
    return letters
