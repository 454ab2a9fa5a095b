"""Partial update files end to end (finding 8): upload -> Kafka -> consumer. A re-sent order with only its order
no., status and a product ID keeps its stored amounts and lines; an ambiguous one is `rejected`, predicted by the
dry run, counted by the import and shown in its result workbook."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from openpyxl import load_workbook

from services.ingest.adapters.tenants import tenant_for_key
from services.ingest.domain.language import Lang, outcome_label
from services.ingest.samples import SAMPLE_HEADER, SampleRow, write_sample_csv
from tests.integration.conftest import connection_settings, database_url, kafka_bootstrap, pool, services
from tests.integration.ingest.test_http_imports import api_key, app, client, finished, settings

__all__ = [
    "api_key",
    "app",
    "client",
    "connection_settings",
    "database_url",
    "kafka_bootstrap",
    "pool",
    "services",
    "settings",
]  # fixtures
COLUMNS = [h.rstrip("*") for h in SAMPLE_HEADER]
REQUIRED = {
    "Order Source": "Youzan",
    "Order Time": "2026-11-01 10:00:00",
    "Store No.": "S1",
    "Buyer Mobile": "13912345678",
    "Quantity": "2",
    "Unit Price": "10.00",
}
FULL = {
    "Order Amount": "100.00",
    "Paid Amount": "90.00",
    "Payment Time": "2026-11-01 10:05:00",
    "Store Name": "Flagship",
    "Remark": "gift wrap",
    "Receiver Name": "Li Li",
    "Buyer Nickname": "Lily",
    "Product Name": "Shirt",
    "Line Amount": "18.00",
}


def row(order_no: str, status: str, product: str, sku: str = "", **cells: str) -> SampleRow:
    values = {
        **REQUIRED,
        **cells,
        "Order No.": order_no,
        "Order Status": status,
        "Product ID": product,
        "Product SKU": sku,
    }
    return tuple(values.get(column, "") for column in COLUMNS)


async def upload(client: httpx.AsyncClient, key: str, tmp: Path, rows: list[SampleRow], **form: str) -> Any:
    path = tmp / "orders.csv"
    write_sample_csv(path, rows)
    files = {"file": ("orders.csv", path.read_bytes(), "text/csv")}
    answer = await client.post("/v1/imports", headers={"X-API-Key": key}, files=files, data=form)
    assert answer.status_code == 202, answer.text
    return answer.json()


async def test_a_partial_file_never_erases_and_an_ambiguous_line_is_rejected(
    client: httpx.AsyncClient, api_key: str, tmp_path: Path, pool: asyncpg.Pool
) -> None:
    full = [row("F1", "Paid", "P1", "SKU-A", **FULL), row("F2", "Paid", "P1", "RED"), row("F2", "Paid", "P1", "BLUE")]
    first = await finished(client, api_key, (await upload(client, api_key, tmp_path, full))["import_id"])
    assert (first["state"], first["created"]) == ("completed", 2), first
    async with pool.acquire() as conn:
        tenant = await tenant_for_key(conn, api_key)
    assert tenant is not None
    query = "SELECT order_amount, paid_amount, total_amount, remark, payment_time FROM orders WHERE tenant_id = $1"
    before = dict(await pool.fetchrow(query + " AND order_no = 'F1'", tenant.id))

    partial = [row("F1", "Shipped", "P1"), row("F2", "Shipped", "P1")]
    predicted = await upload(client, api_key, tmp_path, partial, dry_run="true")
    assert {o["order_no"]: o["outcome"] for o in predicted["orders"]} == {"F1": "updated", "F2": "rejected"}
    receipt = await upload(client, api_key, tmp_path, partial)
    status = await finished(client, api_key, receipt["import_id"])

    assert (status["state"], status["updated"], status["rejected"]) == ("completed_with_errors", 1, 1), status
    after = dict(await pool.fetchrow(query + " AND order_no = 'F1'", tenant.id))
    assert after == before and before["total_amount"] == Decimal("100.00")
    lines = await pool.fetch("SELECT order_no, sku FROM order_lines WHERE tenant_id = $1 ORDER BY 1, 2", tenant.id)
    assert [(r["order_no"], r["sku"]) for r in lines] == [("F1", "SKU-A"), ("F2", "BLUE"), ("F2", "RED")]
    book = await client.get(
        f"/v1/imports/{receipt['import_id']}/result.xlsx", params={"lang": "en"}, headers={"X-API-Key": api_key}
    )
    sheet = load_workbook(io.BytesIO(book.content)).active
    assert sheet is not None
    shown = [[str(c or "") for c in r] for r in sheet.iter_rows(values_only=True)]
    rejected = next(r for r in shown if r[0] == "F2")
    assert outcome_label("rejected", Lang.EN) in rejected and any("'BLUE', 'RED'" in c for c in rejected), rejected


async def test_a_merged_total_past_the_money_bound_is_rejected_and_a_sku_fills_in_the_stored_line(
    client: httpx.AsyncClient, api_key: str, tmp_path: Path, pool: asyncpg.Pool
) -> None:
    """Probes 2, findings 1 and 4: each file is within the bounds, the merge is not (rejected, predicted by the dry
    run, never a processing_error); a SKU filled in later updates the one SKU-less line (the total does not double)."""
    half = {"Quantity": "1", "Unit Price": "600000000000.00"}
    first = [row("M1", "Paid", "P1", **half), row("M2", "Paid", "P1")]
    done = await finished(client, api_key, (await upload(client, api_key, tmp_path, first))["import_id"])
    assert (done["state"], done["created"]) == ("completed", 2), done

    second = [row("M1", "Shipped", "P2", **half), row("M2", "Shipped", "P1", "RED")]
    predicted = await upload(client, api_key, tmp_path, second, dry_run="true")
    assert {o["order_no"]: o["outcome"] for o in predicted["orders"]} == {"M1": "rejected", "M2": "updated"}
    receipt = await upload(client, api_key, tmp_path, second)
    status = await finished(client, api_key, receipt["import_id"])
    assert (status["state"], status["updated"], status["rejected"]) == ("completed_with_errors", 1, 1), status

    async with pool.acquire() as conn:
        tenant = await tenant_for_key(conn, api_key)
    assert tenant is not None
    totals = await pool.fetch("SELECT order_no, total_amount FROM orders WHERE tenant_id = $1 ORDER BY 1", tenant.id)
    assert [(r["order_no"], r["total_amount"]) for r in totals] == [
        ("M1", Decimal("600000000000.00")),
        ("M2", Decimal("20.00")),
    ]
    lines = await pool.fetch("SELECT order_no, sku FROM order_lines WHERE tenant_id = $1 ORDER BY 1, 2", tenant.id)
    assert [(r["order_no"], r["sku"]) for r in lines] == [("M1", ""), ("M2", "RED")]
    book = await client.get(
        f"/v1/imports/{receipt['import_id']}/result.xlsx", params={"lang": "en"}, headers={"X-API-Key": api_key}
    )
    sheet = load_workbook(io.BytesIO(book.content)).active
    assert sheet is not None
    rejected = next(r for r in sheet.iter_rows(values_only=True) if r[0] == "M1")
    assert any("total_too_large" in str(c) and "999999999999.99" in str(c) for c in rejected), rejected
