"""Bad files: each gets a whole-file ImportFileError with a clear code, or a correct read; never a traceback."""

from __future__ import annotations

import csv
import io
import re
import struct
import zipfile
import zlib
from typing import Any

import pytest

from services.ingest.application.parsing import ImportFileError, ImportOptions, parse_import
from services.ingest.domain.language import Lang, file_message, issue_message
from services.ingest.domain.spreadsheet import issues
from services.ingest.domain.spreadsheet.options import MB
from tests.unit.ingest.test_import_support import HEADER, csv_bytes, grid_of, row, xlsx_bytes

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504


def refused(data: bytes, filename: str, **kw: object) -> ImportFileError:
    with pytest.raises(ImportFileError) as caught:
        parse_import(data, filename, **kw)  # type: ignore[arg-type]
    assert caught.value.message and caught.value.code in str(caught.value)
    return caught.value


def valid_xlsx() -> bytes:
    return xlsx_bytes(grid_of([row()]))


def rewrite(data: bytes, name: str, change: object) -> bytes:
    """The workbook with one part replaced (`change` maps the old bytes to the new ones)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info)
            target.writestr(info.filename, change(content) if info.filename == name else content)  # type: ignore[operator]
    return buffer.getvalue()


SHEET = "xl/worksheets/sheet1.xml"


@pytest.mark.parametrize(
    ("data", "filename", "code"),
    [
        (b"", "orders.xlsx", issues.EMPTY_FILE),
        (b"  \r\n ", "orders.csv", issues.EMPTY_FILE),
        (PNG, "orders.png", issues.UNSUPPORTED_FORMAT),
        (PNG, "orders.csv", issues.UNSUPPORTED_FORMAT),
        (PNG, "orders.xlsx", issues.CORRUPT_WORKBOOK),
        (bytes(range(256)) * 4, "orders.bin", issues.UNSUPPORTED_FORMAT),
        (b"just some notes\n", "notes.txt", issues.UNSUPPORTED_FORMAT),
        (b"\xff\xfe\xfd\x80\x81", "orders.csv", issues.UNDECODABLE_TEXT),
        (OLE, "orders.xlsx", issues.ENCRYPTED_OR_LEGACY),
        (OLE, "orders.xls", issues.ENCRYPTED_OR_LEGACY),
        (b"Order No.,Quantity\n", "orders.xlsx", issues.MISSING_COLUMNS),  # a CSV named .xlsx: read as CSV
        (b"Quantity,Remark\n1,x\n", "orders.xlsx", issues.CORRUPT_WORKBOOK),  # no order header: no CSV either
    ],
)
def test_not_a_readable_spreadsheet(data: bytes, filename: str, code: str) -> None:
    assert refused(data, filename).code == code


def test_truncated_workbook_is_corrupt() -> None:
    data = valid_xlsx()
    for size in (len(data) // 2, len(data) - 30, 100):
        assert refused(data[:size], "orders.xlsx").code == issues.CORRUPT_WORKBOOK


def test_corrupt_part_inside_a_valid_zip_is_corrupt() -> None:
    data = rewrite(valid_xlsx(), SHEET, lambda xml: xml[: len(xml) // 2])
    assert refused(data, "orders.xlsx").code == issues.CORRUPT_WORKBOOK


def test_header_only_has_no_data_rows() -> None:
    assert refused(csv_bytes([]), "orders.csv").code == issues.NO_DATA_ROWS
    assert refused(xlsx_bytes([HEADER, [], [None, " "]]), "orders.xlsx").code == issues.NO_DATA_ROWS


def test_data_larger_than_max_bytes() -> None:
    error = refused(csv_bytes([row()] * 50), "orders.csv", options=ImportOptions(max_bytes=1000))
    assert error.code == issues.FILE_TOO_LARGE


@pytest.mark.parametrize(
    ("size", "limit", "zh", "en"),
    [
        (20 * MB + 1, 20 * MB, "文件大小为 20.01 MB；每次最多接受 20 MB。", "The file is 20.01 MB; at most 20 MB are"),
        (31 * MB + MB // 2, 20 * MB, "文件大小为 31.5 MB；每次最多接受 20 MB。", "The file is 31.5 MB; at most 20 MB"),
    ],
)
def test_a_file_past_the_size_limit_is_told_its_size_and_the_limit_in_mb(
    size: int, limit: int, zh: str, en: str
) -> None:
    error = refused(b"x" * size, "orders.csv", options=ImportOptions(max_bytes=limit))
    assert error.code == issues.FILE_TOO_LARGE and error.message.startswith(en), error.message
    assert file_message(error.code, error.message, Lang.ZH).startswith(zh + "请拆分文件后分别上传。")


def test_zip_bomb_by_compression_ratio() -> None:
    bomb = rewrite(valid_xlsx(), "xl/styles.xml", lambda _: b"<a>" + b" " * 30_000_000 + b"</a>")
    error = refused(bomb, "orders.xlsx")
    assert error.code == issues.ARCHIVE_TOO_LARGE and "compressed" in error.message


def test_zip_bomb_by_total_size() -> None:
    options = ImportOptions(max_uncompressed_bytes=2000)
    error = refused(valid_xlsx(), "orders.xlsx", options=options)
    assert error.code == issues.ARCHIVE_TOO_LARGE and "unpacks to" in error.message


def test_part_larger_than_it_declares_is_refused() -> None:
    data = bytearray(valid_xlsx())
    info = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo(SHEET)
    smaller = info.file_size // 2
    struct.pack_into("<I", data, info.header_offset + 22, smaller)  # local header
    directory = bytes(data).index(b"PK\x01\x02")
    while True:  # central directory entry of the sheet
        name_length = struct.unpack_from("<H", data, directory + 28)[0]
        if bytes(data[directory + 46 : directory + 46 + name_length]) == SHEET.encode():
            break
        directory = bytes(data).index(b"PK\x01\x02", directory + 4)
    struct.pack_into("<I", data, directory + 24, smaller)
    error = refused(bytes(data), "orders.xlsx")
    assert error.code == issues.ARCHIVE_TOO_LARGE and "more than the" in error.message


def test_encrypted_zip_member_is_refused() -> None:
    data = bytearray(valid_xlsx())
    directory = bytes(data).index(b"PK\x01\x02")
    struct.pack_into("<H", data, directory + 8, struct.unpack_from("<H", data, directory + 8)[0] | 1)
    assert refused(bytes(data), "orders.xlsx").code == issues.ENCRYPTED_OR_LEGACY


ENTITIES = b'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'


@pytest.mark.parametrize("part", [SHEET, "xl/workbook.xml", "[Content_Types].xml"])
def test_xml_with_a_dtd_is_refused_so_no_entity_is_ever_expanded(part: str) -> None:
    def add_dtd(xml: bytes) -> bytes:
        body = xml.split(b"?>", 1)[1] if xml.startswith(b"<?xml") else xml
        return ENTITIES + body.replace(b"P1</t>", b"&b;</t>", 1)

    assert refused(rewrite(valid_xlsx(), part, add_dtd), "orders.xlsx").code == issues.UNSAFE_XML


def test_utf16_xml_part_is_refused() -> None:
    data = rewrite(valid_xlsx(), SHEET, lambda xml: xml.decode().encode("utf-16"))
    assert refused(data, "orders.xlsx").code == issues.UNSAFE_XML


@pytest.mark.parametrize(
    ("far_cell", "code"),
    [
        ('r="XFD1048576"', issues.TOO_MANY_COLUMNS),
        ('r="A1048576"', issues.TOO_MANY_ROWS),
        ("r = 'CW2'", issues.TOO_MANY_COLUMNS),
        ('r="A99999999999999999999"', issues.TOO_MANY_ROWS),
    ],
)
def test_far_cell_references_are_refused_before_calamine_allocates(far_cell: str, code: str) -> None:
    # calamine would allocate the dense grid up to the farthest cell (and abort the process on XFD1048576).
    cell = f'<c {far_cell} t="inlineStr"><is><t>x</t></is></c>'.encode()
    data = rewrite(valid_xlsx(), SHEET, lambda xml: xml.replace(b"</row></sheetData>", cell + b"</row></sheetData>"))
    assert refused(data, "orders.xlsx").code == code


def test_far_row_element_is_refused() -> None:
    far_row = b'<row r="2000000"><c t="inlineStr"><is><t>x</t></is></c></row>'
    data = rewrite(valid_xlsx(), SHEET, lambda xml: xml.replace(b"</sheetData>", far_row + b"</sheetData>"))
    assert refused(data, "orders.xlsx").code == issues.TOO_MANY_ROWS


def test_wide_sheets_are_refused() -> None:
    header = [*HEADER, *(f"Extra {i}" for i in range(100))]
    assert refused(xlsx_bytes([header, [*grid_of([row()])[1]]]), "o.xlsx").code == issues.TOO_MANY_COLUMNS
    assert refused(csv_bytes([row()], header), "o.csv").code == issues.TOO_MANY_COLUMNS


def test_a_header_too_wide_names_its_sheet_and_its_columns_letters() -> None:
    header = [*HEADER, *(f"Extra {i}" for i in range(100))]  # 118 columns: A to DN
    error = refused(xlsx_bytes([header, [*grid_of([row()])[1]]], title="订单"), "o.xlsx")  # refused unread
    assert error.message == 'Sheet "订单" uses column DN (column 118); at most 100 columns (A to CV) are accepted.'
    assert file_message(error.code, error.message, Lang.ZH) == (
        "工作表“订单”用到 DN 列（第 118 列）；最多接受 100 列（A 到 CV 列）。"
    )
    error = refused(csv_bytes([row()], header), "o.csv")
    assert error.message == (
        "The header has 118 columns (A to DN); at most 100 columns (A to CV) are accepted. "
        "Delete the columns you do not need."
    )
    assert file_message(error.code, error.message, Lang.ZH) == (
        "表头有 118 列（A 到 DN 列）；最多接受 100 列（A 到 CV 列）。请删除不需要的列。"
    )


def test_long_sheets_are_refused_with_the_count() -> None:
    rows = [row(ProductID=f"P{i}") for i in range(30)]
    error = refused(xlsx_bytes(grid_of(rows)), "o.xlsx", options=ImportOptions(max_rows=10))
    assert error.code == issues.TOO_MANY_ROWS and "30 data rows" in error.message


def test_a_sheet_reaching_far_below_the_limit_is_refused_unread() -> None:
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(valid_xlsx()))
    book.active.cell(row=20_000, column=1, value="stray")
    buffer = io.BytesIO()
    book.save(buffer)
    error = refused(buffer.getvalue(), "o.xlsx", options=ImportOptions(max_rows=10))
    assert error.code == issues.TOO_MANY_ROWS and "reaches row 20,000" in error.message
    assert parse_import(buffer.getvalue(), "o.xlsx", options=ImportOptions(max_rows=10_000)).counts.rows == 2


def test_first_non_empty_sheet_or_the_named_one() -> None:
    book = xlsx_bytes(grid_of([row()]), title="Data", extra_sheets=["Notes"])
    assert parse_import(book, "o.xlsx").sheet == "Data"
    assert refused(book, "o.xlsx", sheet="Notes").code == issues.NO_DATA_ROWS
    error = refused(book, "o.xlsx", sheet="Orders")
    assert error.code == issues.SHEET_NOT_FOUND and '"Data"' in error.message and '"Notes"' in error.message


def cover_then_orders(cover: str, cover_rows: list[list[str]], orders: str) -> bytes:
    """A workbook of two sheets: `cover` holding `cover_rows`, then `orders` holding one valid order."""
    from openpyxl import Workbook

    book = Workbook()
    book.active.title = cover
    for values in cover_rows:
        book.active.append(values)
    data_sheet = book.create_sheet(orders)
    for values in grid_of([row()]):
        data_sheet.append(values)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_empty_first_sheet_is_skipped() -> None:
    parsed = parse_import(cover_then_orders("Cover", [], "Orders"), "o.xlsx")
    assert parsed.sheet == "Orders" and parsed.counts.orders == 1


def test_workbook_without_data_is_refused() -> None:
    assert refused(xlsx_bytes([]), "o.xlsx").code == issues.EMPTY_WORKBOOK


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "utf-16"])
def test_csv_encodings(encoding: str) -> None:
    data = csv_bytes([row(OrderSource="有赞", BuyerNickname="小明")], encoding=encoding)
    parsed = parse_import(data, "orders.csv")
    assert parsed.errors == [] and parsed.orders[0].buyer.nickname == "小明"


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_csv_delimiters(delimiter: str) -> None:
    text = csv_bytes([row(UnitPrice="¥1,299.00", LineAmount="2598")]).decode()
    rows = list(csv.reader(io.StringIO(text)))
    other = io.StringIO()
    csv.writer(other, delimiter=delimiter).writerows(rows)
    parsed = parse_import(other.getvalue().encode(), "orders.csv")
    assert parsed.errors == [] and parsed.orders[0].lines[0].unit_price == 1299


def test_xlsx_named_csv_is_read_by_content() -> None:
    assert parse_import(valid_xlsx(), "orders.csv").counts.orders == 1


@pytest.mark.parametrize(("part", "kind"), [("xl/workbook.bin", ".xlsb"), ("content.xml", ".ods"), ("a.txt", "zip")])
def test_other_zip_formats_are_unsupported(part: str, kind: str) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(part, b"x")
    error = refused(buffer.getvalue(), "orders.xlsx")
    assert error.code == issues.UNSUPPORTED_FORMAT and kind in error.message


def test_huge_csv_field_is_refused_not_a_traceback() -> None:
    data = csv_bytes([row(Remark='"' + "x" * 200_000)])
    error = refused(data, "orders.csv")
    assert error.code == issues.UNSUPPORTED_FORMAT and "a cell longer than 131,072 characters" in error.message


def test_deflate_garbage_is_corrupt() -> None:
    data = bytearray(valid_xlsx())
    info = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo(SHEET)
    start = info.header_offset + 30 + len(SHEET) + struct.unpack_from("<H", data, info.header_offset + 28)[0]
    data[start : start + 16] = zlib.compress(b"x")[:16].ljust(16, b"\xff")
    assert refused(bytes(data), "orders.xlsx").code == issues.CORRUPT_WORKBOOK


def _without_references(xml: bytes) -> bytes:
    return re.sub(rb'<(row|c) r="[^"]*"', rb"<\1", xml)


def test_a_sheet_whose_cells_carry_no_reference_is_read_by_position() -> None:
    data = rewrite(xlsx_bytes(grid_of([row(), row(ProductID="P2")])), SHEET, _without_references)
    parsed = parse_import(data, "orders.xlsx")
    assert parsed.errors == [] and parsed.counts.rows == 2


def test_cells_and_rows_without_references_count_towards_the_bounds() -> None:
    wide = b"<row>" + b"<c><v>1</v></c>" * 101 + b"</row>"
    data = rewrite(valid_xlsx(), SHEET, lambda xml: xml.replace(b"</sheetData>", wide + b"</sheetData>"))
    assert refused(data, "orders.xlsx").code == issues.TOO_MANY_COLUMNS
    prefixed = b"<x:row>" + b"<x:c><x:v>1</x:v></x:c>" * 101 + b"</x:row>"
    data = rewrite(valid_xlsx(), SHEET, lambda xml: xml.replace(b"</sheetData>", prefixed + b"</sheetData>"))
    assert refused(data, "orders.xlsx").code == issues.TOO_MANY_COLUMNS
    long = b"<row><c><v>1</v></c></row>" * 1_200
    data = rewrite(valid_xlsx(), SHEET, lambda xml: xml.replace(b"</sheetData>", long + b"</sheetData>"))
    assert refused(data, "orders.xlsx", options=ImportOptions(max_rows=100)).code == issues.TOO_MANY_ROWS


def test_an_unclosed_quote_in_a_csv_names_its_row_instead_of_swallowing_the_rows_below() -> None:
    rows = [row(ProductID=f"P{i}") for i in range(4)]
    lines = csv_bytes(rows).decode().splitlines()
    lines[2] += ',"note'  # row 3 opens a quote in an extra column and never closes it
    error = refused("\n".join(lines).encode(), "orders.csv")
    assert error.code == issues.UNSUPPORTED_FORMAT and error.message.startswith("Row 3: a quote")


def test_text_after_a_closing_quote_names_its_row() -> None:
    lines = csv_bytes([row(), row(ProductID="P2")]).decode().splitlines()
    lines[2] += ',"a"b'
    assert refused("\n".join(lines).encode(), "orders.csv").message.startswith("Row 3: a quoted cell goes on")


def test_quotes_inside_cells_that_are_escaped_or_unquoted_are_read() -> None:
    data = csv_bytes([row(Remark='5" screen'), row(ProductID="P2", Remark='say "hi"\nbye')])
    assert parse_import(data, "orders.csv").errors == []


def test_naming_a_sheet_of_a_csv_file_is_an_error() -> None:
    error = refused(csv_bytes([row()]), "orders.csv", sheet="Orders")
    assert error.code == issues.SHEET_NOT_FOUND and "CSV file has no sheets" in error.message
    assert parse_import(csv_bytes([row()]), "orders.csv", sheet="").counts.orders == 1


def _book_with_a_hidden_first_sheet(state: str) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    book.active.title = "backup"
    book.active.append(list(HEADER))
    book.active.append([*grid_of([row(OrderNo="STALE-1")])[1]])
    book.active.sheet_state = state
    visible = book.create_sheet("Orders")
    for values in grid_of([row(OrderNo="VISIBLE-1")]):
        visible.append(values)
    book.active = 1
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("state", ["hidden", "veryHidden"])
def test_hidden_sheets_are_skipped_unless_named(state: str) -> None:
    data = _book_with_a_hidden_first_sheet(state)
    parsed = parse_import(data, "o.xlsx")
    assert parsed.sheet == "Orders" and [o.order_no for o in parsed.orders] == ["VISIBLE-1"]
    [skipped] = [w for w in parsed.warnings if w.code == issues.HIDDEN_SHEET_SKIPPED]
    assert skipped.row is None and skipped.value == "backup" and '"backup" is hidden' in skipped.message
    named = parse_import(data, "o.xlsx", sheet="backup")
    assert [o.order_no for o in named.orders] == ["STALE-1"]
    assert issues.HIDDEN_SHEET_SKIPPED not in [w.code for w in named.warnings]


def test_a_utf8_bom_before_a_gb18030_body_is_not_read_as_text() -> None:
    data = b"\xef\xbb\xbf" + csv_bytes([row(BuyerNickname="小明")], encoding="gb18030")
    parsed = parse_import(data, "orders.csv")
    assert parsed.errors == [] and parsed.orders[0].buyer.nickname == "小明"


def test_an_error_cell_is_reported_as_such_not_as_blank() -> None:
    def with_error(xml: bytes) -> bytes:  # the Quantity cell of row 2 becomes the error #N/A (t="e")
        return re.sub(rb'<c r="(' + quantity + rb'2)"[^>]*>.*?</c>', rb'<c r="\1" t="e"><v>#N/A</v></c>', xml)

    quantity = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[HEADER.index("Quantity*")].encode()
    parsed = parse_import(rewrite(valid_xlsx(), SHEET, with_error), "orders.xlsx")
    (error,) = parsed.errors
    assert (error.row, error.code, error.value) == (2, issues.ERROR_CELL, "#N/A"), error
    assert "error value of the spreadsheet" in error.message and "blank" not in error.message


def test_a_title_line_above_the_header_does_not_decide_the_delimiter() -> None:
    data = b"Shop A; 2026\n" + csv_bytes([row()])
    parsed = parse_import(data, "orders.csv")
    assert parsed.errors == [] and parsed.counts.orders == 1


def test_a_workbook_whose_only_data_is_hidden_says_so() -> None:
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(_book_with_a_hidden_first_sheet("hidden")))
    book["Orders"].sheet_state = "hidden"
    book.create_sheet("Cover")
    book.active = 2
    buffer = io.BytesIO()
    book.save(buffer)
    error = refused(buffer.getvalue(), "o.xlsx")
    assert error.code == issues.EMPTY_WORKBOOK and '"backup", "Orders"' in error.message, error.message


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_byte_order_mark_is_read_not_refused_as_binary(encoding: str) -> None:
    # Refused as "binary, not CSV text" (its ASCII's high bytes are NULs) though it is plain UTF-16 text
    text = csv_bytes([row(ProductID="P1", ProductName="茶叶"), row(ProductID="P2")]).decode("utf-8-sig")
    parsed = parse_import(text.encode(encoding), "orders.csv")
    assert parsed.errors == [] and [line.product_name for line in parsed.orders[0].lines] == ["茶叶", "Tea"]


def test_a_nul_byte_in_utf8_text_is_an_error_of_its_row_and_column_as_in_utf16_or_xlsx() -> None:
    # The whole file was refused as binary (in Chinese: "pair your quotes"), though docs/import-template.md says
    # a cell holding NUL makes its row an error, as it did in a UTF-16 CSV
    lines = csv_bytes([row(), row(ProductID="P2")]).decode().splitlines()
    lines[2] = lines[2].replace("P2", "P\x002")
    parsed = parse_import("\n".join(lines).encode(), "orders.csv")
    assert [(e.row, e.column, e.code) for e in parsed.errors] == [(3, "Product ID", issues.INVALID_CHARACTER)]
    assert parsed.counts.held_back == 1  # its order, both rows, waits for the fix


def test_an_unclosed_quote_names_its_row_in_chinese_too() -> None:
    lines = csv_bytes([row(), row(ProductID="P2")]).decode().splitlines()
    lines[2] += ',"note'
    error = refused("\n".join(lines).encode(), "orders.csv")
    assert file_message(error.code, error.message, Lang.ZH).startswith("第 3 行：引号")
    lines[2] = lines[2].replace(',"note', ',"a"b')
    error = refused("\n".join(lines).encode(), "orders.csv")
    assert file_message(error.code, error.message, Lang.ZH).startswith("第 3 行：带引号的单元格在闭合引号之后")
    assert "（.xlsb）" in file_message(
        error.code, "The file is an Excel binary workbook (.xlsb); save it as .xlsx or CSV.", Lang.ZH
    )


def test_a_csv_row_with_more_cells_than_its_header_is_an_error_not_silently_cut() -> None:
    # An unquoted comma in the remark (the last column): "gift, wrap" was stored as "gift", "wrap" dropped
    lines = csv_bytes([row(OrderNo="A1"), row(OrderNo="A2"), row(OrderNo="A3")]).decode().splitlines()
    lines[2] += "gift, wrap"  # row 3's remark, unquoted
    lines[3] += ",,"  # trailing empty cells (some exports write them) are no problem
    parsed = parse_import("\n".join(lines).encode(), "orders.csv")
    [error] = parsed.errors
    assert (error.row, error.code, error.value) == (3, issues.TOO_MANY_CELLS, " wrap")
    assert "has 19 cells, more than its header" in error.message and "in quotes" in error.message
    assert sorted(o.order_no for o in parsed.orders) == ["A1", "A3"] and parsed.counts.held_back == 1
    zh = issue_message(error.code, error.row, error.column, error.value, error.message, Lang.ZH)
    assert zh.startswith("第 3 行：有 19 个单元格，比表头多：“ wrap”在最后一列之后"), zh


def test_cells_under_blank_header_cells_are_the_headers_columns_ignored_as_before() -> None:
    lines = csv_bytes([row(OrderNo="A1"), row(OrderNo="A2")]).decode().splitlines()
    lines[0] += ",,"  # two unnamed columns, holding notes
    lines[1] += ",note,more"
    lines[2] += ",note"
    parsed = parse_import("\n".join(lines).encode(), "orders.csv")
    assert parsed.errors == [] and len(parsed.orders) == 2


FORMATTING_ONLY = (
    b'<c r="Z1048576" s="0"/>',  # a style applied down to the sheet's last row (WPS, Excel)
    b'<c r="XFD2" s="0"></c>',
    b'<c r = "AB3"\ts="0" />',
)
FORMATTING_ROWS = b'<row r="20000" s="0" customFormat="1"/><row r="1048576" ht="15" customHeight="1"></row>'


def formatting_only(xml: bytes, extra: bytes = b"") -> bytes:
    """The sheet as a merchant's export writes it: a dimension, empty styled cells and rows far below the data."""
    xml = re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:XFD1048576"', xml)
    far = b"".join(FORMATTING_ONLY) + b"</row>" + FORMATTING_ROWS + extra
    return xml.replace(b"</row></sheetData>", far + b"</sheetData>")


