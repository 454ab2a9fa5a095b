"""The operator console in Chromium: sign in, orders, an order and its customer, imports, language, isolation."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import asyncpg
import httpx
import pytest
from openpyxl import load_workbook

from tests.browser.conftest import SCREENSHOTS, LiveConsole, Seeded, Visit, sign_in, xlsx
from tools.samples import sample_rows

pytestmark = pytest.mark.integration


async def api_items(live: LiveConsole, key: str, **params: Any) -> list[dict[str, Any]]:
    answer = await live.http.get("/v1/orders", headers={"X-API-Key": key}, params={"limit": 200, **params})
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


async def api_orders(live: LiveConsole, key: str, **params: Any) -> list[str]:
    return [o["order_no"] for o in await api_items(live, key, **params)]


async def listed(visit: Visit) -> list[str]:
    return list(await visit.page.locator("#orders tbody tr td:first-child").all_inner_texts())


async def test_a_wrong_key_is_refused_and_sign_out_ends_the_session(visit: Visit, seeded: Seeded) -> None:
    await visit.goto("/console/orders")
    assert visit.page.url.endswith("/console/sign-in")  # not signed in: sent to sign in
    await visit.shoot("sign-in")
    await sign_in(visit, "oik_not-a-key")
    assert await visit.page.locator("[role=alert]").inner_text() == "API 密钥无效。"
    await visit.goto("/console/orders")
    assert visit.page.url.endswith("/console/sign-in")  # the wrong key opened nothing
    await sign_in(visit, seeded.a.key)
    assert visit.page.url.endswith("/console/orders")
    [cookie] = [c for c in await visit.page.context.cookies() if c["name"] == "oi_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    await visit.page.click("text=退出登录")
    await visit.page.wait_for_load_state("load")
    await visit.goto("/console/orders")
    assert visit.page.url.endswith("/console/sign-in")


async def test_a_form_without_its_csrf_token_is_refused(live: LiveConsole, seeded: Seeded) -> None:
    async with httpx.AsyncClient(base_url=live.url) as browserless:
        await browserless.get("/console/sign-in")  # the anonymous session's cookie
        answer = await browserless.post("/console/sign-in", data={"api_key": seeded.a.key})
        assert answer.status_code == 403
        assert (await browserless.get("/console/orders")).status_code == 303  # still not signed in


async def test_orders_by_each_criterion_and_in_keyset_pages(visit: Visit, live: LiveConsole, seeded: Seeded) -> None:
    await sign_in(visit, seeded.a.key)
    everything = await api_orders(live, seeded.a.key)
    assert len(everything) == 30
    await visit.goto("/console/orders", "orders")
    first = await listed(visit)
    assert first == everything[:20]  # newest first, 20 a page
    await visit.shoot("orders")
    await visit.page.click("#next-page")
    await visit.page.wait_for_load_state("load")
    assert await listed(visit) == everything[20:]
    assert await visit.page.locator("#next-page").count() == 0

    sample = (await live.http.get(f"/v1/orders/{everything[5]}", headers={"X-API-Key": seeded.a.key})).json()
    local = datetime.fromisoformat(sample["order_time"]).astimezone(visit_zone())
    start, end = local - timedelta(days=40), local + timedelta(days=40)
    cases = [
        ({"order_no": sample["order_no"]}, {"order_no": sample["order_no"]}),
        ({"prefix": sample["order_no"][:7]}, {"order_no_prefix": sample["order_no"][:7]}),
        ({"status": sample["status"]}, {"status": sample["status"]}),
        ({"source": sample["source"]}, {"source": sample["source"]}),
        ({"store": sample["store"]["store_no"]}, {"store": sample["store"]["store_no"]}),
        ({"customer": sample["customer_id"]}, {"customer_id": sample["customer_id"]}),
        (
            {"from": f"{start:%Y-%m-%dT%H:%M:%S}", "to": f"{end:%Y-%m-%dT%H:%M:%S}"},
            {"order_time_from": start.isoformat(), "order_time_to": end.isoformat()},
        ),
    ]
    for form, api in cases:
        await visit.goto("/console/orders")
        for name, value in form.items():
            if name in {"status", "source"}:
                await visit.page.select_option(f"#{name}", value)
            else:
                await visit.page.fill(f"#{name}", value)
        await visit.page.click("form[role=search] button[type=submit]")
        await visit.page.wait_for_load_state("load")
        expected = (await api_orders(live, seeded.a.key, **api))[:20]
        assert expected and sample["order_no"] in await api_orders(live, seeded.a.key, **api), form
        assert await listed(visit) == expected, form


def visit_zone() -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo("Asia/Shanghai")


async def test_an_order_and_its_customer(visit: Visit, live: LiveConsole, seeded: Seeded) -> None:
    await sign_in(visit, seeded.a.key)
    # a customer's top products leave closed orders out: pick one whose products count
    order_no = next(o["order_no"] for o in await api_items(live, seeded.a.key) if o["status"] != "deal_closed")
    detail = (await live.http.get(f"/v1/orders/{order_no}", headers={"X-API-Key": seeded.a.key})).json()
    await visit.goto("/console/orders", "orders")
    await visit.page.click(f"#orders >> text={order_no}")
    await visit.page.wait_for_load_state("load")
    assert await visit.page.locator("#order-no").inner_text() == order_no
    assert await visit.page.locator("#lines tbody tr").count() == len(detail["lines"]) == 2
    assert await visit.page.locator("#matched-by").inner_text() == "新建客户"  # the first order made the customer
    assert await visit.page.locator("#events tbody tr").count() == len(detail["events"]) >= 1
    await visit.goto(f"/console/orders/{quote(order_no)}", "order")
    await visit.shoot("order")
    await visit.page.click("#customer-link")
    await visit.page.wait_for_load_state("load")
    customer = await live.http.get(f"/v1/customers/{detail['customer_id']}", headers={"X-API-Key": seeded.a.key})
    shown = await visit.page.locator("#identifiers").inner_text()
    assert customer.json()["mobile"] in shown and customer.json()["unionid"] in shown
    assert await visit.page.locator("#recent-orders >> text=" + order_no).count() == 1
    assert await visit.page.locator("#top-products tbody tr").count() >= 1
    drawn = await visit.page.evaluate("typeof Chart !== 'undefined' && !!Chart.getChart('status-chart')")
    assert drawn, "the orders-by-status chart is drawn by Chart.js from local assets"
    await visit.goto(f"/console/customers/{detail['customer_id']}", "customer")
    await visit.shoot("customer")


async def test_customer_lookup_normalises_a_mobile_as_imports_do(
    visit: Visit, live: LiveConsole, seeded: Seeded
) -> None:
    await sign_in(visit, seeded.a.key)
    order_no = (await api_orders(live, seeded.a.key))[3]
    detail = (await live.http.get(f"/v1/orders/{order_no}", headers={"X-API-Key": seeded.a.key})).json()
    mobile = detail["customer"]["mobile"]
    for by, value in (
        ("mobile", f"+86 {mobile[:3]}-{mobile[3:7]}-{mobile[7:]}"),
        ("unionid", detail["customer"]["unionid"]),
    ):
        await visit.goto("/console/customers", "customer lookup")
        await visit.page.select_option("#by", by)
        await visit.page.fill("#value", value)
        await visit.page.click("form[role=search] button[type=submit]")
        await visit.page.wait_for_load_state("load")
        assert mobile in await visit.page.locator("#identifiers").inner_text(), by
    await visit.goto("/console/customers")
    await visit.page.evaluate("window.__sameDocument = true")
    await visit.page.locator("#value").press_sequentially(mobile, delay=20)  # typed, never submitted
    await visit.page.wait_for_selector("#identifiers", timeout=10_000)
    assert mobile in await visit.page.locator("#identifiers").inner_text()
    assert await visit.page.evaluate("window.__sameDocument === true")
    await visit.page.select_option("#by", "sobot_customer_id")
    await visit.page.fill("#value", "nobody")
    await visit.page.click("form[role=search] button[type=submit]")
    await visit.page.wait_for_load_state("load")
    assert await visit.page.locator("[role=alert]").inner_text() == "没有这个客户。"


async def test_an_import_with_a_mistake_previews_confirms_and_completes(visit: Visit, seeded: Seeded) -> None:
    rows = [list(r) for r in sample_rows(5, 1, seed=11)]
    rows[2][11] = "three"  # Quantity of the third data row (sheet row 4)
    mistaken = [("CONSOLE-" + str(r[0]), *r[1:]) for r in rows]
    await sign_in(visit, seeded.a.key)
    await visit.goto("/console/imports", "imports")
    async with visit.page.expect_download() as template:
        await visit.page.click("#template-link")
    assert (await (await template.value).path()).stat().st_size > 1000
    await visit.page.set_input_files(
        "#file",
        files=[
            {
                "name": "订单.xlsx",
                "mimeType": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "buffer": xlsx(mistaken),
            }
        ],
    )
    await visit.shoot("imports")
    await visit.page.click("#preview-button")
    await visit.page.wait_for_load_state("load")
    counts = visit.page.locator("#preview-counts")
    assert await counts.locator("[data-count=rows]").inner_text() == "5"
    assert await counts.locator("[data-count=invalid_rows]").inner_text() == "1"
    assert await counts.locator("[data-count=orders_held_back]").inner_text() == "1"
    assert await visit.page.locator("[data-outcome=created]").inner_text() == "4"
    error = await visit.page.locator("#errors tbody tr").first.locator("td").all_inner_texts()
    assert error[0] == "4" and "Quantity" in error[1] and error[2] == "three"
    await visit.shoot("preview")
    await visit.page.evaluate("window.__sameDocument = true")
    await visit.page.click("#confirm-button")
    await visit.page.wait_for_url("**/console/imports/*")
    await visit.page.evaluate("window.__sameDocument = true")
    await visit.page.wait_for_selector("#import-state[data-state^=completed]", timeout=60_000)
    assert await visit.page.evaluate("window.__sameDocument === true")  # counts moved without a reload
    assert await visit.page.locator("[data-field=created]").inner_text() == "4"
    assert await visit.page.locator("#import-state").inner_text() == "已完成（有错误）"
    await visit.shoot("import-progress")
    async with visit.page.expect_download() as result:
        await visit.page.click("#result-link")
    book = load_workbook(io.BytesIO((await (await result.value).path()).read_bytes()))
    outcomes = [c.value for c in next(iter(book.worksheets[0].iter_cols(min_col=1, max_col=1)))]
    assert len(outcomes) >= 6, outcomes  # header + 5 rows
    async with visit.page.expect_download() as failed:
        await visit.page.click("#failed-link")
    sheet = load_workbook(io.BytesIO((await (await failed.value).path()).read_bytes())).active
    header = [c.value for c in sheet[1]]
    assert sheet.max_row == 2 and sheet.cell(2, 1).value == mistaken[2][0]  # only the row to fix
    quantity = sheet.cell(2, header.index("数量*") + 1)  # the console is in Chinese: so is the workbook
    assert quantity.value == "three" and str(quantity.fill.fgColor.rgb).endswith("FFC7CE")
    assert "“three”" in sheet.cell(2, len(header)).value and sheet.auto_filter.ref  # the column as the file named it


async def test_language_switch_keeps_english_until_switched_back(visit: Visit, seeded: Seeded) -> None:
    await sign_in(visit, seeded.a.key)
    await visit.goto("/console/orders")
    assert await visit.page.locator("h1").inner_text() == "订单列表"
    assert await visit.page.get_attribute("html", "lang") == "zh-CN"
    await visit.page.click("#lang-switch")
    await visit.page.wait_for_load_state("load")
    assert await visit.page.locator("h1").inner_text() == "Orders"
    await visit.goto("/console/imports")
    assert await visit.page.locator("h1").inner_text() == "Order imports"
    assert await visit.page.get_attribute("html", "lang") == "en"
    await visit.goto("/console/orders")
    await visit.shoot("orders-en")
    await visit.page.set_viewport_size({"width": 390, "height": 844})  # a phone
    await visit.goto("/console/orders?lang=zh&status=paid")
    assert await visit.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    await visit.page.screenshot(path=str(SCREENSHOTS / "orders-phone.png"))
    await visit.page.set_viewport_size({"width": 1280, "height": 900})
    await visit.goto("/console/orders?lang=en")
    await visit.page.click("#lang-switch")
    await visit.page.wait_for_load_state("load")
    assert await visit.page.locator("h1").inner_text() == "订单列表"


async def test_another_tenants_order_customer_and_import_are_not_found(visit: Visit, seeded: Seeded) -> None:
    await sign_in(visit, seeded.a.key)
    for path in (
        f"/console/orders/{seeded.b_order_no}",
        f"/console/customers/{seeded.b_customer_id}",
        f"/console/imports/{seeded.b_import_id}",
        f"/console/imports/{seeded.b_import_id}/status.json",
        f"/console/imports/{seeded.b_import_id}/result.xlsx",
    ):
        answer = await visit.goto(path)
        assert answer.status == 404, path
    assert "OTHER-0001" not in await visit.page.content()


async def test_the_pipeline_shows_a_dead_letter_of_this_tenant(
    visit: Visit, live: LiveConsole, seeded: Seeded, pool: asyncpg.Pool
) -> None:
    import uuid

    from services.ingest.adapters import import_jobs
    from services.ingest.adapters.import_jobs import NewImport
    from services.ingest.contracts.orders_ingest_v1 import TOPIC
    from services.ingest.main import producer_broker

    # An import whose one order reaches the topic broken: the import counts its dead letter (a record naming an
    # import that never published its order counts toward nothing).
    import_id = uuid.uuid4()
    async with pool.acquire() as conn:
        job = NewImport(seeded.a.id, import_id, "dead.xlsx", "partial", "UTC", 1, 1, 0, 1, 0, [], [])
        await import_jobs.record_import(conn, job, import_jobs.queued_rows(["DEAD-LETTER-1"]))
    imports = (await live.http.get("/v1/imports", headers={"X-API-Key": seeded.a.key})).json()["items"]
    claim = {
        "schema_version": 1,
        "tenant_id": str(seeded.a.id),
        "import_id": str(import_id),
        "order_no": "DEAD-LETTER-1",
        "status": "no such status",
    }
    broker = producer_broker(live.settings)
    await broker.start()
    try:
        import json

        key = f"{seeded.a.id}:DEAD-LETTER-1".encode()
        await broker.publish(json.dumps(claim).encode(), live.settings.topic(TOPIC.name), key=key)
    finally:
        await broker.stop()
    await sign_in(visit, seeded.a.key)

    async def shown() -> bool:
        await visit.goto("/console/pipeline")
        return await visit.page.locator("#dead-letters >> text=DEAD-LETTER-1").count() == 1

    from tests.support.waiting import eventually

    await eventually(shown, bool, within=60, interval=0.5)
    await visit.goto("/console/pipeline", "pipeline")
    reasons = await visit.page.locator("#dead-letter-reasons tbody tr td:first-child").all_inner_texts()
    assert "contract_violation" in reasons
    by_state = await visit.page.locator("#imports-by-state td[data-state]").all_inner_texts()
    assert sum(int(n) for n in by_state) == len(imports)
    await visit.shoot("pipeline")


async def test_docs_are_served_from_local_assets(visit: Visit) -> None:
    await visit.goto("/docs", "docs")
    await visit.page.wait_for_selector(".swagger-ui .info .title", timeout=20_000)
    assert "Order Info" in await visit.page.locator(".swagger-ui .info .title").inner_text()
    await visit.shoot("docs")


async def test_a_search_field_that_does_not_read_is_named_in_the_users_language(visit: Visit, seeded: Seeded) -> None:
    await sign_in(visit, seeded.a.key)
    await visit.goto("/console/orders?customer=not-a-uuid")
    assert (await visit.page.locator("#search-problem").inner_text()).startswith("客户 ID 应为 UUID")
    await visit.goto("/console/orders?from=2026-13-01T00:00&lang=en")
    assert "'Ordered from' is not a date and time" in await visit.page.locator("#search-problem").inner_text()
