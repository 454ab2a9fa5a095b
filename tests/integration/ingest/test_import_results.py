"""Results that lead to a fix, end to end on the real broker and database: a strict refusal recorded with every
error and its workbooks, warnings as their own field and column, and failed.xlsx uploaded again after fixing it."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import asyncpg
import httpx
from openpyxl import load_workbook

from services.ingest.application.import_answers import ERRORS_LISTED
from services.ingest.domain.language import Lang, outcome_label
from services.ingest.domain.spreadsheet.template import COLUMNS
from tests.integration.ingest.test_http_imports import XLSX, api_key, app, client, finished, settings, upload
from tools.samples import SAMPLE_HEADER, sample_rows, write_sample_csv, write_sample_xlsx

__all__ = ["api_key", "app", "client", "settings"]


def mistaken_file(tmp_path: Path, prefix: str) -> bytes:
    """Four orders of two lines: order 2 has an unknown status on its second line (row 5), order 4 a quantity
    that is no number on its first line (row 8); rows 2 and 3 carry a line amount that differs (a warning)."""
    rows = [list(r) for r in sample_rows(4, 2, seed=21)]
    for r in rows:
        r[0] = f"{prefix}{r[0]}"
    rows[3][2] = "Teleported"
    rows[6][11] = "three"
    rows[0][13] = 1.0
    path = tmp_path / "mistakes.xlsx"
    write_sample_xlsx(path, [tuple(r) for r in rows])
    return path.read_bytes()


async def test_strict_mode_refuses_with_every_error_and_records_a_failed_import(
    client: httpx.AsyncClient, api_key: str, tmp_path: Path
) -> None:
    answer = await upload(client, api_key, mistaken_file(tmp_path, "ST-"), mode="strict")
    assert answer.status_code == 422 and answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["code"] == "strict_mode_rejected"
    assert sorted((e["row"], e["code"]) for e in problem["errors"]) == [(5, "invalid_status"), (8, "invalid_number")]
    assert (problem["errors_total"], problem["errors_truncated"]) == (2, False)
    import_id = problem["import_id"]
    assert f"/v1/imports/{import_id}/result.xlsx" in problem["detail"]
    status = (
        await client.get(f"/v1/imports/{import_id}", headers={"X-API-Key": api_key, "Accept-Language": "en"})
    ).json()
    assert (status["state"], status["mode"], status["orders"], status["orders_published"]) == ("failed", "strict", 0, 0)
    assert status["failure"].startswith("Strict mode") and status["completed_at"] is not None
    book = await client.get(status["result_url"], headers={"X-API-Key": api_key, "Accept-Language": "en"})
    sheet = load_workbook(io.BytesIO(book.content)).active
    header = [c.value for c in sheet[1]]
    results = [r[header.index("Result")] for r in sheet.iter_rows(min_row=2, values_only=True)]
    held, invalid = outcome_label("held_back", Lang.EN), outcome_label("invalid", Lang.EN)  # worded, in English
    assert results == [held] * 3 + [invalid] + [held] * 2 + [invalid, held]
    dry = await upload(client, api_key, mistaken_file(tmp_path, "ST-"), mode="strict", dry_run="true")
    assert dry.status_code == 422 and len(dry.json()["errors"]) == 2 and "import_id" not in dry.json()


async def test_a_strict_refusal_of_5000_wrong_rows_lists_the_first_errors_counts_them_all_and_points_to_them(
    client: httpx.AsyncClient, api_key: str, tmp_path: Path
) -> None:
    """The 422 listed every row error: 5,000 rows of one bad cell made 0.9 MB, of ten bad cells 13.6 MB (50,000
    errors). It lists the first ERRORS_LISTED, their total and that the list is cut; the refused import's result
    workbook has every one; a dry run, which records nothing, says how to get them."""
    rows = [list(r) for r in sample_rows(5000, 1, seed=33)]
    status_col, quantity_col = SAMPLE_HEADER.index("Order Status*"), SAMPLE_HEADER.index("Quantity*")
    for r in rows:
        r[0] = f"CUT-{r[0]}"
        r[status_col], r[quantity_col] = "Teleported", "abc"
    path = tmp_path / "cut.csv"
    write_sample_csv(path, [tuple(r) for r in rows])
    answer = await upload(client, api_key, path.read_bytes(), mode="strict")
    assert answer.status_code == 422 and answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["code"] == "strict_mode_rejected"
    assert (problem["errors_total"], problem["errors_truncated"]) == (10000, True)
    assert len(problem["errors"]) == ERRORS_LISTED and len(answer.content) < 100_000, len(answer.content)
    assert [e["row"] for e in problem["errors"]] == sorted(e["row"] for e in problem["errors"])
    assert problem["errors"][0]["row"] == 2 and problem["errors"][-1]["row"] == 2 + ERRORS_LISTED // 2 - 1
    assert f"共 10,000 个错误，此处列出前 {ERRORS_LISTED} 个" in problem["detail"]  # Chinese by default
    assert f"/v1/imports/{problem['import_id']}/result.xlsx" in problem["detail"]
    book = await client.get(
        f"/v1/imports/{problem['import_id']}/result.xlsx", headers={"X-API-Key": api_key, "Accept-Language": "en"}
    )
    sheet = load_workbook(io.BytesIO(book.content), read_only=True).active
    header = next(sheet.iter_rows(max_row=1, values_only=True))
    errors = [r[header.index("Errors")] for r in sheet.iter_rows(min_row=2, values_only=True)]
    assert len(errors) == 5000 and all("Order Status" in e and "Quantity" in e for e in errors), errors[-1]
    files = {"file": ("cut.csv", path.read_bytes(), "text/csv")}
    headers = {"X-API-Key": api_key, "Accept-Language": "en"}
    dry = await client.post("/v1/imports", files=files, data={"mode": "strict", "dry_run": "true"}, headers=headers)
    refused = dry.json()
    assert dry.status_code == 422 and "import_id" not in refused
    assert (refused["errors_total"], refused["errors_truncated"]) == (10000, True)
    assert len(refused["errors"]) == ERRORS_LISTED
    assert f"10,000 errors in all; the first {ERRORS_LISTED} are listed. A dry run records nothing" in refused["detail"]


async def test_warnings_are_their_own_field_and_column_and_the_202_counts_them_all(
    client: httpx.AsyncClient, api_key: str, tmp_path: Path
) -> None:
    receipt = (await upload(client, api_key, mistaken_file(tmp_path, "WA-"))).json()
    status = await finished(client, api_key, receipt["import_id"])
    warnings = status["warnings"]
    assert receipt["warnings"] == len(warnings) == status["warning_count"]
    assert {(w["row"], w["code"]) for w in warnings} >= {(None, "unknown_column"), (2, "line_amount_mismatch")}
    assert all(set(w) >= {"row", "column", "code", "message"} for w in warnings)
    book = await client.get(status["result_url"], headers={"X-API-Key": api_key, "Accept-Language": "en"})
    sheet = load_workbook(io.BytesIO(book.content)).active
    header = [c.value for c in sheet[1]]
    assert header[-3:] == ["Result", "Errors", "Warnings"]
    first = [c.value for c in sheet[2]]
    assert "differs from Quantity x Unit Price" in first[header.index("Warnings")]
    assert first[header.index("Errors")] is None


async def test_failed_rows_fixed_and_uploaded_again_import_exactly_those_rows(
    client: httpx.AsyncClient, api_key: str, tmp_path: Path, pool: asyncpg.Pool
) -> None:
    receipt = (await upload(client, api_key, mistaken_file(tmp_path, "FX-"))).json()
    first = await finished(client, api_key, receipt["import_id"])
    assert (first["state"], first["created"], first["orders_held_back"]) == ("completed_with_errors", 2, 2)
    answer = await client.get(first["failed_url"], headers={"X-API-Key": api_key, "Accept-Language": "en"})
    assert answer.status_code == 200 and answer.headers["content-type"] == XLSX
    book = load_workbook(io.BytesIO(answer.content))
    sheet = book.active
    header = [c.value for c in sheet[1]]
    assert header == [*(c.header for c in COLUMNS), "Errors"]  # the template's columns, the extra one left out
    assert sheet.max_row == 5 and sheet.auto_filter.ref == f"A1:{sheet.cell(1, len(header)).column_letter}5"
    assert sheet.column_dimensions["A"].width >= 14
    status_col, quantity_col = header.index("Order Status*") + 1, header.index("Quantity*") + 1
    cells = [(r, c) for r in range(2, 6) for c in range(1, len(header))]
    bad = {(r, c) for r, c in cells if str(sheet.cell(r, c).fill.fgColor.rgb).endswith("FFC7CE")}
    assert bad == {(3, status_col), (4, quantity_col)}
    assert "Teleported" in sheet.cell(3, len(header)).value and sheet.cell(2, len(header)).value in (None, "")
    sheet.cell(3, status_col).value = sheet.cell(2, status_col).value  # as the order's other line says
    sheet.cell(4, quantity_col).value = "3"
    fixed = io.BytesIO()
    book.save(fixed)
    again = (await upload(client, api_key, fixed.getvalue())).json()
    assert (again["rows"], again["invalid_rows"], again["orders"]) == (4, 0, 2)
    second = await finished(client, api_key, again["import_id"])
    assert (second["state"], second["created"], second["updated"], second["unchanged"]) == ("completed", 2, 0, 0)
    stored = await pool.fetch(
        "SELECT order_no, last_import_id FROM orders WHERE order_no LIKE 'FX-%' ORDER BY order_no"
    )
    assert len(stored) == 4
    by_import = {r["last_import_id"] for r in stored}
    assert by_import == {uuid.UUID(receipt["import_id"]), uuid.UUID(again["import_id"])}
