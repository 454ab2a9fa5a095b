"""Realistic data for one new tenant, loaded fast with COPY: for benchmarks and demos, never for production data.

`seed(pool, "bench", 1_000_000)` creates the tenant, ~200 stores, 500 products, ~0.15 customers per order, orders
over the last two years with 1-3 lines, statuses spread along the status machine and their history, then ANALYZEs
the tables. Each customer's persona and persona state are folded by the persona stage's own domain functions
(`domain/persona_deltas.py`: each order's `contribution` folded into its customer's `PersonaState`), so a seeded
customer's next order folds onto exact aggregates (`tests/integration/operations/test_seeding.py` checks both
against the stored orders). Deterministic for a given `seed` and `now` (but for the tenant id and its key). Chunks
commit one by one: a failed run leaves a partial tenant behind, to be dropped with its rows.
"""

from __future__ import annotations

import itertools
import json
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from services.core.order import OrderSource, OrderStatus
from services.ingest.adapters.tenants import create_tenant
from services.ingest.domain.persona import PAID_STATUSES, LifecycleThresholds, build_persona
from services.ingest.domain.persona_deltas import Contribution, Delta, PersonaState, contribution, fold, state_to_json
from services.platform.database import install_json_codecs

CHUNK = 50_000
STORES = 200
PRODUCTS = 500
CUSTOMERS_PER_ORDER = 0.15
DAYS = 730
_PAID = frozenset(PAID_STATUSES)

# Status weights and the statuses an order passed through on the way (its history).
STATUS_WEIGHTS = {
    "dealed": 40,
    "deal_closed": 15,
    "signed_for": 10,
    "shipped": 12,
    "paid": 10,
    "to_be_paid": 8,
    "other": 5,
}
PATHS = {
    "to_be_paid": ["to_be_paid"],
    "paid": ["to_be_paid", "paid"],
    "shipped": ["to_be_paid", "paid", "shipped"],
    "signed_for": ["to_be_paid", "paid", "shipped", "signed_for"],
    "dealed": ["to_be_paid", "paid", "shipped", "signed_for", "dealed"],
    "deal_closed": ["to_be_paid", "deal_closed"],
    "other": ["other"],
}
SOURCE_WEIGHTS = {
    "youzan": 35,
    "weimob": 20,
    "douyin": 15,
    "taobao": 10,
    "jingdong": 8,
    "kuaishou": 5,
    "xiaohongshu": 3,
    "vipshop": 2,
    "brand_mall": 1,
    "mogu": 0.5,
    "xiaoe_tech": 0.5,
}
PREFIXES = {
    "youzan": "YZ",
    "weimob": "WM",
    "douyin": "DY",
    "taobao": "TB",
    "jingdong": "JD",
    "kuaishou": "KS",
    "xiaohongshu": "XHS",
    "vipshop": "VIP",
    "brand_mall": "BM",
    "mogu": "MG",
    "xiaoe_tech": "XE",
}
assert set(SOURCE_WEIGHTS) == {s.value for s in OrderSource} and set(STATUS_WEIGHTS) == {s.value for s in OrderStatus}

ORDER_COLUMNS = (
    "tenant_id",
    "order_no",
    "source",
    "status",
    "status_raw",
    "order_time",
    "payment_time",
    "store_key",
    "store",
    "customer_id",
    "matched_by",
    "buyer",
    "receiver",
    "order_amount",
    "paid_amount",
    "total_amount",
    "remark",
    "version",
    "last_import_id",
    "producer",
)
LINE_COLUMNS = ("tenant_id", "order_no", "product_id", "sku", "product_name", "quantity", "unit_price", "line_amount")
HISTORY_COLUMNS = ("tenant_id", "order_no", "status", "first_seen_at")
CUSTOMER_COLUMNS = ("tenant_id", "id", "sobot_customer_id", "mobile", "unionid", "nickname", "persona", "persona_state")
STORE_COLUMNS = ("tenant_id", "store_key", "source", "store_no", "store_id", "name")
PRODUCT_COLUMNS = ("tenant_id", "product_id", "sku", "name", "unit_price")
_JSON_COLUMNS = frozenset({"store", "buyer", "receiver", "persona", "persona_state"})  # jsonb, and json (0012)


@dataclass(frozen=True)
class SeedStore:
    key: str
    source: str
    value: dict[str, str]