@pytest.mark.parametrize("references", [True, False], ids=["referenced", "walked"])
def test_far_cells_carrying_formatting_only_are_harmless_and_the_file_is_read(references: bool) -> None:
    change = formatting_only if references else lambda xml: formatting_only(xml, b"<row><c/></row>")
    parsed = parse_import(rewrite(valid_xlsx(), SHEET, change), "orders.xlsx")
    assert parsed.errors == [] and parsed.counts.rows == 1


@pytest.mark.parametrize(
    ("far_data", "code"),
    [
        (b'<row r="1048576"><c r="A1048576"><v>1</v></c></row>', issues.TOO_MANY_ROWS),
        # an empty inline string is a cell to calamine (its grid reaches XFD7 and the process aborts)
        (b'<row r="7"><c r="XFD7" t="inlineStr"><is><t></t></is></c></row>', issues.TOO_MANY_COLUMNS),
        (b'<row r="8"><c r="XFD8" s="0"/><c><v>1</v></c></row>', issues.TOO_MANY_COLUMNS),  # implied: XFE8
        (b'<row r="1048576" s="0"/><row><c><v>1</v></c></row>', issues.TOO_MANY_ROWS),  # implied: row 1048577
        (b'<row r="9"><c r="XFD9" x="/>"><v>1</v></c></row>', issues.TOO_MANY_COLUMNS),  # not self-closing
        # a tag another reader may read otherwise: the whole extent counts, the formatting's column XFD too
        (b'<row r="9" r="1048576"><c><v>1</v></c></row>', issues.TOO_MANY_COLUMNS),
        (b'<row r="10"><c r="A10" r="XFD10"/><c><v>1</v></c></row>', issues.TOO_MANY_COLUMNS),
        (b'<row r="11"><\xc3\xa9:c r="XFD11"/><c><v>1</v></c></row>', issues.TOO_MANY_COLUMNS),
        (b'<row r="12"><c r="XFD12"><!-- --></c></row>', issues.TOO_MANY_COLUMNS),
        (b'<row r="13"><c r="XFD13">1</c></row>', issues.TOO_MANY_COLUMNS),
        (b'<row r="14"><c r="XFD14"><f>1+1</f></c></row>', issues.TOO_MANY_COLUMNS),
    ],
)
def test_far_cells_holding_data_are_refused_among_formatting_only_ones(far_data: bytes, code: str) -> None:
    data = rewrite(valid_xlsx(), SHEET, lambda xml: formatting_only(xml, far_data))
    assert refused(data, "orders.xlsx").code == code


