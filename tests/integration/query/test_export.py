"""GET /v1/orders/export: the filtered list in the template's columns, CSV and .xlsx, that imports back unchanged."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from openpyxl import load_workbook

from services.ingest.domain.export import HEADER
from services.ingest.main import create_app
from services.ingest.settings import IngestSettings
from services.platform.settings import ConnectionSettings
from tests.integration.query.conftest import Catalogue, ClientFor, all_pages, ingest, new_tenant
from tests.support.orders import line, message

pytestmark = pytest.mark.integration


def csv_rows(answer: httpx.Response) -> list[list[str]]:
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.content.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))


def xlsx_rows(answer: httpx.Response) -> list[list[str]]:
    assert answer.status_code == 200, answer.text
    sheet = load_workbook(io.BytesIO(answer.content), read_only=True).worksheets[0]
    return [[cell or "" for cell in row] for row in sheet.iter_rows(values_only=True)]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
async def test_an_export_holds_the_filtered_list_line_by_line(
    catalogue: Catalogue, client_for: ClientFor, fmt: str
) -> None:
    client = client_for(catalogue.key_a)
    params = {"order_no_prefix": "AB", "status": ["paid", "shipped", "dealed", "other"]}
    answer = await client.get("/v1/orders/export", params={**params, "format": fmt})
    rows = csv_rows(answer) if fmt == "csv" else xlsx_rows(answer)

    assert rows[0] == list(HEADER)
    listed = await all_pages(client, params, 5)
    lines = {o.order_no: sorted((ln.product_id, ln.sku) for ln in o.lines) for o in catalogue.orders}
    expected = [(no, product) for no in listed for product, _ in lines[no]]
    assert [(r[0], r[8]) for r in rows[1:]] == expected
    assert len(listed) > 3 and "attachment" in answer.headers["content-disposition"]


async def test_an_export_imports_back_with_every_order_unchanged(
    pool: asyncpg.Pool, connection_settings: ConnectionSettings, catalogue: Catalogue, importer: httpx.AsyncClient
) -> None:
    answer = await importer.get("/v1/orders/export", params={"format": "xlsx", "timezone": "Asia/Tokyo"})
    assert answer.status_code == 200, answer.text

    report = await importer.post(
        "/v1/imports",
        files={"file": ("export.xlsx", answer.content)},
        data={"dry_run": "true", "timezone": "Asia/Tokyo", "mode": "strict"},
    )

    assert report.status_code == 202, report.text
    body = report.json()
    assert body["invalid_rows"] == 0, body["first_errors"]
    assert {o["order_no"]: o["outcome"] for o in body["orders"]} == {o.order_no: "unchanged" for o in catalogue.orders}


async def test_an_export_holds_only_the_callers_orders(catalogue: Catalogue, client_for: ClientFor) -> None:
    rows = csv_rows(await client_for(catalogue.key_b).get("/v1/orders/export", params={"format": "csv"}))
    assert sorted(r[0] for r in rows[1:]) == ["AB100", "B-ONLY"]
    assert rows[1][17] == "13900000001" or rows[2][17] == "13900000001"  # B's own buyer mobile


async def test_an_export_spans_many_pages_in_listing_order(pool: asyncpg.Pool, client_for: ClientFor) -> None:
    from services.ingest.entrypoints.http import exports

    tenant, key = await new_tenant(pool, "export pages")
    orders = [message(tenant, f"P-{i:03d}", lines=[line("P1"), line("P2")]) for i in range(25)]
    await ingest(pool, *orders)
    page_size, exports.PAGE_ORDERS = exports.PAGE_ORDERS, 4
    try:
        rows = csv_rows(await client_for(key).get("/v1/orders/export", params={"format": "csv"}))
    finally:
        exports.PAGE_ORDERS = page_size
    listed = await all_pages(client_for(key), {}, 50)
    assert [(r[0], r[8]) for r in rows[1:]] == [(no, p) for no in listed for p in ("P1", "P2")]


async def test_an_export_page_holds_at_most_its_lines_whatever_its_orders(
    pool: asyncpg.Pool, client_for: ClientFor, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.ingest.adapters import queries
    from services.ingest.entrypoints.http import exports

    tenant, key = await new_tenant(pool, "export page lines")
    sizes = [3, 1, 2, 2, 5, 1]
    lines_of = {f"L-{i}": [f"P{k}" for k in range(n)] for i, n in enumerate(sizes)}
    await ingest(pool, *[message(tenant, no, lines=[line(p) for p in products]) for no, products in lines_of.items()])
    pages: list[int] = []
    read_page = queries.export_page

    async def recorded(*args: object) -> tuple[list[dict[str, object]], object]:
        lines, after = await read_page(*args)  # type: ignore[arg-type]
        pages.append(len(lines))
        return lines, after

    monkeypatch.setattr(queries, "export_page", recorded)
    monkeypatch.setattr(exports, "PAGE_LINES", 4)
    rows = csv_rows(await client_for(key).get("/v1/orders/export", params={"format": "csv"}))
    listed = await all_pages(client_for(key), {}, 50)
    assert [(r[0], r[8]) for r in rows[1:]] == [(no, p) for no in listed for p in sorted(lines_of[no])]
    assert max(pages) == 5  # an order of more lines than a page holds is a page of its own
    assert all(n <= 4 for n in pages if n != 5) and sum(pages) == sum(sizes)


async def test_without_a_format_the_path_reads_the_order_numbered_export(
    pool: asyncpg.Pool, client_for: ClientFor
) -> None:
    tenant, key = await new_tenant(pool, "export order no")
    client = client_for(key)
    assert (await client.get("/v1/orders/export")).json()["code"] == "order_not_found"
    await ingest(pool, message(tenant, "export"))
    answer = await client.get("/v1/orders/export")
    assert answer.status_code == 200 and answer.json()["order_no"] == "export"


@pytest.mark.parametrize(
    ("params", "code"),
    [({"format": "pdf"}, None), ({"format": "csv", "timezone": "Mars/Olympus"}, "unknown_timezone")],
)
async def test_bad_export_arguments_are_answered_before_any_byte(
    catalogue: Catalogue, client_for: ClientFor, params: dict[str, str], code: str | None
) -> None:
    answer = await client_for(catalogue.key_a).get("/v1/orders/export", params=params)
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    if code:
        assert answer.json()["code"] == code


async def test_an_export_needs_a_key(client_for: ClientFor) -> None:
    assert (await client_for(None).get("/v1/orders/export", params={"format": "csv"})).status_code == 401


@pytest.fixture
async def importer(
    pool: asyncpg.Pool, connection_settings: ConnectionSettings, catalogue: Catalogue
) -> AsyncIterator[httpx.AsyncClient]:
    """Tenant A's client on an app whose dry runs work without a broker (a dry run publishes nothing)."""
    app: FastAPI = create_app(IngestSettings(**connection_settings.model_dump()))
    app.state.pool, app.state.broker = pool, None
    transport = httpx.ASGITransport(app)
    headers = {"X-API-Key": catalogue.key_a}
    async with httpx.AsyncClient(transport=transport, base_url="http://api", headers=headers) as client:
        yield client


