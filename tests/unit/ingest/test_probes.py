"""Pure probes after issue 10 (see /work/helpers/probes-report.md): xfail(strict) until fixed."""

from __future__ import annotations

import io
import json
import resource
import subprocess
import sys
import textwrap
import uuid
import zipfile

import pytest
from openpyxl import Workbook

from services.ingest.application.ingestion import Received, decode
from tools.samples import SAMPLE_HEADER


def _wide_sheet_without_references() -> bytes:
    """A 50 KB workbook: the header, one row of 16,000 cells that carry no `r` attribute, then 6,000 short rows."""
    book = Workbook()
    book.active.append(list(SAMPLE_HEADER))
    plain = io.BytesIO()
    book.save(plain)
    cells = b'<c t="inlineStr"><is><t>z</t></is></c>' * 16_000
    rows = b"".join(b'<row r="%d"><c r="A%d"><v>1</v></c></row>' % (n, n) for n in range(3, 6000))
    source, out = zipfile.ZipFile(io.BytesIO(plain.getvalue())), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                content = content.replace(b"</sheetData>", b"<row>" + cells + b"</row>" + rows + b"</sheetData>")
            target.writestr(info.filename, content)
    return out.getvalue()


PARSE = textwrap.dedent("""
    import sys
    from services.ingest.application.parsing import ImportFileError, parse_import
    try:
        parse_import(sys.stdin.buffer.read(), "wide.xlsx")
    except ImportFileError as exc:
        print(exc.code)
""")


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (1536 * 1024 * 1024, 1536 * 1024 * 1024))


def test_probe_cells_without_references_are_bounded() -> None:
    data = _wide_sheet_without_references()
    assert len(data) < 100_000
    done = subprocess.run(
        [sys.executable, "-c", PARSE], input=data, capture_output=True, timeout=25, preexec_fn=_limit_memory
    )
    assert done.returncode == 0, f"the parser died (rc {done.returncode}): {done.stderr.decode()[-300:]}"
    assert done.stdout.decode().strip() == "too_many_columns", done.stdout.decode()


def _record(key: str | None, order_no: str, mobile: str = "13900000001") -> tuple[bytes | None, bytes]:
    tenant = uuid.UUID(int=7)
    value = {
        "tenant_id": str(tenant),
        "order_no": order_no,
        "source": "youzan",
        "status": "paid",
        "status_raw": "paid",
        "order_time": "2026-03-01T09:00:00+08:00",
        "store": {"store_no": "S1"},
        "buyer": {"mobile": mobile},
        "lines": [{"product_id": "P1", "quantity": 1, "unit_price": "1.00"}],
    }
    return (None if key is None else f"{tenant}:{key}".encode()), json.dumps(value).encode()


def test_probe_key_of_an_order_no_with_surrounding_space_is_accepted() -> None:
    key, value = _record("A1 ", "A1 ")  # the producer keyed the order by the order no. it sent
    accepted, rejected = decode([Received(0, "orders.ingest.v1", 0, 0, key, value)])
    assert not rejected, rejected
    assert [i.order.order_no for i in accepted] == ["A1"]


def test_probe_contract_refuses_a_mobile_of_non_ascii_digits() -> None:
    arabic = "1" + "".join(chr(0x0660 + int(d)) for d in "3900000001")
    _, value = _record(None, "A2", mobile=arabic)
    accepted, rejected = decode([Received(0, "orders.ingest.v1", 0, 0, None, value)])
    assert [r.reason for r in rejected] == ["contract_violation"], [i.order.buyer.mobile for i in accepted]


def test_probe_contract_refuses_a_boolean_quantity() -> None:
    _, value = _record(None, "A3")
    value = value.replace(b'"quantity": 1', b'"quantity": true')
    accepted, rejected = decode([Received(0, "orders.ingest.v1", 0, 0, None, value)])
    assert [r.reason for r in rejected] == ["contract_violation"], [i.order.lines for i in accepted]


def test_probe_deeply_nested_json_is_a_dead_letter_not_an_exception() -> None:
    nested = b'{"order_no": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    accepted, rejected = decode([Received(0, "orders.ingest.v1", 0, 0, None, nested)])
    assert not accepted
    assert [r.reason for r in rejected] in (["invalid_json"], ["contract_violation"])


@pytest.mark.parametrize("order_no", [".", ".."])
def test_an_order_no_no_url_can_name_is_refused_in_messages_and_files(order_no: str) -> None:
    from pydantic import ValidationError

    from services.ingest.application.parsing import parse_import
    from tests.support.orders import message

    with pytest.raises(ValidationError, match="no web address can name"):
        message(uuid.uuid4(), order_no)
    header = "Order No.,Order Source,Order Status,Order Time,Store No.,Buyer Mobile,Product ID,Quantity,Unit Price"
    rows = [header, f"{order_no},Youzan,Paid,2026-11-01 10:00:00,S1,13912345678,P1,1,10.00"]
    parsed = parse_import(("\n".join(rows) + "\n").encode(), "dots.csv", timezone="Asia/Shanghai")
    assert [(e.row, e.code) for e in parsed.errors] == [(2, "dot_segment")]
    assert parsed.orders == []
