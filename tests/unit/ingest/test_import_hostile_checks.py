"""The .xlsx checks (`xlsx_archive.inspect_xlsx`) against the files of a security review: each is refused (or
passed) fast, in time linear in the part, and refused where calamine would read more than the bounds allow.
Times are asserted only as generous bounds: before the fixes these took from seconds to hours."""

from __future__ import annotations

import io
import random
import time
import zipfile

import pytest
from python_calamine import CalamineWorkbook

from services.ingest.adapters.xlsx_archive import _far_references, _walk_data, _walk_positions, inspect_xlsx
from services.ingest.domain.language import Lang, file_message
from services.ingest.domain.spreadsheet import issues
from services.ingest.domain.spreadsheet.issues import ImportFileError
from services.ingest.domain.spreadsheet.options import DEFAULT_OPTIONS
from tests.support.hostile_xlsx import (
    empty_tags,
    end_tag_rows,
    prefixed_cells,
    shared_string_copies,
    sheet_xml,
    unclosed_cells,
    workbook,
)

GENEROUS_SECONDS = 5.0


def refusal(data: bytes) -> ImportFileError:
    started = time.monotonic()
    with pytest.raises(ImportFileError) as refused:
        inspect_xlsx(data, DEFAULT_OPTIONS)
    assert time.monotonic() - started < GENEROUS_SECONDS
    return refused.value


def test_a_part_of_unclosed_tags_is_refused_at_the_first_one_fast() -> None:
    refused = refusal(unclosed_cells(100_000))  # 300 KB of `<c `: minutes of a quadratic regex before
    assert refused.code == issues.UNSAFE_XML
    assert 'Sheet "Orders" has a tag longer than 4,096 bytes' in refused.message


def test_an_unclosed_sheet_tag_of_the_workbook_is_refused_fast() -> None:
    with zipfile.ZipFile(io.BytesIO(workbook(b""))) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    members["xl/workbook.xml"] = members["xl/workbook.xml"].replace(b"</sheets>", b"<sheet " * 100_000)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    refused = refusal(buffer.getvalue())
    assert refused.code == issues.UNSAFE_XML and "Part xl/workbook.xml has a tag longer" in refused.message


def test_many_error_type_attributes_in_one_tag_are_read_fast() -> None:
    data = workbook(b'<row r="3"><c r="A3" ' + b' t="e"' * 150_000 + b"/></row>")  # 110 s before
    started = time.monotonic()
    inspect_xlsx(data, DEFAULT_OPTIONS)
    assert time.monotonic() - started < GENEROUS_SECONDS


def test_a_walk_through_a_million_empty_tags_stops_at_its_budget() -> None:
    refused = refusal(empty_tags(1_100_000))  # a far empty cell, then formatting only: 2-5 s of walk before
    assert refused.code == issues.TOO_MANY_COLUMNS and "column XFD" in refused.message


def test_end_tags_named_row_count_as_rows_as_calamine_counts_them() -> None:
    refused = refusal(end_tag_rows(20_000))  # `<a></row>` x 20,000: calamine's grid 20,003 x 100 (1.7 GB at 100,000)
    assert refused.code == issues.TOO_MANY_ROWS and 'Sheet "Orders" reaches row 20,003' in refused.message


@pytest.mark.parametrize("prefix", [b"1", b"", "é".encode(), b"a/", b"x", b"a<"])
def test_a_cell_with_any_prefix_counts_as_a_cell(prefix: bytes) -> None:
    refused = refusal(prefixed_cells(16_384, prefix))  # calamine: a 11,000 x 16,384 grid, 5.7 GB, an abort
    assert refused.code == issues.TOO_MANY_COLUMNS and "uses column CW (column 101)" in refused.message