@dataclass(frozen=True)
class SeedCustomer:
    id: UUID
    sobot_customer_id: str | None
    mobile: str | None
    unionid: str | None
    nickname: str


@dataclass
class _Chunk:
    orders: list[tuple[Any, ...]] = field(default_factory=list)
    lines: list[tuple[Any, ...]] = field(default_factory=list)
    history: list[tuple[Any, ...]] = field(default_factory=list)


async def seed(
    pool: Any, tenant_name: str, orders: int, seed: int = 0, now: datetime | None = None
) -> tuple[UUID, str]:
    """Create tenant `tenant_name` with `orders` orders (see the module), their times before `now` (default: the
    current time), personas as of `now`; return its id and API key."""
    rng = random.Random(seed)
    now = now or datetime.now(UTC).replace(microsecond=0)
    async with pool.acquire() as conn:
        tenant, api_key = await create_tenant(conn, tenant_name)
        stores = make_stores(rng)
        products = [(f"P{i:05d}", f"Product {i}", Decimal(rng.randrange(500, 50000)) / 100) for i in range(PRODUCTS)]
        customers = make_customers(rng, max(1, int(orders * CUSTOMERS_PER_ORDER)))
        states: dict[int, PersonaState] = {}
        for chunk in order_chunks(rng, tenant.id, orders, now, stores, products, customers, states):
            await _copy(conn, "orders", ORDER_COLUMNS, chunk.orders)
            await _copy(conn, "order_lines", LINE_COLUMNS, chunk.lines)
            await _copy(conn, "order_status_history", HISTORY_COLUMNS, chunk.history)
        await _copy(conn, "customers", CUSTOMER_COLUMNS, customer_rows(tenant.id, customers, states, now))
        store_rows = [
            (tenant.id, s.key, s.source, s.value.get("store_no"), s.value.get("store_id"), s.value["name"])
            for s in stores
        ]
        await _copy(conn, "stores", STORE_COLUMNS, store_rows)
        await _copy(conn, "products", PRODUCT_COLUMNS, [(tenant.id, p, "", n, price) for p, n, price in products])
        await conn.execute("ANALYZE orders, order_lines, order_status_history, customers, stores, products")
    return tenant.id, api_key