@pytest.mark.parametrize("shown", ["#N/A", "#VALUE!", "#REF!", "#DIV/0!", "#NAME?", "#NUM!", "#NULL!", " #N/A "])
def test_an_error_value_exported_as_text_is_reported_as_such(shown: str) -> None:
    # a CSV (or a pasted text cell) keeps what the error cell showed: the text of the error value
    parsed = parse_import(csv_bytes([row(Quantity=shown, ProductName=shown)]), "orders.csv")
    found = {(e.column, e.code, e.value) for e in parsed.errors}
    assert found == {("Quantity", issues.ERROR_CELL, shown), ("Product Name", issues.ERROR_CELL, shown)}
    (error,) = (e for e in parsed.errors if e.column == "Product Name")
    zh = issue_message(error.code, error.row, error.column, error.value, error.message, Lang.ZH)
    assert zh.startswith(f"第 2 行，“Product Name”列：“{shown}”是表格的错误值"), zh


@pytest.mark.parametrize("filename", ["orders.xlsx", "orders.xls", "orders.xlsm"])
@pytest.mark.parametrize("encoding", ["utf-8-sig", "gb18030", "utf-16"])
def test_a_csv_saved_with_an_excel_name_is_read_by_its_content(filename: str, encoding: str) -> None:
    parsed = parse_import(csv_bytes([row(), row(ProductID="P2")], encoding=encoding), filename)
    assert parsed.errors == [] and parsed.counts.rows == 2 and parsed.sheet is None


