"""The .xlsx checks (`xlsx_archive.inspect_xlsx`) against the files of a security review: each is refused (or
passed) fast, in time linear in the part, and refused where calamine would read more than the bounds allow.
Times are asserted only as generous bounds: before the fixes these took from seconds to hours."""

from __future__ import annotations

import io
import time
import zipfile

import pytest

from services.ingest.adapters.xlsx_archive import inspect_xlsx
from services.ingest.domain.spreadsheet import issues
from services.ingest.domain.spreadsheet.issues import ImportFileError
from services.ingest.domain.spreadsheet.options import DEFAULT_OPTIONS
from tests.support.hostile_xlsx import empty_tags, unclosed_cells, workbook

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
