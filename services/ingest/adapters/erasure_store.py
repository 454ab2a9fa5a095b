"""SQL of customer erasure and of the erased-identifier check. Functions take the connection first; the caller
owns the transaction (erasure is one transaction: see `application.erasure`)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

Conn = Any

LOCK_CUSTOMER = """
SELECT sobot_customer_id, mobile, unionid, nickname FROM customers WHERE tenant_id = $1 AND id = $2 FOR UPDATE
"""

LOCK_ORDERS = """
SELECT order_no FROM orders WHERE tenant_id = $1 AND customer_id = $2 ORDER BY order_no FOR UPDATE
"""

ERASE_CUSTOMER = """
UPDATE customers SET sobot_customer_id = NULL, mobile = NULL, unionid = NULL, nickname = NULL, updated_at = now()
WHERE tenant_id = $1 AND id = $2
"""

# `buyer` keeps its shape (an object) with nothing in it; the receiver and the free-text remark go; so does the
# digest of the message that wrote the order (migration 0013): the order is no longer what that message left
ERASE_ORDERS = """
UPDATE orders SET buyer = '{}'::jsonb, receiver = NULL, remark = NULL, digest = NULL, updated_at = now()
WHERE tenant_id = $1 AND customer_id = $2
"""

DELETE_CONFLICTS = """
DELETE FROM identity_conflicts
WHERE tenant_id = $1 AND (customer_id = $2 OR held_by = $2 OR order_no = ANY($3::text[]) OR value = ANY($4::text[]))
"""

# the rows of the customer's orders, and any row quoting one of its values as a whole cell (an order held back or
# refused, never stored): a scan of the tenant's rows, acceptable for an operation this rare
UPLOADED_ROWS = """
SELECT r.import_id, r.row_no, r.cells, i.header
FROM import_rows r JOIN imports i ON i.tenant_id = r.tenant_id AND i.id = r.import_id
WHERE r.tenant_id = $1 AND (r.order_no = ANY($2::text[]) OR r.cells::text LIKE ANY($3::text[]))
"""

REDACT_ROWS = """
UPDATE import_rows r SET cells = u.cells::jsonb, issues = ''
FROM unnest($2::uuid[], $3::int[], $4::text[]) AS u (import_id, row_no, cells)
WHERE r.tenant_id = $1 AND r.import_id = u.import_id AND r.row_no = u.row_no
"""

# the values (and the messages quoting them) of the first errors an import keeps, on the rows of those orders
REDACT_FIRST_ERRORS = """
UPDATE imports i SET first_errors = (
    SELECT coalesce(jsonb_agg(CASE WHEN (x.e ->> 'row')::int = ANY (u.rows)
                                   THEN x.e || '{"value": "", "message": ""}'::jsonb ELSE x.e END ORDER BY x.n), '[]')
    FROM jsonb_array_elements(i.first_errors) WITH ORDINALITY AS x (e, n))
FROM (SELECT import_id, array_agg(row_no) AS rows FROM unnest($2::uuid[], $3::int[]) AS r (import_id, row_no)
      GROUP BY import_id) u