_TOKENS = (
    b"<row>",
    b'<row r="%d">',
    b'<row r="%d"/>',
    b"<row/>",
    b"<x:row>",
    b"<b:row/>",
    b"</row>",
    b"</x:row>",
    b"<a></row>",
    b"<c><v>1</v></c>",
    b'<c r="%s%d"><v>1</v></c>',
    b'<c r="%s%d"/>',
    b"<x:c><v>1</v></x:c>",
    b"<1:c><v>1</v></1:c>",
    b"<:c><v>1</v></:c>",
    b"<c/>",
    b'<c s="1"/>',
    b"<c></c>",
)


def test_the_walks_never_place_a_cell_before_where_calamine_places_it() -> None:
    """Random sheets of rows and cells with and without references, prefixes and stray end tags: the farthest
    cell holding a value as calamine reads it is never past what the walks find."""
    pick = random.Random(5)
    compared = 0
    for _ in range(400):
        tokens = []
        for token in (pick.choice(_TOKENS) for _ in range(pick.randint(1, 25))):
            if token.count(b"%") == 2:
                token = token % (pick.choice(b"ABCE").to_bytes(1, "big"), pick.randint(1, 9))
            elif b"%" in token:
                token = token % pick.randint(1, 9)
            tokens.append(token)
        sheet = b"".join(tokens)
        try:
            end = CalamineWorkbook.from_filelike(io.BytesIO(workbook(b"", whole_sheet=sheet_xml(sheet))))
            last = end.get_sheet_by_name("Orders").end
        except Exception:
            continue
        if last is None:
            continue
        compared += 1
        column, row = last[1] + 1, last[0] + 1
        walked = _walk_positions("Orders", sheet, DEFAULT_OPTIONS)
        data = _walk_data("Orders", sheet, DEFAULT_OPTIONS, (10**6, 10**6))
        far = _far_references(sheet, DEFAULT_OPTIONS)
        assert max(walked[0], far[0]) >= column and max(walked[1], far[1]) >= row, sheet
        assert data[0] >= column and data[1] >= row, sheet
    assert compared > 200


def test_a_long_shared_text_copied_into_many_cells_is_refused() -> None:
    refused = refusal(shared_string_copies(200_000, 2_000))  # 6.5 KB: 800 MB and 8.8 s in calamine before
    assert refused.code == issues.WORKBOOK_TOO_COMPLEX
    assert 'sheet "Orders" repeats its shared texts into 400,044,' in refused.message
    assert "more than 67,108,864" in refused.message
    zh = file_message(refused.code, refused.message, Lang.ZH)
    assert "工作表“Orders”的共享文本复制到各单元格后共 400,044," in zh and "另存为 .xlsx 或导出为 CSV" in zh


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b"<v>0</v>", b"<v>&#48;</v>"),  # calamine unescapes the index
        (b"<v>0</v>", b"<x:v>0</x:v>"),
        (b"<v>0</v>", b"<v><![CDATA[0]]></v>"),
        (b"<v>0</v>", b"<v>" + b"0" * 40 + b"</v>"),
    ],
    ids=["entity", "prefixed", "cdata", "leading-zeros"],
)
def test_a_shared_text_reference_written_otherwise_still_counts(old: bytes, new: bytes) -> None:
    with zipfile.ZipFile(io.BytesIO(shared_string_copies(200_000, 2_000))) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    members["xl/worksheets/sheet1.xml"] = members["xl/worksheets/sheet1.xml"].replace(old, new)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    assert refusal(buffer.getvalue()).code == issues.WORKBOOK_TOO_COMPLEX


def test_shared_texts_of_a_full_sheet_pass() -> None:
    inspect_xlsx(shared_string_copies(500, 100_000), DEFAULT_OPTIONS)  # 5,000 rows x 20 cells of 500 bytes: 50 MB


def test_a_million_end_tags_named_row_are_refused_fast() -> None:
    refused = refusal(end_tag_rows(1_000_000))  # 9 MB of `<a></row>`: 1.9 s of walk before it stopped at the bound
    assert refused.code == issues.TOO_MANY_ROWS
