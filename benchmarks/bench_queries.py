"""Order-list latency per filter combination, through the real HTTP app (in-process, httpx.ASGITransport).

    python -m benchmarks.bench_queries --orders 1000000

Seeds a tenant named `--tenant-name` with `--orders` orders (tools.seeding) unless one with at least that
many exists, in which case it is reused and its API key rotated (keys are stored hashed only). Then, for each
filter combination: p50/p95 of the first page and of a page deep in the listing (keyset cursor), and whether the
statement's plan reads through indexes, with its execution time in the database and the buffers it touched (EXPLAIN
ANALYZE: the buffers are the work done, whatever else the machine runs). Point it at a database of its own:
ORDERINFO_DATABASE_URL or --database-url (seeding 1,000,000 orders takes 10-20 minutes: keep that database and
rerun the queries against it).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx

from services.ingest.adapters.queries import OrderFilter, order_list_statement, prefix_members
from services.ingest.adapters.tenants import create_key
from services.ingest.domain.api_keys import ALL_SCOPES
from services.ingest.main import create_app
from services.ingest.settings import IngestSettings
from services.platform.database import open_database
from tools.seeding import seed

Combo = tuple[str, OrderFilter]


async def tenant_with_orders(pool: Any, name: str, orders: int, seed_no: int) -> tuple[UUID, str]:
    found = await pool.fetchval(
        "SELECT t.id FROM tenants t WHERE t.name = $1 AND"
        " (SELECT count(*) FROM (SELECT 1 FROM orders o WHERE o.tenant_id = t.id LIMIT $2) x) >= $2 LIMIT 1",
        name,
        orders,
    )
    if found is None:
        started = time.perf_counter()
        tenant_id, key = await seed(pool, name, orders, seed_no)
        print(f"seeded {orders:,} orders for {name!r} in {time.perf_counter() - started:.0f} s")
        return tenant_id, key
    async with pool.acquire() as conn:
        _, key = await create_key(conn, found, "bench", ALL_SCOPES)
    print(f"reusing tenant {name!r} ({found}); a new API key was made for it")
    return found, key


async def combos(pool: Any, tenant: UUID) -> list[Combo]:
    """Filter combinations with values taken from the data (a busy store, a heavy customer, ...)."""
    store_no = await pool.fetchval(
        "SELECT store_no FROM stores WHERE tenant_id = $1 AND store_no IS NOT NULL ORDER BY store_key LIMIT 1 OFFSET 9",
        tenant,
    )
    id_only = await pool.fetchval(
        "SELECT store_id FROM stores WHERE tenant_id = $1 AND store_no IS NULL ORDER BY store_key LIMIT 1", tenant
    )
    heavy = await pool.fetchval(
        "SELECT customer_id FROM orders WHERE tenant_id = $1 GROUP BY 1 ORDER BY count(*) DESC LIMIT 1", tenant
    )
    typical = await pool.fetchval(
        "SELECT customer_id FROM orders WHERE tenant_id = $1 ORDER BY order_time DESC LIMIT 1 OFFSET 5000", tenant
    )
    latest = await pool.fetchval("SELECT max(order_time) FROM orders WHERE tenant_id = $1", tenant)
    some_no = await pool.fetchval(
        "SELECT order_no FROM orders WHERE tenant_id = $1 ORDER BY order_time LIMIT 1 OFFSET 1234", tenant
    )
    week, year_ago = latest - timedelta(days=7), latest - timedelta(days=365)
    month = (year_ago, year_ago + timedelta(days=30))
    return [
        ("no filter", OrderFilter()),
        ("order_no", OrderFilter(order_no=some_no)),
        ("prefix YZ (broad)", OrderFilter(order_no_prefix="YZ")),
        ("prefix YZ+month", OrderFilter(order_no_prefix=f"YZ{year_ago:%Y%m}")),
        ("prefix XE+month (rare)", OrderFilter(order_no_prefix=f"XE{year_ago:%Y%m}")),
        ("status paid", OrderFilter(statuses=("paid",))),
        ("status other (rare)", OrderFilter(statuses=("other",))),
        ("status other|to_be_paid", OrderFilter(statuses=("other", "to_be_paid"))),
        ("time: last 7 days", OrderFilter(order_time_from=week)),
        ("time: a month, a year ago", OrderFilter(order_time_from=month[0], order_time_to=month[1])),
        ("store (no.)", OrderFilter(store=store_no)),
        ("store (ID only)", OrderFilter(store=id_only)),
        ("source douyin", OrderFilter(source="douyin")),
        ("source xiaoe_tech (rare)", OrderFilter(source="xiaoe_tech")),
        ("customer (heavy)", OrderFilter(customer_id=heavy)),
        ("customer (typical)", OrderFilter(customer_id=typical)),
        ("status+time", OrderFilter(statuses=("paid",), order_time_from=month[0], order_time_to=month[1])),
        ("status+store", OrderFilter(statuses=("other",), store=store_no)),
        ("store+time", OrderFilter(store=store_no, order_time_from=month[0], order_time_to=month[1])),
        ("source+status", OrderFilter(source="xiaoe_tech", statuses=("other",))),
        ("source+store", OrderFilter(source="douyin", store=store_no)),
        ("customer+status", OrderFilter(customer_id=heavy, statuses=("dealed", "paid"))),
        ("prefix+status", OrderFilter(order_no_prefix=f"YZ{year_ago:%Y%m}", statuses=("other",))),
        (
            "statuses+store+time",
            OrderFilter(statuses=("other", "paid"), store=store_no, order_time_from=month[0], order_time_to=month[1]),
        ),
        (
            "source+statuses+time",
            OrderFilter(source="xiaoe_tech", statuses=("other", "to_be_paid"), order_time_from=year_ago),
        ),
        (
            "everything",
            OrderFilter(
                order_no_prefix="DY",
                statuses=("dealed",),
                store=store_no,
                source="douyin",
                order_time_from=year_ago,
                customer_id=heavy,
            ),
        ),
    ]


def http_params(where: OrderFilter) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for name in ("order_no", "order_no_prefix", "store", "source", "customer_id"):
        if getattr(where, name) is not None:
            params[name] = str(getattr(where, name))
    for name in ("order_time_from", "order_time_to"):
        if getattr(where, name) is not None:
            params[name] = getattr(where, name).isoformat()
    if where.statuses:
        params["status"] = list(where.statuses)
    return params


async def timings(client: httpx.AsyncClient, params: dict[str, Any], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        answer = await client.get("/v1/orders", params=params)
        samples.append((time.perf_counter() - started) * 1000)
        answer.raise_for_status()
    return samples


def percentiles(samples: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples, n=20, method="inclusive")
    return statistics.median(samples), cuts[18]


def _plan_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _plan_nodes(child)


async def plan_summary(pool: Any, tenant: UUID, where: OrderFilter) -> str:
    """The page's statement as the database runs it: median execution time of 3 (EXPLAIN ANALYZE, the server's own
    clock: no HTTP, no Python), shared buffers touched (the work, whatever the machine's load), indexes used."""
    async with pool.acquire() as conn:
        members = await prefix_members(conn, tenant, where)
    statement, args = order_list_statement(tenant, where, None, 51, members)
    plans = [(await pool.fetchval("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement, *args))[0] for _ in range(3)]
    plan = plans[-1]  # json decoded by the pool's codec
    nodes = list(_plan_nodes(plan["Plan"]))
    indexes = sorted({n["Index Name"] for n in nodes if "Index Name" in n and n.get("Relation Name") == "orders"})
    seq = any(n["Node Type"] == "Seq Scan" and n.get("Relation Name") == "orders" for n in nodes)
    buffers = plan["Plan"].get("Shared Hit Blocks", 0) + plan["Plan"].get("Shared Read Blocks", 0)
    db_ms = statistics.median(p["Execution Time"] for p in plans)
    used = ("index: " + ",".join(indexes) if indexes else "NO INDEX") + (" +SEQ SCAN" if seq else "")
    return f"{db_ms:7.1f} {buffers:7}  {used}"


async def run(args: argparse.Namespace) -> None:
    settings = IngestSettings(**({"database_url": args.database_url} if args.database_url else {}))
    pool = await open_database(settings.database_url, max_size=4)
    try:
        tenant, key = await tenant_with_orders(pool, args.tenant_name, args.orders, args.seed)
        app = create_app(settings)
        app.state.pool = pool  # the lifespan (Kafka producer) is not needed to read
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", headers={"X-API-Key": key}) as c:
            print(
                f"{'filter':28} {'p50 ms':>7} {'p95 ms':>7} {'deep p50':>8} {'deep p95':>8} {'rows':>4}"
                f" {'db ms':>7} {'buffers':>7}  plan"
            )
            for name, where in await combos(pool, tenant):
                await report(c, pool, tenant, name, where, args.repeat)
    finally:
        await pool.close()


async def report(c: httpx.AsyncClient, pool: Any, tenant: UUID, name: str, where: OrderFilter, repeat: int) -> None:
    params = http_params(where)
    first = await c.get("/v1/orders", params=params)
    first.raise_for_status()
    rows, cursor = len(first.json()["items"]), first.json()["next_cursor"]
    p50, p95 = percentiles(await timings(c, params, repeat))
    deep = "       -        -"
    if cursor:  # ten pages in: the keyset position makes it as cheap as the first
        for _ in range(9):
            cursor = (await c.get("/v1/orders", params={**params, "cursor": cursor})).json()["next_cursor"] or cursor
        d50, d95 = percentiles(await timings(c, {**params, "cursor": cursor}, repeat))
        deep = f"{d50:8.1f} {d95:8.1f}"
    print(f"{name:28} {p50:7.1f} {p95:7.1f} {deep} {rows:4}  {await plan_summary(pool, tenant, where)}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--tenant-name", default="bench")
    parser.add_argument("--repeat", type=int, default=40, help="timed requests per filter combination")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--database-url", default=None, help="default: ORDERINFO_DATABASE_URL / the local stack")
    args = parser.parse_args()
    started = datetime.now(UTC)
    asyncio.run(run(args))
    print(f"done in {(datetime.now(UTC) - started).total_seconds():.0f} s")


if __name__ == "__main__":
    main()