@pytest.mark.parametrize(
    ("content", "kind", "zh"),
    [
        (
            b'\xef\xbb\xbf\r\n<html xmlns:o="urn:schemas-microsoft-com:office:office"><head><meta charset="utf-8">'
            b"</head><body><table><tr><td>Order No.</td></tr></table></body></html>",
            "a web page (HTML) with an Excel file name",
            "网页（HTML）",
        ),
        (
            b"<!DOCTYPE html>\n<table><tr><th>\xe8\xae\xa2\xe5\x8d\x95\xe7\xbc\x96\xe5\x8f\xb7</th></tr></table>",
            "a web page (HTML) with an Excel file name",
            "网页（HTML）",
        ),
        (
            b'<?xml version="1.0"?>\n<?mso-application progid="Excel.Sheet"?>\n'
            b'<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet"><Worksheet ss:Name="Orders"/></Workbook>',
            "an XML Spreadsheet 2003 with an Excel file name",
            "XML 电子表格 2003",
        ),
    ],
)
def test_a_web_page_or_xml_spreadsheet_saved_as_xls_is_told_to_be_saved_as_xlsx_or_csv(
    content: bytes, kind: str, zh: str
) -> None:
    error = refused(content, "orders.xls")
    assert error.code == issues.UNSUPPORTED_FORMAT and error.message == f"The file is {kind}; save it as .xlsx or CSV."
    chinese = file_message(error.code, error.message, Lang.ZH)
    assert chinese.startswith(f"文件是{zh}") and ".xlsx 或 CSV" in chinese, chinese


