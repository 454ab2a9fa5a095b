"""Accessibility basics of every console page (labels, headings, contrast, names, language) by axe-core, the
maintained checker from npm (installed by `make install`), run offline inside Chromium: WCAG 2 A and AA rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import LiveConsole, Seeded, sign_in

pytestmark = pytest.mark.integration
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
PAGES = ("/console/orders", "/console/imports", "/console/customers", "/console/pipeline")


async def violations(page: Any) -> list[str]:
    await page.add_script_tag(path=str(AXE))
    found = await page.evaluate("axe.run(document, {runOnly: ['wcag2a', 'wcag2aa']})")
    assert found["passes"], f"axe checked nothing on {page.url}"
    return [
        f"{v['id']}: {v['help']} ({len(v['nodes'])}x, e.g. {v['nodes'][0]['html'][:120]})" for v in found["violations"]
    ]


async def test_console_pages_pass_axe(chromium: Any, live: LiveConsole, seeded: Seeded) -> None:
    if not AXE.exists():
        pytest.skip("axe-core is not installed: run `make install` (npm ci)")
    # the checker is injected as a script, which the console's own Content-Security-Policy would refuse
    context = await chromium.new_context(bypass_csp=True, locale="zh-CN")
    try:
        from tests.browser.conftest import Visit

        visit = Visit(await context.new_page(), live.url, [], {})
        await visit.goto("/console/sign-in")
        problems = {"/console/sign-in": await violations(visit.page)}
        await sign_in(visit, seeded.a.key)
        order_no = (await live.http.get("/v1/orders", headers={"X-API-Key": seeded.a.key})).json()["items"][0]
        for path in (
            *PAGES,
            f"/console/orders/{order_no['order_no']}",
            f"/console/customers/{order_no['customer_id']}",
        ):
            await visit.goto(path)
            problems[path] = await violations(visit.page)
    finally:
        await context.close()
    assert {path: found for path, found in problems.items() if found} == {}
