"""Reading and writing persona deltas and states. Functions take the connection first: the caller owns the
transaction (the order's transaction appends deltas; the persona stage claims, folds and stores in its own)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import orjson

from services.core.changes import CustomerSnapshot
from services.core.frozen import quick_init
from services.ingest.adapters import sql
from services.ingest.domain.persona_deltas import (
    Contribution,
    CustomerDelta,
    CustomerKey,
    Delta,
    PersonaState,
    contribution,
    contribution_from_json,
    contribution_to_json,
    state_of,
)

Conn = Any  # asyncpg.Connection (untyped library)


@quick_init  # one per customer of every fold
@dataclass(frozen=True)
class Claimed:
    """A customer the stage holds (locked): its key, as stored (identifiers and revision in `stored`), its state,
    and its stored persona's digest (`persona_digest`). The stored persona itself is read (into `stored.persona`)
    only when that digest is not stored (a customer never folded, or stored before migration 0019)."""

    key: CustomerKey
    stored: CustomerSnapshot
    state: dict[str, Any] | None
    digest: bytes | None

    def changed(self, persona: dict[str, Any], digest: bytes) -> bool:
        """Whether `persona` (with its `digest`) differs from the stored one."""
        return digest != self.digest if self.digest is not None else persona != self.stored.persona

    @property
    def created(self) -> bool:
        """Whether the customer has no persona yet (`{}`: never folded). A stored digest is one of a persona."""
        return self.digest is None and not self.stored.persona


@dataclass(frozen=True)
class Taken:
    """The deltas of the claimed customers, deleted in the stage's transaction, and how long each waited."""

    deltas: dict[CustomerKey, list[Delta]]
    lags_s: list[float]


async def append_deltas(conn: Conn, deltas: Sequence[CustomerDelta]) -> None:
    if not deltas:
        return
    await conn.execute(
        sql.INSERT_PERSONA_DELTAS,
        [d.tenant_id for d in deltas],
        [d.customer_id for d in deltas],
        [d.sign for d in deltas],
        [orjson.dumps(contribution_to_json(d.contribution)).decode() for d in deltas],
    )


async def claim(conn: Conn, keys: Sequence[CustomerKey] | None, limit: int) -> list[Claimed]:
    """Lock the customers with deltas (among `keys`, else the oldest `limit`), skipping those held elsewhere."""
    if keys is None:
        rows = await conn.fetch(sql.CLAIM_DIRTY_CUSTOMERS, limit)
    elif not keys:
        return []
    else:
        distinct = list(set(keys))  # the statement orders them (UUIDs sort slowly in Python)
        rows = await conn.fetch(sql.CLAIM_CUSTOMERS, [k[0] for k in distinct], [k[1] for k in distinct])
    return [_claimed(r) for r in rows]


def _claimed(r: Any) -> Claimed:
    """A claimed customer as stored (its persona, when read, and state read from text by orjson: see the SQL
    module)."""
    persona, state = r[7], r[8]
    known = {} if persona is None else orjson.loads(persona)
    stored = CustomerSnapshot(r[0], r[1], r[2], r[3], r[4], r[5], known, revision=r[9])
    return Claimed((r[0], r[1]), stored, None if state is None else orjson.loads(state), r[6])


async def announce(conn: Conn, keys: Sequence[CustomerKey]) -> list[CustomerSnapshot]:
    """The snapshots announcing `keys`, customers whose identifiers the caller's transaction changed (their rows
    locked by it), each with its revision raised; a customer not folded yet is left to its first fold."""
    if not keys:
        return []
    rows = await conn.fetch(sql.ANNOUNCE_CUSTOMERS, [k[0] for k in keys], [k[1] for k in keys])
    return [CustomerSnapshot(r[0], r[1], r[2], r[3], r[4], r[5], orjson.loads(r[6]), revision=r[7]) for r in rows]


async def take_deltas(conn: Conn, keys: Sequence[CustomerKey]) -> Taken:
    """Delete and return every delta of `keys` visible to the transaction's snapshot."""
    rows = await conn.fetch(sql.TAKE_PERSONA_DELTAS, [k[0] for k in keys], [k[1] for k in keys])
    deltas: dict[CustomerKey, list[Delta]] = defaultdict(list)
    for tenant_id, customer_id, sign, text, _ in rows:  # (the statement's columns; a `Delta` is (removed, added))
        c = (contribution_from_json(orjson.loads(text)),)
        deltas[(tenant_id, customer_id)].append(Delta((), c) if sign > 0 else Delta(c, ()))
    return Taken(dict(deltas), [r["lag_s"] for r in rows])


async def states_from_orders(conn: Conn, keys: Sequence[CustomerKey]) -> dict[CustomerKey, PersonaState]:
    """The state of each of `keys` computed from its stored orders (O(its history): the rare path)."""
    tenants, ids = [k[0] for k in keys], [k[1] for k in keys]
    lines: dict[tuple[UUID, str], list[tuple[str, int, str | None]]] = defaultdict(list)
    for r in await conn.fetch(sql.LINES_OF_CUSTOMERS, tenants, ids):
        lines[(r["tenant_id"], r["order_no"])].append((r["product_id"], r["quantity"], r["product_name"]))
    contributions: dict[CustomerKey, list[Contribution]] = {k: [] for k in keys}
    for r in await conn.fetch(sql.ORDERS_OF_CUSTOMERS, tenants, ids):
        contributions[(r["tenant_id"], r["customer_id"])].append(
            contribution(
                r["status"],
                r["source"],
                r["store"],
                r["order_time"],
                r["payment_time"],
                r["total_amount"],
                r["paid_amount"],
                lines[(r["tenant_id"], r["order_no"])],
            )
        )
    return {k: state_of(c) for k, c in contributions.items()}


@quick_init  # one per customer of every fold
@dataclass(frozen=True)
class StoredPersona:
    """What the stage stores of one customer: its persona (JSON text) with its digest, its state (JSON text), and
    its revision."""

    key: CustomerKey
    persona: str
    digest: bytes
    state: str
    revision: int


async def store(conn: Conn, rows: Sequence[StoredPersona]) -> None:
    """Store each customer's persona, its digest, state and revision."""
    if rows:
        await conn.execute(
            sql.STORE_PERSONAS,
            [r.key[0] for r in rows],
            [r.key[1] for r in rows],
            [r.persona for r in rows],
            [r.digest for r in rows],
            [r.state for r in rows],
            [r.revision for r in rows],
        )
