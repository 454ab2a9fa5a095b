"""The read side: the order list, one order's details and a customer's consumption data. All SQL here, by name.

Isolation: every statement filters on the tenant id passed first; nothing here can read another tenant's rows.
Ordering: order lists are newest first, `(order_time DESC, order_no DESC)`, a total order (order_no is unique per
tenant), so keyset pages that continue after `(order_time, order_no)` neither skip nor repeat a row, whatever is
inserted between two pages. Functions take the connection first; the caller owns it (and any transaction).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from services.core.keys import order_key
from services.ingest.domain.export import orders_within

Conn = Any  # asyncpg.Connection (untyped library)
Row = dict[str, Any]

# --- order list ------------------------------------------------------------------------------------------------------

SUMMARY_COLUMNS = """o.order_no, o.source, o.status, o.status_raw, o.order_time, o.payment_time, o.store,
       o.customer_id, o.total_amount, o.paid_amount"""

ORDER_LIST_BRANCH = """(SELECT {columns}
 FROM orders o
 WHERE {conditions}
 ORDER BY o.order_time DESC, o.order_no DESC
 LIMIT $2)"""

# The page is chosen first; line counts are then read for its rows only.
ORDER_LIST = """
WITH page AS (
 SELECT * FROM (
{branches}
 ) AS branches
 ORDER BY order_time DESC, order_no DESC
 LIMIT $2
)
SELECT page.*,
       (SELECT count(*) FROM order_lines l WHERE l.tenant_id = $1 AND l.order_no = page.order_no) AS line_count
FROM page
ORDER BY page.order_time DESC, page.order_no DESC
"""

# Condition templates; `{}` is the parameter number. Branches: one per status and per store column (see `_branches`).
FILTER_CONDITIONS = {
    "tenant": "o.tenant_id = $1",
    "order_no": "o.order_no = ${}",
    "prefix_from": 'o.order_no COLLATE "C" >= ${}',
    "prefix_below": 'o.order_no COLLATE "C" < ${}',
    "prefix_members": "o.order_no = ANY(${})",
    "status": "o.status = ${}",
    "time_from": "o.order_time >= ${}",
    "time_to": "o.order_time < ${}",
    "store_no": "o.store ->> 'store_no' = ${}",
    "store_id": "o.store ->> 'store_id' = ${}",
    "source": "o.source = ${}",
    "customer": "o.customer_id = ${}",
    "after": "(o.order_time, o.order_no) < (${}, ${})",
}

# A prefix's matches can sit anywhere in time (a prefix that names a month): the planner, expecting them spread
# evenly, walks the time index and may read most of the table. So a prefix is first probed on its own index, at
# most PREFIX_PROBE_LIMIT entries; a prefix that few orders share ("narrow") is then listed from its range of the
# prefix index (`NARROW_PREFIX_LIST`).
PREFIX_PROBE_LIMIT = 5000
PREFIX_MEMBERS = """
SELECT array_agg(order_no) FROM (
 SELECT order_no FROM orders
 WHERE tenant_id = $1 AND order_no COLLATE "C" >= $2 AND ($3::text IS NULL OR order_no COLLATE "C" < $3)
 LIMIT $4
) AS matching
"""

# A narrow prefix (at most PREFIX_PROBE_LIMIT orders) is listed in one statement, no branches: its matches that
# meet the other conditions, keys only, from whichever index the planner finds the most selective for the whole
# set (behind `OFFSET 0` it plans that read without the ORDER BY/LIMIT, so it never walks down an ordered index
# hoping to meet the prefix early): the prefix's range of the prefix index, index-only when the other conditions
# are on its included columns (status, time, the keyset position), or e.g. a customer's orders. The read is kept
# as a top-N sort, then the page's rows are read by key. Its cost is at most the prefix's orders, never the table
# (the former `order_no = ANY(members)` with the listing's ORDER BY walked the time index: a month's prefix of one
# source read 460,000 orders, 2.3 s).
NARROW_PREFIX_LIST = """
WITH keys AS (
 SELECT * FROM (
  SELECT o.order_time, o.order_no FROM orders o
  WHERE {conditions}
  OFFSET 0
 ) AS matching
 ORDER BY matching.order_time DESC, matching.order_no DESC
 LIMIT $2
),
page AS (
 SELECT {columns}
 FROM keys JOIN orders o ON o.tenant_id = $1 AND o.order_no = keys.order_no
)
SELECT page.*,
       (SELECT count(*) FROM order_lines l WHERE l.tenant_id = $1 AND l.order_no = page.order_no) AS line_count