WHERE i.tenant_id = $1 AND i.id = u.import_id AND jsonb_array_length(i.first_errors) > 0
"""

# the customer's earlier states, sent or not: the tombstone enqueued next replaces them all
REMEMBER_IDENTIFIERS = """
INSERT INTO erased_identifiers (tenant_id, kind, digest)
SELECT $1, k, d FROM unnest($2::text[], $3::bytea[]) AS u (k, d)
ON CONFLICT DO NOTHING
"""

AUDIT = """
INSERT INTO customer_erasures (tenant_id, customer_id, erased_by, identifiers, orders)
VALUES ($1, $2, $3, $4, $5)
RETURNING erased_at
"""

# one probe of the primary key per tenant (its leading column)
TENANTS_WITH_ERASURES = """
SELECT t.id FROM unnest($1::uuid[]) AS t (id) WHERE EXISTS (SELECT 1 FROM erased_identifiers e WHERE e.tenant_id = t.id)
"""

ERASED_AMONG = """
SELECT e.tenant_id, e.kind, e.digest
FROM unnest($1::uuid[], $2::text[], $3::bytea[]) AS u (tenant_id, kind, digest)
JOIN erased_identifiers e ON e.tenant_id = u.tenant_id AND e.kind = u.kind AND e.digest = u.digest
"""

SET_MASK_MOBILES = """
INSERT INTO tenant_settings (tenant_id, mask_mobiles) SELECT id, $2 FROM tenants WHERE id = $1
ON CONFLICT (tenant_id) DO UPDATE SET mask_mobiles = EXCLUDED.mask_mobiles, updated_at = now()
"""

MASK_MOBILES = "SELECT mask_mobiles FROM tenant_settings WHERE tenant_id = $1"


async def lock_customer(conn: Conn, tenant_id: UUID, customer_id: UUID) -> dict[str, str | None] | None:
    row = await conn.fetchrow(LOCK_CUSTOMER, tenant_id, customer_id)
    return None if row is None else dict(row)


async def lock_orders(conn: Conn, tenant_id: UUID, customer_id: UUID) -> list[str]:
    return [r["order_no"] for r in await conn.fetch(LOCK_ORDERS, tenant_id, customer_id)]


async def erase_rows(conn: Conn, tenant_id: UUID, customer_id: UUID, order_nos: list[str], values: list[str]) -> None:
    await conn.execute(ERASE_CUSTOMER, tenant_id, customer_id)
    await conn.execute(ERASE_ORDERS, tenant_id, customer_id)
    await conn.execute(DELETE_CONFLICTS, tenant_id, customer_id, order_nos, values)


async def uploaded_rows(conn: Conn, tenant_id: UUID, order_nos: list[str], values: list[str]) -> list[dict[str, Any]]:
    """The rows of `order_nos`, and the rows with a cell that is exactly one of `values`."""
    patterns = [f"%{_like_escaped(json.dumps(v, ensure_ascii=False))}%" for v in values]
    return [dict(r) for r in await conn.fetch(UPLOADED_ROWS, tenant_id, order_nos, patterns)]


def _like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def redact_first_errors(conn: Conn, tenant_id: UUID, rows: Sequence[tuple[UUID, int]]) -> None:
    if rows:
        await conn.execute(REDACT_FIRST_ERRORS, tenant_id, [i for i, _ in rows], [n for _, n in rows])


async def redact_rows(conn: Conn, tenant_id: UUID, rows: Sequence[tuple[UUID, int, str]]) -> None:
    if rows:
        await conn.execute(REDACT_ROWS, tenant_id, *(list(column) for column in zip(*rows, strict=True)))


async def remember(conn: Conn, tenant_id: UUID, digests: Sequence[tuple[str, bytes]]) -> None:
    await conn.execute(REMEMBER_IDENTIFIERS, tenant_id, [k for k, _ in digests], [d for _, d in digests])


async def audit(conn: Conn, tenant_id: UUID, customer_id: UUID, by: str, kinds: list[str], orders: int) -> datetime:
    at: datetime = await conn.fetchval(AUDIT, tenant_id, customer_id, by, kinds, orders)
    return at


async def tenants_with_erasures(conn: Conn, tenant_ids: Iterable[UUID]) -> set[UUID]:
    """Which of `tenant_ids` have erased an identifier."""
    wanted = list(set(tenant_ids))
    if not wanted:
        return set()
    return {r["id"] for r in await conn.fetch(TENANTS_WITH_ERASURES, wanted)}


async def erased_among(conn: Conn, wanted: Sequence[tuple[UUID, str, bytes]]) -> set[tuple[UUID, str, bytes]]:
    """Which of `wanted` (tenant, kind, digest) were erased."""
    if not wanted:
        return set()
    rows = await conn.fetch(ERASED_AMONG, *(list(column) for column in zip(*wanted, strict=True)))
    return {(r["tenant_id"], r["kind"], bytes(r["digest"])) for r in rows}


async def set_mask_mobiles(conn: Conn, tenant_id: UUID, on: bool) -> bool:
    """False: no such tenant."""
    status: str = await conn.execute(SET_MASK_MOBILES, tenant_id, on)
    return status.split()[-1] != "0"


async def masks_mobiles(conn: Conn, tenant_id: UUID) -> bool:
    return bool(await conn.fetchval(MASK_MOBILES, tenant_id))
