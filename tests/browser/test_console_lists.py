"""The console's lists in Chromium: the order list's count (exact, or capped), the import list's pages and states."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from services.ingest.entrypoints.console import import_routes, routes
from tests.browser.conftest import LiveConsole, Seeded, Visit, new_tenant, sign_in

pytestmark = pytest.mark.integration

STATES = ["completed", "failed", "completed", "queued", "completed", "completed_with_errors", "completed"]


async def test_the_order_list_counts_the_matching_orders_and_caps_the_count(
    visit: Visit, live: LiveConsole, seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer = await live.http.get("/v1/orders", headers={"X-API-Key": seeded.a.key}, params={"limit": 200})
    total = len(answer.json()["items"])  # 30 seeded, and what other tests imported since
    assert 30 <= total < 200
    await sign_in(visit, seeded.a.key)
    await visit.goto("/console/orders")
    assert await visit.page.locator("#order-count > span").first.inner_text() == str(total)
    await visit.page.click("#next-page")
    await visit.page.wait_for_load_state("load")
    assert await visit.page.locator("#order-count > span").first.inner_text() == str(total)  # all, not the page

    monkeypatch.setattr(routes, "COUNT_CAP", 12)
    await visit.goto("/console/orders")
    assert await visit.page.locator("#order-count > span").first.inner_text() == "12+"
    await visit.goto("/console/orders?prefix=NO-SUCH-ORDER")
    assert await visit.page.locator("#order-count").count() == 0  # no orders: the "none" text instead


async def test_the_import_list_pages_newest_first_and_filters_by_state(
    visit: Visit, pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = await new_tenant(pool, "imports list")
    start = datetime(2026, 11, 1, tzinfo=UTC)
    jobs = [(uuid.uuid4(), f"file-{i}.xlsx", state, start + timedelta(minutes=i)) for i, state in enumerate(STATES)]
    await pool.executemany(
        "INSERT INTO imports (tenant_id, id, filename, mode, timezone, state, created_at)"
        " VALUES ($1, $2, $3, 'partial', 'Asia/Shanghai', $4, $5)",
        [(tenant.id, *job) for job in jobs],
    )
    newest_first = [name for _, name, _, _ in sorted(jobs, key=lambda j: j[3], reverse=True)]
    monkeypatch.setattr(import_routes, "IMPORTS_PER_PAGE", 3)
    await sign_in(visit, tenant.key)

    await visit.goto("/console/imports")
    seen = []
    while True:
        seen += await visit.page.locator("#imports tbody tr td:nth-child(2)").all_inner_texts()
        if await visit.page.locator("#next-imports").count() == 0:
            break
        await visit.page.click("#next-imports")
        await visit.page.wait_for_load_state("load")
    assert seen == newest_first

    await visit.goto("/console/imports")
    await visit.page.select_option("#state", "completed")
    await visit.page.click("#import-filter button[type=submit]")
    await visit.page.wait_for_load_state("load")
    listed = await visit.page.locator("#imports tbody tr td:nth-child(2)").all_inner_texts()
    assert listed == [n for n in newest_first if dict((j[1], j[2]) for j in jobs)[n] == "completed"][:3]
    await visit.page.click("#next-imports")
    await visit.page.wait_for_load_state("load")
    assert await visit.page.locator("#imports tbody tr td:nth-child(2)").all_inner_texts() == ["file-0.xlsx"]
    assert await visit.page.locator("#state").input_value() == "completed"

    await visit.goto("/console/imports?cursor=garbled")
    assert await visit.page.locator("[role=alert]").count() == 1
    assert len(await visit.page.locator("#imports tbody tr").all()) == 3  # the first page