FROM page
ORDER BY page.order_time DESC, page.order_no DESC
"""

# A prefix that more orders share ("wide") is listed in two bounded steps, in one statement per branch:
# 1. `found`: the prefix's matches among the newest PREFIX_WALK orders that match the other conditions (`walked`),
#    keys only, from the branch's list index (whose last columns are the keys; it stops at a page of matches). A
#    prefix spread over time fills the page here after a few hundred entries.
# 2. `beyond`, only when `found` is short of a page: the prefix's matches older than the walk's last row, read from
#    the prefix index, index-only (behind `OFFSET 0` the planner plans that read without the ORDER BY/LIMIT, so it
#    never walks down the time index), kept as a top-N sort: its cost is the prefix's matches, never the table.
#    No walk's last row (fewer orders than PREFIX_WALK): no `beyond`.
# Every match down to the walk's last row is in the walk and every older one in `beyond`: the union is exact.
# The walk is read once: `walked` keeps, besides the walk's first matches (`hit`), the walk's last row (`n` =
# PREFIX_WALK), which the walk reaches only when it is short of a page: then that row bounds `beyond`.
PREFIX_WALK = 5_000
WIDE_PREFIX_BRANCH = """(WITH walked AS MATERIALIZED (
  SELECT w.order_time, w.order_no, w.n, ({walk_prefix}) AS hit FROM (
   SELECT o.order_time, o.order_no, row_number() OVER (ORDER BY o.order_time DESC, o.order_no DESC) AS n
   FROM orders o
   WHERE {conditions}
   ORDER BY o.order_time DESC, o.order_no DESC
   LIMIT {walk}
  ) AS w
  WHERE ({walk_prefix}) OR w.n = {walk}
  ORDER BY w.order_time DESC, w.order_no DESC
  LIMIT $2 + 1
 ),
 found AS (
  SELECT f.order_time, f.order_no FROM walked f WHERE f.hit
  ORDER BY f.order_time DESC, f.order_no DESC
  LIMIT $2
 ),
 beyond AS (
  SELECT * FROM (
   SELECT o.order_time, o.order_no FROM orders o
   WHERE {conditions} AND {prefix}
     AND (SELECT count(*) FROM walked WHERE walked.hit) < $2
     AND (o.order_time, o.order_no) < (SELECT l.order_time, l.order_no FROM walked l WHERE l.n = {walk})
   OFFSET 0
  ) AS older
  ORDER BY older.order_time DESC, older.order_no DESC
  LIMIT $2
 ),
 keys AS (
  SELECT * FROM (SELECT * FROM found UNION ALL SELECT * FROM beyond) AS k
  ORDER BY k.order_time DESC, k.order_no DESC
  LIMIT $2
 )
 SELECT {columns}
 FROM keys JOIN orders o ON o.tenant_id = $1 AND o.order_no = keys.order_no
 ORDER BY o.order_time DESC, o.order_no DESC)"""

# --- counts and the import list ------------------------------------------------------------------------------------

# A bounded count: at most `cap` + 1 matching rows are read (from the filter's index), so a count costs at most
# about as much as a page of `cap` rows, whatever the tenant's size; above `cap` the caller shows "cap+".
ORDER_COUNT = "SELECT count(*) FROM (SELECT 1 FROM orders o WHERE {conditions} LIMIT $2) AS matching"

# The tenant's imports, newest first, in keyset pages after (created_at, id), optionally in one state.
IMPORTS_PAGE = """
SELECT * FROM imports
WHERE tenant_id = $1 AND ($2::text IS NULL OR state = $2)
  AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4::uuid))
ORDER BY created_at DESC, id DESC
LIMIT $5
"""

# --- export ------------------------------------------------------------------------------------------------------

# The lines of one page of the order list (its order nos.) with their orders' fields, in the listing's order.
EXPORT_LINES = """
SELECT o.order_no, o.source, o.status, o.status_raw, o.order_time, o.payment_time, o.store, o.buyer, o.receiver,
       o.order_amount, o.paid_amount, o.remark,
       l.product_id, l.sku, l.product_name, l.quantity, l.unit_price, l.line_amount
FROM orders o
JOIN order_lines l ON l.tenant_id = o.tenant_id AND l.order_no = o.order_no
WHERE o.tenant_id = $1 AND o.order_no = ANY($2::text[])
ORDER BY o.order_time DESC, o.order_no DESC, l.product_id, l.sku
"""

# --- one order -------------------------------------------------------------------------------------------------------

ORDER_BY_NO = """
SELECT order_no, source, status, status_raw, order_time, payment_time, store, customer_id, matched_by, buyer,
       receiver, order_amount, paid_amount, total_amount, remark, version, created_at, updated_at
