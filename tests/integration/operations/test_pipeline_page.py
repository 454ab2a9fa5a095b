"""The console's pipeline page shows the consumer group's lag per partition as the broker sees it, and the tenant's
own dead letters by reason and day, read from the dead-letter topic."""

from __future__ import annotations

import re

import asyncpg
import httpx

from services.ingest.adapters.tenants import create_tenant
from services.ingest.entrypoints.console.session import COOKIE, new_session
from services.ingest.main import create_app, ensure_ingest_topics
from services.platform.settings import ConnectionSettings
from tests.integration.ingest.live import fresh_settings, send_raw
from tests.integration.operations.test_dead_letters import order_record, put_letter


async def test_the_pipeline_page_shows_broker_lag_and_the_tenants_dead_letters_by_day(
    connection_settings: ConnectionSettings, pool: asyncpg.Pool
) -> None:
    settings = fresh_settings(connection_settings)
    await ensure_ingest_topics(settings)
    async with pool.acquire() as conn:
        (mine, _), (other, _) = await create_tenant(conn, "mine"), await create_tenant(conn, "other")
    await send_raw(settings, [order_record(mine.id, f"WAITING-{n}") for n in range(4)])  # no consumer runs
    for order_no, reason in (("A", "ambiguous_sku"), ("B", "ambiguous_sku"), ("C", "too_many_lines")):
        await put_letter(settings, mine.id, order_no, reason)
    await put_letter(settings, other.id, "X", "not_mine_reason")

    app = create_app(settings)
    app.state.pool = pool
    cookie = app.state.console.signer.dump(new_session(mine))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://console", cookies={COOKIE: cookie}) as web:
        page = await web.get("/console/pipeline", params={"lang": "en"})
    assert page.status_code == 200, page.text[:500]
    html = page.text
    lag = [int(n) for n in re.findall(r'<td class="num" data-partition="\d+">(\d+)</td>', html)]
    assert len(lag) == 3 and sum(lag) == 4
    table = html[html.index('id="dead-letters-by-day"') :]
    table = table[: table.index("</table>")]
    rows = re.findall(r"<code>([a-z_]+)</code></th>((?:<td class=\"num\">\d+</td>)+)", table)
    totals = {reason: sum(int(n) for n in re.findall(r">(\d+)<", cells)) for reason, cells in rows}
    assert totals == {"ambiguous_sku": 2, "too_many_lines": 1}
    assert "not_mine_reason" not in html
