"""What an upload accepts is stored: generated files with every value at the template's bounds (longest texts in
4-byte characters, the first and last instants of the time range written in zones far east and west of UTC,
amounts and computed totals at the money bound, the most lines per order) are imported through the real API,
broker, consumer and database with no row error and no dead letter (never a `processing_error` later).

Bounded in time: `ORDERINFO_BOUNDS_EXAMPLES` examples (default 6), each within a deadline; the seed is printed;
replay one with `ORDERINFO_FUZZ_SEED=<seed>`.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import random
from datetime import timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, seed
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from services.core import bounds
from services.ingest.adapters.tenants import create_tenant
from services.ingest.domain.spreadsheet.template import COLUMNS, SOURCE_LABELS, STATUS_LABELS, Kind
from tests.integration.ingest.test_http_imports import app, client, finished, settings

__all__ = ["app", "client", "settings"]  # fixtures, shared with the module they come from

# The app, broker clients and consumer run on the event loop while hypothesis generates in its own thread; they
# use the `random` module, which hypothesis then reports as if the strategies did.
pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies"),
]
SEED = int(os.environ.get("ORDERINFO_FUZZ_SEED") or random.randrange(2**32))
EXAMPLES = int(os.environ.get("ORDERINFO_BOUNDS_EXAMPLES", "6"))
ZONES = ["Pacific/Kiritimati", "Pacific/Pago_Pago", "Asia/Shanghai", "America/New_York", "UTC"]
CHARS = st.characters(exclude_categories=["Cs", "Cc", "Zs", "Zl", "Zp"], exclude_characters="\ufffe\uffff")
ID_CHARS = CHARS.filter(lambda c: bounds.invisible_char(c) is None)  # identifiers refuse the invisible ones
MAX = {c.key: c.max_length for c in COLUMNS}
IDS = {c.key for c in COLUMNS if c.kind is Kind.ID}


def text(key: str) -> st.SearchStrategy[str]:
    """Texts of up to the column's length; starting with "K" (an ID like 1E5 is refused as scientific notation)."""
    size, chars = (MAX[key] or 2) - 1, ID_CHARS if key in IDS else CHARS
    longest = st.text(chars, min_size=size, max_size=size)
    return st.one_of(longest, st.just("\U00020000" * size), st.text(chars, min_size=1, max_size=8)).map("K".__add__)


def instant() -> st.SearchStrategy[Any]:
    span = int((bounds.MAX_TIME - bounds.MIN_TIME).total_seconds()) - 1
    edges = st.sampled_from([0, span])
    return st.one_of(edges, edges, st.integers(0, span)).map(lambda s: bounds.MIN_TIME + timedelta(seconds=s))


@st.composite
def order_rows(draw: st.DrawFn, number: int, zone: ZoneInfo) -> list[dict[str, str]]:
    lines = draw(st.sampled_from([1, 2, 5, bounds.MAX_LINES_PER_ORDER]))
    ordered = draw(instant())
    wall = f"{ordered.astimezone(zone):%Y-%m-%d %H:%M:%S}"
    quantity = draw(st.sampled_from([1, 7, bounds.MAX_QUANTITY]))
    # the largest unit price whose line total, summed over the order, stays within the money bound
    price = (bounds.MAX_MONEY / (quantity * lines)).quantize(Decimal("0.01"), rounding="ROUND_DOWN")
    head = {
        "order_no": f"{number}-" + draw(text("order_no"))[: MAX["order_no"] - 4],  # type: ignore[index]
        "source": draw(st.sampled_from(list(SOURCE_LABELS.values()))),
        "status": draw(st.sampled_from(list(STATUS_LABELS.values()))),
        "order_time": wall,
        "payment_time": wall,
        "store_no": draw(text("store_no")),
        "store_name": draw(text("store_name")),
        "buyer_mobile": "13912345678",
        "buyer_nickname": draw(text("buyer_nickname")),
        "receiver_address": draw(text("receiver_address")),
        "remark": draw(text("remark")),
        "order_amount": str(bounds.MAX_MONEY),
    }
    name = draw(text("product_name"))
    return [
        head
        | {
            "product_id": f"P{line}-" + draw(st.text(ID_CHARS, max_size=40)),
            "sku": draw(text("sku")),
            "product_name": name,
            "quantity": str(quantity),
            "unit_price": str(price),
            "line_amount": str(price * quantity),
        }
        for line in range(lines)
    ]


@st.composite
def files(draw: st.DrawFn) -> tuple[bytes, str, int]:
    zone = draw(st.sampled_from(ZONES))
    orders = [draw(order_rows(number, ZoneInfo(zone))) for number in range(draw(st.integers(1, 3)))]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([c.header for c in COLUMNS])
    for rows in orders:
        writer.writerows([[row.get(c.key, "") for c in COLUMNS] for row in rows])
    return buffer.getvalue().encode(draw(st.sampled_from(["utf-8-sig", "utf-16", "gb18030"]))), zone, len(orders)


async def _import(http: httpx.AsyncClient, pool: asyncpg.Pool, data: bytes, zone: str, orders: int) -> None:
    """Each example in a tenant of its own: a repeated order no. would merge with an earlier example's order (and
    two orders at the money bound merge past it)."""
    async with pool.acquire() as conn:
        _, key = await create_tenant(conn, "bounds example")
    files_ = {"file": ("bounds.csv", data, "text/csv")}
    answer = await http.post("/v1/imports", headers={"X-API-Key": key}, files=files_, data={"timezone": zone})
    where = f"(fuzz seed {SEED}) {zone}"
    assert answer.status_code == 202, (where, answer.text)
    receipt = answer.json()
    assert (receipt["invalid_rows"], receipt["orders"]) == (0, orders), (where, receipt["first_errors"])
    status = await finished(http, key, receipt["import_id"])
    outcome = (status["state"], status["dead_lettered"], status["orders_processed"])
    assert outcome == ("completed", 0, orders), (where, status)


async def test_files_at_every_bound_are_imported_and_stored(client: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
    print(f"fuzz seed {SEED} ({EXAMPLES} examples); replay with ORDERINFO_FUZZ_SEED={SEED}")
    loop = asyncio.get_running_loop()

    @seed(SEED)
    @hypothesis_settings(
        max_examples=EXAMPLES,
        deadline=timedelta(seconds=90),
        database=None,
        phases=(Phase.generate, Phase.shrink),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
    )
    @given(files())
    def property_(example: tuple[bytes, str, int]) -> None:
        data, zone, orders = example
        asyncio.run_coroutine_threadsafe(_import(client, pool, data, zone, orders), loop).result(timeout=180)

    await asyncio.to_thread(property_)
