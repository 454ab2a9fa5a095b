"""The console's language switch in Chromium reaches the import words the catalog owns: both template downloads,
the preview's row messages, outcome and state labels; the switch holds on every page until switched back."""

from __future__ import annotations

import io
from typing import Any

import pytest
from openpyxl import load_workbook

from services.ingest.samples import sample_rows
from tests.browser.conftest import Seeded, Visit, sign_in, xlsx

pytestmark = pytest.mark.integration
PAGES = {  # path -> the h1 in (zh, en)
    "/console/orders": ("订单列表", "Orders"),
    "/console/imports": ("订单导入", "Order imports"),
    "/console/customers": ("客户查询", "Customer lookup"),
    "/console/pipeline": ("数据管道", "Pipeline"),
}


async def _download_header(visit: Visit, link: str) -> Any:
    async with visit.page.expect_download() as download:
        await visit.page.click(link)
    book = load_workbook(io.BytesIO((await (await download.value).path()).read_bytes()))
    return book.worksheets[0]["A1"].value


async def test_the_switch_changes_every_page_and_the_import_words(visit: Visit, seeded: Seeded) -> None:
    await sign_in(visit, seeded.a.key)
    for path, (zh, _) in PAGES.items():
        await visit.goto(path)
        assert await visit.page.locator("h1").inner_text() == zh, path
    await visit.goto("/console/imports")
    assert await _download_header(visit, "#template-link") == "订单编号*"
    assert await _download_header(visit, "#template-link-en") == "Order No.*"

    rows = [list(r) for r in sample_rows(3, 1, seed=23)]
    rows[1][11] = "0"  # Quantity of sheet row 3
    data = xlsx([(f"LANG-{r[0]}", *r[1:]) for r in rows])
    mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    await visit.page.set_input_files("#file", files=[{"name": "orders.xlsx", "mimeType": mime, "buffer": data}])
    await visit.page.click("#preview-button")
    await visit.page.wait_for_load_state("load")
    message = (await visit.page.locator("#errors tbody tr").first.locator("td").all_inner_texts())[-1]
    assert message.startswith("第 3 行") and "不是正数" in message, message
    assert await visit.page.locator("#outcomes th").first.inner_text() == "新建"

    await visit.page.click("#lang-switch")
    await visit.page.wait_for_load_state("load")
    for path, (_, en) in PAGES.items():
        await visit.goto(path)
        assert await visit.page.locator("h1").inner_text() == en, path
        assert await visit.page.get_attribute("html", "lang") == "en"
    await visit.goto("/console/imports")
    assert await visit.page.locator("#template-link").inner_text() == "Chinese template (中文)"
    assert await _download_header(visit, "#template-link-en") == "Order No.*"
    await visit.page.set_input_files("#file", files=[{"name": "orders.xlsx", "mimeType": mime, "buffer": data}])
    await visit.page.click("#preview-button")
    await visit.page.wait_for_load_state("load")
    message = (await visit.page.locator("#errors tbody tr").first.locator("td").all_inner_texts())[-1]
    assert message.startswith('Row 3, column "Quantity"'), message
    assert await visit.page.locator("#outcomes th").first.inner_text() == "created"

    await visit.page.click("#lang-switch")
    await visit.page.wait_for_load_state("load")
    await visit.goto("/console/orders")
    assert await visit.page.locator("h1").inner_text() == "订单列表"
