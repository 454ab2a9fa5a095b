"""A tenant configured to mask mobiles: its read-only keys download import workbooks with the mobiles masked, as
the order details show them; a key with the import scope (the uploader's) gets the rows as they were uploaded."""

from __future__ import annotations

import io
from pathlib import Path

import asyncpg
import pytest
from openpyxl import load_workbook

from services.ingest.adapters import erasure_store
from services.ingest.adapters.tenants import create_key, create_tenant
from services.ingest.domain.api_keys import Scope
from services.ingest.domain.erasure import mask_mobile
from tests.integration.hostile.conftest import Api, upload
from tools.samples import SAMPLE_HEADER, sample_rows, write_sample_xlsx

pytestmark = pytest.mark.integration


def _mobiles(content: bytes) -> list[str]:
    sheet = load_workbook(io.BytesIO(content), read_only=True).worksheets[0]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    header = [str(h or "").rstrip("*") for h in rows[0]]
    columns = [header.index("Buyer Mobile"), header.index("Receiver Mobile")]
    return [str(row[i] or "") for row in rows[1:] for i in columns if any(row)]


async def test_read_only_keys_of_a_masking_tenant_download_masked_mobiles(
    api: Api, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    async with pool.acquire() as conn:
        tenant, uploader = await create_tenant(conn, "masked downloads")
        _, reader = await create_key(conn, tenant.id, "sidebar", [Scope.READ])
        assert await erasure_store.set_mask_mobiles(conn, tenant.id, True)
    path = tmp_path / "orders.xlsx"
    rows = list(sample_rows(2, 1, seed=7))
    write_sample_xlsx(path, rows)
    receipt = await upload(api, "orders.xlsx", path.read_bytes(), key=uploader)
    assert receipt.status_code == 202, receipt.text
    result = f"/v1/imports/{receipt.json()['import_id']}/result.xlsx?lang=en"
    uploaded = [str(r[SAMPLE_HEADER.index(h)]) for r in rows for h in SAMPLE_HEADER if "Mobile" in h]

    as_uploaded = await api.client.get(result, headers=api.headers(uploader))
    as_read = await api.client.get(result, headers=api.headers(reader))

    assert as_uploaded.status_code == as_read.status_code == 200, as_read.text
    assert _mobiles(as_uploaded.content) == uploaded
    assert _mobiles(as_read.content) == [mask_mobile(m) for m in uploaded] and uploaded