async def test_the_cli_writes_the_same_file_as_the_endpoint(
    catalogue: Catalogue, client_for: ClientFor, connection_settings: ConnectionSettings, tmp_path: Path
) -> None:
    out = tmp_path / "orders.csv"
    tenant = str(catalogue.tenant_a)
    filters = ["--prefix", "AB1", "--status", "Paid", "--status", "dealed"]
    command = [sys.executable, "-m", "services.cli", "export", "--tenant-id", tenant, *filters, "--out", str(out)]
    env = {**os.environ, "ORDERINFO_DATABASE_URL": connection_settings.database_url}
    process = await asyncio.create_subprocess_exec(*command, env=env, stderr=asyncio.subprocess.PIPE)
    _, errors = await process.communicate()
    assert process.returncode == 0, errors.decode()

    params = {"order_no_prefix": "AB1", "status": ["paid", "dealed"], "format": "csv"}
    expected = csv_rows(await client_for(catalogue.key_a).get("/v1/orders/export", params=params))
    assert list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig")))) == expected
    assert len(expected) > 2


async def _cli_export(connection_settings: ConnectionSettings, *args: str) -> tuple[int, str]:
    command = [sys.executable, "-m", "services.cli", "export", *args]
    env = {**os.environ, "ORDERINFO_DATABASE_URL": connection_settings.database_url}
    process = await asyncio.create_subprocess_exec(*command, env=env, stderr=asyncio.subprocess.PIPE)
    _, errors = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, errors.decode()


async def test_the_cli_names_what_it_cannot_export(
    catalogue: Catalogue, connection_settings: ConnectionSettings, tmp_path: Path
) -> None:
    """A mistyped tenant id, an unknown tenant or a file that cannot be written: one line saying which, exit 2 (it
    was a traceback, or an empty file and exit 0 for a tenant that does not exist)."""
    out = tmp_path / "orders.csv"
    code, errors = await _cli_export(connection_settings, "--tenant-id", "nope", "--out", str(out))
    assert code == 2 and "--tenant-id: 'nope' is not a tenant id (a UUID)" in errors, errors
    unknown = "00000000-0000-4000-8000-000000000000"
    code, errors = await _cli_export(connection_settings, "--tenant-id", unknown, "--out", str(out))
    assert (code, errors.strip()) == (2, f"orderinfo export: no tenant {unknown}; nothing written"), errors
    assert not out.exists()
    zone = ["--timezone", "Mars/Olympus"]
    tenant = str(catalogue.tenant_a)
    code, errors = await _cli_export(connection_settings, "--tenant-id", tenant, *zone, "--out", str(out))
    assert code == 2 and "'Mars/Olympus' is not an IANA timezone name" in errors and not out.exists(), errors
    missing = tmp_path / "no such folder" / "orders.csv"
    code, errors = await _cli_export(connection_settings, "--tenant-id", str(catalogue.tenant_a), "--out", str(missing))
    assert code == 2 and errors.startswith(f"orderinfo export: cannot write {missing}: "), errors
    assert "Traceback" not in errors


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
async def test_a_tenant_configured_so_gets_masked_mobiles_in_its_export(
    pool: asyncpg.Pool, client_for: ClientFor, fmt: str
) -> None:
    from services.ingest.adapters import erasure_store

    tenant, key = await new_tenant(pool, "masked export")
    receiver = {"name": "R", "mobile": "13900009002", "address": "A"}
    await ingest(pool, message(tenant, "M-1", buyer={"mobile": "13800138001"}, receiver=receiver))
    async with pool.acquire() as conn:
        assert await erasure_store.set_mask_mobiles(conn, tenant, True)
    client = client_for(key)
    answer = await client.get("/v1/orders/export", params={"format": fmt})
    rows = csv_rows(answer) if fmt == "csv" else xlsx_rows(answer)

    detail = (await client.get("/v1/orders/M-1")).json()
    mobiles = (rows[1][HEADER.index("Buyer Mobile")], rows[1][HEADER.index("Receiver Mobile")])
    assert mobiles == (detail["buyer"]["mobile"], detail["receiver"]["mobile"]) == ("138****8001", "139****9002")
    assert "13800138001" not in answer.content.decode("utf-8", "replace")
