"""Reading and writing orders, customers and personas. Functions take the connection first: the caller owns the
transaction, so a whole batch (and its outbox rows) commits or rolls back as one."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from operator import attrgetter
from typing import Any, TypeVar
from uuid import UUID

import orjson

from services.core.changes import CustomerSnapshot
from services.core.order import Buyer, OrderStatus
from services.ingest import errors
from services.ingest.adapters import persona_store, sql
from services.ingest.adapters.storage import FOREIGN_KEY_VIOLATION, concurrent_inserts
from services.ingest.domain import persona_reference
from services.ingest.domain.identity import Customer, CustomerIndex
from services.ingest.domain.persona import PAID_STATUSES, LifecycleThresholds, OrderAggregates, build_persona
from services.ingest.domain.persona_deltas import persona_digest
from services.ingest.domain.planning import LineRow, OrderRow, RoundPlan, StoredOrder
from services.ingest.domain.redelivery import StoredMatch

Conn = Any  # asyncpg.Connection (untyped library)
Key = tuple[UUID, str]
_T = TypeVar("_T")


def _columns(rows: Sequence[Sequence[Any]], width: int) -> list[list[Any]]:
    return [[row[i] for row in rows] for i in range(width)] if rows else [[] for _ in range(width)]


async def existing_tenants(conn: Conn, tenant_ids: Iterable[UUID]) -> set[UUID]:
    ids = sorted(set(tenant_ids))
    return {r["id"] for r in await conn.fetch(sql.EXISTING_TENANTS, ids)} if ids else set()


async def load_stored(conn: Conn, keys: Sequence[Key], *, lock: bool = True) -> dict[Key, StoredOrder]:
    """The stored orders (with lines) among `keys`; locked FOR UPDATE in key order when `lock`. The lines are read
    for the orders found only (none: no second statement, as for a batch of new orders): an order's lines are only
    ever written with it, and nothing deletes orders, so an order not stored has none."""
    if not keys:
        return {}
    rows = await conn.fetch(sql.LOCK_ORDERS if lock else sql.READ_ORDERS, *_columns(sorted(keys), 2))
    if not rows:
        return {}
    lines: dict[Key, dict[tuple[str, str], LineRow]] = defaultdict(dict)
    found = _columns([(r["tenant_id"], r["order_no"]) for r in rows], 2)
    for r in await conn.fetch(sql.LINES_OF_ORDERS, *found):
        line = LineRow(r["product_id"], r["sku"], r["product_name"], r["quantity"], r["unit_price"], r["line_amount"])
        lines[(r["tenant_id"], r["order_no"])][line.key] = line
    return {
        (r["tenant_id"], r["order_no"]): StoredOrder(_order_row(r), lines[(r["tenant_id"], r["order_no"])])
        for r in rows
    }


async def load_redelivered(conn: Conn, keys: Iterable[tuple[UUID, str, bytes]]) -> dict[Key, tuple[bytes, StoredMatch]]:
    """Of the stored orders (tenant, order no.) among `keys`, those whose digest is the given one: their digest and
    customer (`sql.REDELIVERED_ORDERS`, not locked)."""
    wanted = list(dict.fromkeys(keys))
    if not wanted:
        return {}
    rows = await conn.fetch(sql.REDELIVERED_ORDERS, *_columns(wanted, 3))
    return {(r[0], r[1]): (bytes(r[2]), StoredMatch(Customer(r[4], r[5], r[6], r[7], r[8]), r[3])) for r in rows}


_READ = tuple(name for name, _ in sql.ORDER_COLUMNS)


def _order_row(r: Any) -> OrderRow:
    values = {name: r[name] for name in _READ}
    values["status"] = OrderStatus(values["status"])
    return OrderRow(**values)


async def load_customer_index(
    conn: Conn, tenant_id: UUID, buyers: Iterable[Buyer], customer_ids: Iterable[UUID]
) -> CustomerIndex:
    """Every customer of `tenant_id` that one of `buyers` could match, plus the given customers."""
    buyers = list(buyers)
    rows = await conn.fetch(
        sql.CANDIDATE_CUSTOMERS,
        tenant_id,
        sorted({b.sobot_customer_id for b in buyers if b.sobot_customer_id}),
        sorted({b.mobile for b in buyers if b.mobile}),
        sorted({b.unionid for b in buyers if b.unionid}),
        sorted(set(customer_ids)),
    )
    index = CustomerIndex()
    for r in rows:
        index.put(Customer(r["id"], r["sobot_customer_id"], r["mobile"], r["unionid"], r["nickname"]))
    return index


async def write_plan(conn: Conn, plan: RoundPlan) -> None:
    """Apply one round's decisions, customers first (orders reference them), each table in one statement."""
    rows: list[tuple[Any, ...]]
    if plan.new_customers:
        rows = [(t, c.id, c.sobot_customer_id, c.mobile, c.unionid, c.nickname) for t, c in plan.new_customers]
        await conn.execute(sql.INSERT_CUSTOMERS, _json_rows(rows))
    if plan.added_identifiers:
        rows = [
            (t, cid, a.get("sobot_customer_id"), a.get("mobile"), a.get("unionid"), a.get("nickname"))
            for (t, cid), a in plan.added_identifiers.items()
        ]
        await conn.execute(sql.ADD_CUSTOMER_IDENTIFIERS, *_columns(rows, 6))
    if plan.conflicts:
        rows = [(t, no, cid, c.identifier, c.value, c.held_by) for t, no, cid, c in plan.conflicts]
        await conn.execute(sql.RECORD_IDENTITY_CONFLICTS, *_columns(rows, 6))
    if plan.stores:
        rows = [
            (t, key, source, s.get("store_no"), s.get("store_id"), s.get("name"))
            for (t, key), (source, s) in sorted(plan.stores.items())
        ]
        await conn.execute(sql.UPSERT_STORES, _json_rows(rows))
    if plan.products:
        rows = [(t, pid, sku, name, str(price)) for (t, pid, sku), (name, price) in sorted(plan.products.items())]
        await conn.execute(sql.UPSERT_PRODUCTS, _json_rows(rows))
    if plan.orders:
        new, stored = _by_newness(plan, plan.orders, lambda o: (o[0].tenant_id, o[0].order_no))
        if new:  # not stored when the round locked its orders: a rival inserting one (a rebalance) fails this
            async with concurrent_inserts("orders_pkey"):  # and the round is planned again over its order
                await conn.execute(sql.INSERT_ORDERS, _json_rows([_order_values(*o) for o in new]))
        if stored:
            await conn.execute(sql.UPDATE_ORDERS, _json_rows([_order_values(*o) for o in stored]))
    if plan.noted:  # locked by `load_stored`, like every order of the round
        await conn.execute(sql.NOTE_DELIVERIES, *_columns(sorted(plan.noted), 3))
    if plan.dropped_lines:  # taken over under their SKU by a line of `plan.lines`: before the upsert
        rows = [(t, no, product_id, sku) for t, no, (product_id, sku) in plan.dropped_lines]
        await conn.execute(sql.DELETE_LINES, *_columns(rows, 4))
    if plan.lines:
        _check_lines_have_orders(plan)
        new_lines, stored_lines = _by_newness(plan, plan.lines, lambda line: (line[0], line[1]))
        if new_lines:
            await conn.execute(sql.INSERT_LINES, _json_rows(_line_values(new_lines)))
        if stored_lines:
            await conn.execute(sql.UPSERT_LINES, _json_rows(_line_values(stored_lines)))
    if plan.history:
        await conn.execute(sql.INSERT_STATUS_HISTORY, _json_rows(plan.history))
    await persona_store.append_deltas(conn, plan.persona_deltas)