FROM orders WHERE tenant_id = $1 AND order_no = $2
"""

LINES_OF_ORDER = """
SELECT product_id, sku, product_name, quantity, unit_price, line_amount
FROM order_lines WHERE tenant_id = $1 AND order_no = $2
ORDER BY product_id, sku
"""

STATUS_HISTORY = """
SELECT status, first_seen_at FROM order_status_history WHERE tenant_id = $1 AND order_no = $2
ORDER BY first_seen_at, status
"""

MAX_EVENTS = 100  # an order's details show its latest events: an order changed every day for years has thousands
# The latest $4 events of the key (outbox_by_key, walked backwards), oldest first.
EVENTS_OF_KEY = """
SELECT event_id, event_type, created_at, sent_at, state, parked_at, parked_reason FROM (
 SELECT id, event_id, event_type, created_at, sent_at,
        CASE WHEN sent_at IS NOT NULL THEN 'sent' WHEN failed_at IS NOT NULL THEN 'parked' ELSE 'pending' END AS state,
        failed_at AS parked_at, failure AS parked_reason
 FROM outbox
 WHERE tenant_id = $1 AND key = $2 AND topic = $3
 ORDER BY id DESC
 LIMIT $4
) AS latest
ORDER BY id
"""
EVENT_COUNT_OF_KEY = "SELECT count(*) FROM outbox WHERE tenant_id = $1 AND key = $2 AND topic = $3"

# --- customers -------------------------------------------------------------------------------------------------------

_CUSTOMER = """
SELECT id, sobot_customer_id, mobile, unionid, nickname, persona, created_at, updated_at
FROM customers WHERE tenant_id = $1 AND {column} = $2
"""

CUSTOMER_BY_ID = _CUSTOMER.format(column="id")
CUSTOMER_BY_IDENTIFIER = {
    name: _CUSTOMER.format(column=name) for name in ("mobile", "unionid", "sobot_customer_id")
}  # each served by its unique index


@dataclass(frozen=True)
class OrderFilter:
    """Conditions on the order list; all given conditions must hold. `order_time_to` is exclusive."""

    order_no: str | None = None
    order_no_prefix: str | None = None
    statuses: tuple[str, ...] = ()
    order_time_from: datetime | None = None
    order_time_to: datetime | None = None
    store: str | None = None
    source: str | None = None
    customer_id: UUID | None = None


@dataclass(frozen=True)
class Position:
    """Where a page ended: the next page holds the orders strictly after it in the listing order."""

    order_time: datetime
    order_no: str


def prefix_upper_bound(prefix: str) -> str | None:
    """The least string above every string starting with `prefix` in code-point ("C") order; None if unbounded."""
    chars = list(prefix)
    while chars:
        last = ord(chars.pop()) + 1
        if 0xD800 <= last <= 0xDFFF:
            last = 0xE000
        if last <= 0x10FFFF:
            return "".join(chars) + chr(last)
    return None


class _Params:
    def __init__(self, first: Sequence[Any]) -> None:
        self.values = list(first)

    def add(self, template: str, *values: Any) -> str:
        numbers = range(len(self.values) + 1, len(self.values) + 1 + len(values))
        self.values.extend(values)
        return template.format(*numbers)


def order_list_statement(
    tenant_id: UUID, where: OrderFilter, after: Position | None, limit: int, prefix_members: list[str] | None = None
) -> tuple[str, list[Any]]:
    """The order-list statement and its arguments (exposed for EXPLAIN in the benchmark).

    Disjunctions (several statuses; store no. or store ID) become one branch each, every branch an ordered index
    range limited to `limit` rows: a page never reads more than branches x limit rows from the indexes (a wide
    prefix: at most PREFIX_WALK index entries and the prefix's matches per branch, see `WIDE_PREFIX_BRANCH`).
    """
    if where.order_no_prefix and prefix_members is not None and where.order_no is None:
        return _narrow_prefix_statement(tenant_id, where, after, limit)
    params = _Params([tenant_id, limit])
    wide = bool(where.order_no_prefix) and prefix_members is None and where.order_no is None
    shared = [FILTER_CONDITIONS["tenant"], *_conjunctions(params, where, after, prefix_members, with_range=not wide)]
    prefix = _prefix_range(params, where.order_no_prefix or "") if wide else []
    alternatives: list[list[str]] = []
    if where.statuses:
        alternatives.append([params.add(FILTER_CONDITIONS["status"], s) for s in sorted(set(where.statuses))])
    if where.store is not None:
        number = params.add("{}", where.store)
        alternatives.append([FILTER_CONDITIONS[c].replace("${}", f"${number}") for c in ("store_no", "store_id")])
    branches = []
    for choice in itertools.product(*alternatives):
        conditions = "\n   AND ".join(shared + list(choice))
        if wide:
            branches.append(
                WIDE_PREFIX_BRANCH.format(
                    columns=SUMMARY_COLUMNS,
                    conditions=conditions,
                    prefix=" AND ".join(prefix),
                    walk_prefix=" AND ".join(prefix).replace("o.order_no", "w.order_no"),
                    walk=PREFIX_WALK,
                )
            )
        else:
            branches.append(ORDER_LIST_BRANCH.format(columns=SUMMARY_COLUMNS, conditions=conditions))
    return ORDER_LIST.format(branches="\n UNION\n".join(branches)), params.values


def _narrow_prefix_statement(
    tenant_id: UUID, where: OrderFilter, after: Position | None, limit: int
) -> tuple[str, list[Any]]:
    """`NARROW_PREFIX_LIST` for `where` (its prefix probed narrow): one read, disjunctions as conditions."""
    params = _Params([tenant_id, limit])
    conditions = [FILTER_CONDITIONS["tenant"], *_conjunctions(params, where, after, None, with_range=True)]
    conditions += _disjunctions(params, where)
    statement = NARROW_PREFIX_LIST.format(columns=SUMMARY_COLUMNS, conditions="\n   AND ".join(conditions))
    return statement, params.values


def _disjunctions(params: _Params, where: OrderFilter) -> list[str]:
    """The filter's statuses and its store (no. or ID) as one condition each (`OR`), not as branches."""
    conditions = []
    if where.statuses:
        conditions.append(params.add("o.status = ANY(${}::text[])", sorted(set(where.statuses))))
    if where.store is not None:
        number = params.add("{}", where.store)
        either = [FILTER_CONDITIONS[c].replace("${}", f"${number}") for c in ("store_no", "store_id")]
        conditions.append(f"({' OR '.join(either)})")
    return conditions


def _prefix_range(params: _Params, prefix: str) -> list[str]:
    conditions = [params.add(FILTER_CONDITIONS["prefix_from"], prefix)]
    upper = prefix_upper_bound(prefix)
    if upper is not None:
        conditions.append(params.add(FILTER_CONDITIONS["prefix_below"], upper))
    return conditions


def _conjunctions(
    params: _Params, where: OrderFilter, after: Position | None, prefix_members: list[str] | None, with_range: bool
) -> list[str]:
    conditions = []
    if where.order_no is not None:
        conditions.append(params.add(FILTER_CONDITIONS["order_no"], where.order_no))
    if where.order_no_prefix and prefix_members is not None:
        conditions.append(params.add(FILTER_CONDITIONS["prefix_members"], prefix_members))
    elif where.order_no_prefix and with_range:
        conditions += _prefix_range(params, where.order_no_prefix)
    if where.order_time_from is not None:
        conditions.append(params.add(FILTER_CONDITIONS["time_from"], where.order_time_from))
    if where.order_time_to is not None:
        conditions.append(params.add(FILTER_CONDITIONS["time_to"], where.order_time_to))
    if where.source is not None:
        conditions.append(params.add(FILTER_CONDITIONS["source"], where.source))
    if where.customer_id is not None:
        conditions.append(params.add(FILTER_CONDITIONS["customer"], where.customer_id))
    if after is not None:
        conditions.append(params.add(FILTER_CONDITIONS["after"], after.order_time, after.order_no))
    return conditions


async def list_orders(
    conn: Conn, tenant_id: UUID, where: OrderFilter, after: Position | None = None, limit: int = 50
) -> list[Row]:
    """At most `limit` order summaries of `tenant_id` matching `where`, newest first, strictly after `after`."""
    members = await prefix_members(conn, tenant_id, where)
    statement, args = order_list_statement(tenant_id, where, after, limit, members)
    return [dict(r) for r in await conn.fetch(statement, *args)]


async def prefix_members(conn: Conn, tenant_id: UUID, where: OrderFilter) -> list[str] | None:
    """The order nos. with the filter's prefix when there are at most PREFIX_PROBE_LIMIT of them, else None."""
    if not where.order_no_prefix or where.order_no is not None:
        return None
    upper = prefix_upper_bound(where.order_no_prefix)
    found = await conn.fetchval(PREFIX_MEMBERS, tenant_id, where.order_no_prefix, upper, PREFIX_PROBE_LIMIT + 1)
    members: list[str] = found or []
    return members if len(members) <= PREFIX_PROBE_LIMIT else None


def order_count_statement(
    tenant_id: UUID, where: OrderFilter, cap: int, prefix_members: list[str] | None = None
) -> tuple[str, list[Any]]:
    """The bounded count of the orders matching `where` (see `ORDER_COUNT`) and its arguments."""
    params = _Params([tenant_id, cap + 1])
    conditions = [FILTER_CONDITIONS["tenant"], *_conjunctions(params, where, None, prefix_members, with_range=True)]
    conditions += _disjunctions(params, where)
    return ORDER_COUNT.format(conditions="\n   AND ".join(conditions)), params.values


async def count_orders(conn: Conn, tenant_id: UUID, where: OrderFilter, cap: int) -> int:
    """How many orders of `tenant_id` match `where`, exactly up to `cap`; `cap` + 1 means "more than `cap`"."""
    members = await prefix_members(conn, tenant_id, where)
    statement, args = order_count_statement(tenant_id, where, cap, members)
    count: int = await conn.fetchval(statement, *args)
    return count


@dataclass(frozen=True)
class ImportPosition:
    """Where a page of the import list ended."""

    created_at: datetime
    import_id: UUID


async def list_imports(
    conn: Conn, tenant_id: UUID, state: str | None, after: ImportPosition | None, limit: int
) -> list[Row]:
    """At most `limit` imports of `tenant_id` (in `state`, if given), newest first, strictly after `after`."""
    at, import_id = (after.created_at, after.import_id) if after else (None, None)
    return [dict(r) for r in await conn.fetch(IMPORTS_PAGE, tenant_id, state, at, import_id, limit)]


async def export_page(
    conn: Conn, tenant_id: UUID, where: OrderFilter, after: Position | None, page_size: int, max_lines: int
) -> tuple[list[Row], Position | None]:
    """The lines (with their orders' fields) of the next orders matching `where` after `after`, in the listing's
    order: at most `page_size` orders and `max_lines` lines (but always one order, whatever its lines); and where
    the next page starts (None: this was the last).

    An export walks these keyset pages, each its own statement (no transaction held for the whole export): an order
    changed meanwhile shows its old or its new fields, but no order is skipped or repeated (see the module's
    ordering guarantee)."""
    page = await list_orders(conn, tenant_id, where, after, page_size)
    if not page:
        return [], None
    taken = page[: orders_within([r["line_count"] for r in page], max_lines)]
    lines = await conn.fetch(EXPORT_LINES, tenant_id, [r["order_no"] for r in taken])
    last = Position(taken[-1]["order_time"], taken[-1]["order_no"])
    return [dict(r) for r in lines], last if len(taken) < len(page) or len(page) == page_size else None


async def get_order(conn: Conn, tenant_id: UUID, order_no: str, events_topic: str) -> Row | None:
    """One order with `lines`, `customer` (identifiers), `status_history`, its latest `MAX_EVENTS` `events` and
    `events_not_shown` (the older ones); None if the tenant has no such order. Reads without a transaction: the
    parts may straddle a concurrent update (read committed)."""
    order = await conn.fetchrow(ORDER_BY_NO, tenant_id, order_no)
    if order is None:
        return None
    found = dict(order)
    found["lines"] = [dict(r) for r in await conn.fetch(LINES_OF_ORDER, tenant_id, order_no)]
    found["status_history"] = [dict(r) for r in await conn.fetch(STATUS_HISTORY, tenant_id, order_no)]
    key = order_key(tenant_id, order_no)
    found["events"] = [dict(r) for r in await conn.fetch(EVENTS_OF_KEY, tenant_id, key, events_topic, MAX_EVENTS)]
    shown = len(found["events"])
    total = await conn.fetchval(EVENT_COUNT_OF_KEY, tenant_id, key, events_topic) if shown == MAX_EVENTS else shown
    found["events_not_shown"] = total - shown
    found["customer"] = await get_customer(conn, tenant_id, found["customer_id"])
    return found


async def get_customer(conn: Conn, tenant_id: UUID, customer_id: UUID) -> Row | None:
    row = await conn.fetchrow(CUSTOMER_BY_ID, tenant_id, customer_id)
    return dict(row) if row else None


async def find_customer(conn: Conn, tenant_id: UUID, identifier: str, value: str) -> Row | None:
    """The tenant's customer holding `identifier` (mobile, unionid or sobot_customer_id) = `value`, if any."""
    row = await conn.fetchrow(CUSTOMER_BY_IDENTIFIER[identifier], tenant_id, value)
    return dict(row) if row else None