def test_an_excel_unicode_text_export_is_read() -> None:
    # Excel's "Unicode text (*.txt)": UTF-16 LE with a byte-order mark, tab-separated, CRLF line ends
    lines = ["\t".join(HEADER), *("\t".join(r[name] for name in HEADER) for r in (row(), row(ProductID="P2")))]
    data = ("\r\n".join(lines) + "\r\n").encode("utf-16")
    parsed = parse_import(data, "订单导出.txt")
    assert parsed.errors == [] and parsed.counts.rows == 2
    assert refused(b"just some notes\n", "notes.txt").code == issues.UNSUPPORTED_FORMAT


def _chart_book(*, empty_sheet: bool) -> bytes:
    from openpyxl import Workbook
    from openpyxl.chart import BarChart

    book = Workbook()
    book.active.title = "Sheet1"
    book.create_chartsheet("图表1").add_chart(BarChart())
    if not empty_sheet:
        book.remove(book["Sheet1"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "sheet", "code", "en", "zh"),
    [
        (
            lambda: _chart_book(empty_sheet=True),
            None,
            issues.EMPTY_WORKBOOK,
            'The workbook has no sheet with rows: "Sheet1" is empty, "图表1" is a chart sheet.',
            "工作簿中没有含数据行的工作表：“Sheet1”是空的，“图表1”是图表工作表。",
        ),
        (
            lambda: _chart_book(empty_sheet=False),
            None,
            issues.EMPTY_WORKBOOK,
            'The workbook has no sheet with rows: "图表1" is a chart sheet.',
            "工作簿中没有含数据行的工作表：“图表1”是图表工作表。",
        ),
        (
            lambda: _chart_book(empty_sheet=True),
            "图表1",
            issues.NO_DATA_ROWS,
            'Sheet "图表1" is a chart sheet: it has no rows. Name the sheet that holds the orders, or leave the sheet '
            "field empty.",
            "工作表“图表1”是图表工作表，没有任何行：请指定存放订单的工作表，或把工作表一栏留空。",
        ),
        (
            lambda: _chart_book(empty_sheet=True),
            "Sheet1",
            issues.NO_DATA_ROWS,
            'Sheet "Sheet1" is empty: it has no rows. Name the sheet that holds the orders, or leave the sheet field '
            "empty.",
            "工作表“Sheet1”是空的，没有任何行：请指定存放订单的工作表，或把工作表一栏留空。",
        ),
    ],
)
def test_a_chart_or_empty_sheet_is_named_with_what_it_is(
    data: Any, sheet: str | None, code: str, en: str, zh: str
) -> None:
    error = refused(data(), "orders.xlsx", sheet=sheet)
    assert (error.code, error.message) == (code, en)
    assert file_message(error.code, error.message, Lang.ZH) == zh


def test_the_sheet_whose_header_names_the_order_no_is_read_before_a_cover_sheet() -> None:
    # an export with a summary sheet first (export time, counts): its "header" was taken for the orders' one
    parsed = parse_import(cover_then_orders("汇总", [["导出时间", "2026-12-01"]], "订单"), "orders.xlsx")
    assert parsed.sheet == "订单" and parsed.errors == [] and parsed.counts.rows == 1
    cover_only = xlsx_bytes([["导出时间", "2026-12-01"]], title="汇总")  # no sheet names it: the first is read
    assert refused(cover_only, "orders.xlsx").code == issues.MISSING_COLUMNS