def _by_newness(plan: RoundPlan, items: Sequence[_T], key: Callable[[_T], Key]) -> tuple[list[_T], list[_T]]:
    """`items` (orders or lines, in their order) of the round's new orders, and of its stored orders."""
    new: list[_T] = []
    stored: list[_T] = []
    for item in items:
        (new if key(item) in plan.new_orders else stored).append(item)
    return new, stored


def _check_lines_have_orders(plan: RoundPlan) -> None:
    """Raise (a bug: permanent) when a line is written without its order: the foreign key that checked it row by
    row in PostgreSQL is gone (migration 0012); an order's lines are only ever written with the order."""
    orders = {(row.tenant_id, row.order_no) for row, _, _ in plan.orders}
    orphans = {(t, no) for t, no, _ in plan.lines} - orders
    if orphans:
        raise errors.PermanentStorage(f"lines of {len(orphans)} orders not written with them", FOREIGN_KEY_VIOLATION)


def _json_rows(rows: Sequence[Sequence[Any]]) -> str:
    """`rows` as one JSON array of arrays, for the statements that read `jsonb_array_elements($1)`."""
    return orjson.dumps(rows, default=_json_value).decode()


def _json_value(value: Any) -> str:
    """What orjson does not encode itself: money as its exact text, a digest as hex, asyncpg's UUIDs (see
    `sql.INSERT_ORDERS`)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, UUID):  # asyncpg's own UUID (read back from the database), which orjson does not take
        return str(value)
    raise TypeError(f"{type(value).__name__} is not written as JSON")


def _order_values(row: OrderRow, import_id: UUID | None, producer: str) -> tuple[Any, ...]:
    """The values of `sql.ORDER_WRITE_COLUMNS` for one order. Money and the digest as the text `_json_value`
    would give, here: orjson calling back into Python for each value costs more than the conversion."""
    values = list(_READ_VALUES(row))
    values[_STATUS] = row.status.value
    # In UTC: orjson writes a time with its offset, and PostgreSQL reads none past 15:59 (RFC 3339 allows 23:59)
    values[_ORDER_TIME] = row.order_time.astimezone(UTC)
    if row.payment_time is not None:
        values[_PAYMENT_TIME] = row.payment_time.astimezone(UTC)
    for i in _MONEY:
        if values[i] is not None:
            values[i] = str(values[i])
    if row.digest is not None:
        values[_DIGEST] = row.digest.hex()
    return (*values, import_id, producer)


_READ_VALUES = attrgetter(*_READ)
_STATUS, _ORDER_TIME, _PAYMENT_TIME, _DIGEST = (
    _READ.index(name) for name in ("status", "order_time", "payment_time", "digest")
)
_MONEY = tuple(_READ.index(name) for name in ("order_amount", "paid_amount", "total_amount"))


def _line_values(lines: Sequence[tuple[UUID, str, LineRow]]) -> list[tuple[Any, ...]]:
    """The values of `sql.LINE_COLUMNS` per line, money as text (see `_order_values`)."""
    return [
        (
            t,
            no,
            x.product_id,
            x.sku,
            x.product_name,
            x.quantity,
            str(x.unit_price),
            None if x.line_amount is None else str(x.line_amount),
        )
        for t, no, x in lines
    ]


async def refresh_personas(
    conn: Conn,
    customers: set[tuple[UUID, UUID]],
    created: set[tuple[UUID, UUID]],
    now: datetime,
    thresholds: LifecycleThresholds,
) -> list[CustomerSnapshot]:
    """Recompute the personas of `customers` from their stored orders; store and return those that changed
    (and every customer in `created`, which is new). O(their history): the lifecycle sweep and the reference the
    tests compare the persona stage with (`application.personas`), never the hot path. Each changed customer's
    revision is raised (its event's id, see `CustomerSnapshot.revision`): the caller holds their rows locked (the
    sweep claims them `FOR UPDATE`), so the revision read is the one it raises."""
    if not customers:
        return []
    keys = sorted(customers)
    tenants, ids = _columns(keys, 2)
    personas = await personas_from_orders(conn, keys, now, thresholds)
    changed = []
    for r in await conn.fetch(sql.CUSTOMERS_BY_ID, tenants, ids):
        key = (r["tenant_id"], r["id"])
        persona = personas[key]
        if not persona_reference.persona_changed(r["persona"], persona, created=key in created):
            continue
        changed.append(
            CustomerSnapshot(
                tenant_id=r["tenant_id"],
                customer_id=r["id"],
                sobot_customer_id=r["sobot_customer_id"],
                mobile=r["mobile"],
                unionid=r["unionid"],
                nickname=r["nickname"],
                persona=persona,
                created=key in created,
                revision=r["revision"] + 1,
            )
        )
    if changed:
        rows = [
            (c.tenant_id, c.customer_id, c.persona, persona_digest(orjson.dumps(c.persona)), c.revision)
            for c in changed
        ]
        await conn.execute(sql.UPDATE_PERSONAS, *_columns(rows, 5))
    return changed


async def personas_from_orders(
    conn: Conn, keys: Sequence[tuple[UUID, UUID]], now: datetime, thresholds: LifecycleThresholds
) -> dict[tuple[UUID, UUID], dict[str, Any]]:
    """The persona of each of `keys` computed from all its stored orders (the reference, O(its history))."""
    tenants, ids = _columns(sorted(keys), 2)
    aggregates = await _aggregates(conn, tenants, ids)
    return {key: build_persona(aggregates.get(key, persona_reference.EMPTY), now, thresholds) for key in keys}


async def _aggregates(conn: Conn, tenants: list[Any], ids: list[Any]) -> dict[tuple[UUID, UUID], OrderAggregates]:
    rows = await conn.fetch(sql.PERSONA_AGGREGATES, tenants, ids, list(PAID_STATUSES))
    products = await conn.fetch(sql.PERSONA_PRODUCTS, tenants, ids)
    return persona_reference.aggregates_from_rows(rows, products)