async def _copy(conn: Any, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """COPY `rows` (json and jsonb columns as Python values): binary COPY needs them as text, so the pool
    connection's codecs of both types (`persona_state` is json since migration 0012) are swapped for
    asyncpg's own binary ones meanwhile, then put back."""
    if not rows:
        return
    json_columns = [i for i, name in enumerate(columns) if name in _JSON_COLUMNS]
    records = (
        [tuple(json.dumps(v) if i in json_columns and v is not None else v for i, v in enumerate(row)) for row in rows]
        if json_columns
        else rows
    )
    for name in ("json", "jsonb"):
        await conn.reset_type_codec(name, schema="pg_catalog")
    try:
        await conn.copy_records_to_table(table, records=records, columns=list(columns))
    finally:
        await install_json_codecs(conn)


def make_stores(rng: random.Random) -> list[SeedStore]:
    """Most stores have a store no. and an ID; some only a store no., some only an ID."""
    stores = []
    for i in range(STORES):
        value = {"name": f"Store {i:03d}"}
        if i < STORES * 0.95:
            value["store_no"] = f"ST{i:04d}"
        if i >= STORES * 0.2:
            value["store_id"] = f"SID{100000 + i}"
        key = f"no:{value['store_no']}" if "store_no" in value else f"id:{value['store_id']}"
        stores.append(SeedStore(key, rng.choice(list(SOURCE_WEIGHTS)), value))
    return stores


def make_customers(rng: random.Random, count: int) -> list[SeedCustomer]:
    return [
        SeedCustomer(
            id=uuid.UUID(int=rng.getrandbits(128), version=4),
            sobot_customer_id=f"SB{i:08d}" if rng.random() < 0.3 else None,
            mobile=f"1{3800000000 + i:010d}" if rng.random() < 0.9 else None,
            unionid=f"UN{rng.getrandbits(64):016x}" if rng.random() < 0.5 else None,
            nickname=f"user{i}",
        )
        for i in range(count)
    ]


def order_chunks(
    rng: random.Random,
    tenant_id: UUID,
    count: int,
    now: datetime,
    stores: list[SeedStore],
    products: list[tuple[str, str, Decimal]],
    customers: list[SeedCustomer],
    states: dict[int, PersonaState],
) -> Iterator[_Chunk]:
    """Orders in chunks of `CHUNK`; each chunk's orders folded into their customers' persona states (one fold per
    customer and chunk, as the persona stage folds a batch's deltas) before the chunk is handed out."""
    sources, source_weights = list(SOURCE_WEIGHTS), list(SOURCE_WEIGHTS.values())
    statuses, status_weights = list(STATUS_WEIGHTS), list(STATUS_WEIGHTS.values())
    store_weights = [1 + (i % 10) ** 2 for i in range(len(stores))]
    for start in range(0, count, CHUNK):
        n = min(CHUNK, count - start)
        chunk = _Chunk()
        picks = zip(
            rng.choices(sources, source_weights, k=n),
            rng.choices(statuses, status_weights, k=n),
            rng.choices(stores, store_weights, k=n),
            strict=True,
        )
        added: dict[int, list[Contribution]] = {}
        for i, (source, status, store) in enumerate(picks, start):
            who = int(len(customers) * rng.random() ** 1.5)
            _add_order(rng, chunk, tenant_id, i, now, (source, status, store), products, customers[who])
            added.setdefault(who, []).append(_contribution(chunk))
        for who, contributions in added.items():
            folded = fold(states.setdefault(who, PersonaState()), [Delta(added=tuple(contributions))], in_place=True)
            assert folded is not None  # nothing removed: a fold of additions always knows its extremes
        yield chunk


def _add_order(
    rng: random.Random,
    chunk: _Chunk,
    tenant_id: UUID,
    i: int,
    now: datetime,
    picked: tuple[str, str, SeedStore],
    products: list[tuple[str, str, Decimal]],
    customer: SeedCustomer,
) -> None:
    source, status, store = picked
    order_time = now - timedelta(seconds=rng.randrange(DAYS * 86400))
    order_no = f"{PREFIXES[source]}{order_time:%Y%m%d}{i:08d}"
    paid_at = order_time + timedelta(minutes=rng.randrange(1, 120)) if status in _PAID else None
    total = Decimal(0)
    for product_id, name, price in rng.sample(products, rng.randint(1, 3)):
        quantity = rng.randint(1, 3)
        total += price * quantity
        chunk.lines.append((tenant_id, order_no, product_id, "", name, quantity, price, price * quantity))
    buyer = {k: v for k, v in (("mobile", customer.mobile), ("nickname", customer.nickname)) if v}
    matched_by = "mobile" if customer.mobile else "nickname"
    chunk.orders.append(
        (
            tenant_id,
            order_no,
            source,
            status,
            status,
            order_time,
            paid_at,
            store.key,
            store.value,
            customer.id,
            matched_by,
            buyer,
            None,
            total,
            total if paid_at else None,
            total,
            None,
            1,
            None,
            "seed",
        )
    )
    for hours, step in enumerate(PATHS[status]):
        chunk.history.append((tenant_id, order_no, step, order_time + timedelta(hours=hours)))


def _contribution(chunk: _Chunk) -> Contribution:
    """What the chunk's latest order adds to its customer's persona (`order_contribution` of the planner)."""
    order = chunk.orders[-1]
    source, status, order_time, paid_at, store_key, store = order[2], order[3], order[5], order[6], order[7], order[8]
    lines = itertools.takewhile(lambda row: row[1] == order[1], reversed(chunk.lines))
    return contribution(
        status,
        source,
        store.get("name") or store_key,
        order_time,
        paid_at,
        order[15],  # total_amount
        order[14],  # paid_amount
        [(line[2], line[5], line[4]) for line in lines],  # product ID, quantity, name
    )


def customer_rows(
    tenant_id: UUID, customers: list[SeedCustomer], states: dict[int, PersonaState], now: datetime
) -> list[tuple[Any, ...]]:
    """Customer rows with the persona the persona stage would build from their orders, and its state."""
    thresholds = LifecycleThresholds()
    rows = []
    for i, c in enumerate(customers):
        state = states.get(i, PersonaState())
        persona = build_persona(state.aggregates(), now, thresholds)
        rows.append(
            (tenant_id, c.id, c.sobot_customer_id, c.mobile, c.unionid, c.nickname, persona, state_to_json(state))
        )
    return rows
