"""The persona stage: folds the deltas that order transactions appended into each customer's persona.

Guarantees:
- Exact after any crash and redelivery: an order's delta commits with the order (or not at all); the stage
  deletes the deltas it folds in the transaction that stores the new persona, so each delta is folded once. An
  unchanged redelivery appends no delta.
- It never waits on another transaction while holding customers: it claims them `FOR UPDATE SKIP LOCKED` (another
  stage's customers are left to it) and reads in one REPEATABLE READ snapshot, so the deltas it deletes are exactly
  those of the orders it could read (a recomputation from the orders never counts a delta twice).
- `customers.updated.v1` is emitted once per customer whose persona changed (or that is new: it had none), in the
  same transaction. Several orders of one customer folded together yield one event of the resulting persona.
- Cost: O(deltas) per customer, not O(its history); a removed extreme that cannot be known otherwise (see
  `domain.persona_deltas.fold`) recomputes that one customer from its orders.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from services.core.changes import CustomerSnapshot, OrderChange
from services.ingest import errors
from services.ingest.adapters import persona_store
from services.ingest.adapters.persona_store import StoredPersona
from services.ingest.adapters.storage import storage_errors
from services.ingest.domain.persona import LifecycleThresholds
from services.ingest.domain.persona_deltas import (
    CustomerKey,
    PersonaClock,
    PersonaState,
    fold,
    persona_digest,
    persona_of,
    state_from_json,
    state_to_json,
)

log = logging.getLogger("orderinfo.ingest.personas")
Conn = Any
EmitEvents = Callable[[Conn, Sequence[OrderChange], Sequence[CustomerSnapshot]], Awaitable[int]]
ATTEMPTS = 3


@dataclass
class FoldResult:
    customers: int = 0  # folded
    deltas: int = 0
    recomputed: int = 0  # from their orders
    events: int = 0
    lags_s: list[float] = field(default_factory=list)  # per delta: its insert to its fold


async def fold_personas(
    conn: Conn,
    emit: EmitEvents,
    now: datetime,
    thresholds: LifecycleThresholds,
    keys: Sequence[CustomerKey] | None = None,
    limit: int = 500,
) -> FoldResult:
    """Fold the deltas of `keys` (else of the `limit` customers with the oldest deltas) in one transaction on
    `conn`. A serialization failure (a customer changed after the snapshot) is retried; after `ATTEMPTS` the
    deltas stay for the next pass. Customers another stage holds are skipped (that stage or the next pass folds
    them)."""
    for attempt in range(ATTEMPTS):
        try:
            async with storage_errors(), conn.transaction(isolation="repeatable_read"):
                return await _fold(conn, emit, now, thresholds, keys, limit)
        except errors.StorageUnavailable:
            raise
        except errors.TransientStorage as exc:
            log.info("persona fold conflicted (%s); attempt %d of %d", exc.detail, attempt + 1, ATTEMPTS)
    return FoldResult()


async def _fold(
    conn: Conn,
    emit: EmitEvents,
    now: datetime,
    thresholds: LifecycleThresholds,
    keys: Sequence[CustomerKey] | None,
    limit: int,
) -> FoldResult:
    claimed = await persona_store.claim(conn, keys, limit)
    if not claimed:
        return FoldResult()
    taken = await persona_store.take_deltas(conn, [c.key for c in claimed])
    states: dict[CustomerKey, PersonaState] = {}
    unknown = []
    for customer in claimed:
        deltas = taken.deltas.get(customer.key, [])
        folded = fold(state_from_json(customer.state), deltas, in_place=True) if customer.state is not None else None
        if folded is None:
            unknown.append(customer.key)
        else:
            states[customer.key] = folded
    if unknown:
        states.update(await persona_store.states_from_orders(conn, unknown))
    clock = PersonaClock.at(now, thresholds)
    rows, snapshots = [], []
    for customer in claimed:
        state = states[customer.key]
        persona = persona_of(state, clock)
        # Encoded here, while the customer's objects are in the cache (measured cheaper than a pass of its own);
        # the stored text and the event's payload share the persona's bytes.
        persona_json = orjson.dumps(persona)
        digest = persona_digest(persona_json)
        stored = customer.stored
        changed = customer.changed(persona, digest)
        # The revision names the change's event: raised once per change (the row is locked: no one else raises it).
        revision = (stored.revision or 0) + int(changed)
        state_json = orjson.dumps(state_to_json(state)).decode()
        rows.append(StoredPersona(customer.key, persona_json.decode(), digest, state_json, revision))
        if changed:
            # a new customer has no persona until its first fold; the snapshot is built directly
            # (`dataclasses.replace` cost more than the rest of the row)
            snapshots.append(
                CustomerSnapshot(
                    stored.tenant_id,
                    stored.customer_id,
                    stored.sobot_customer_id,
                    stored.mobile,
                    stored.unionid,
                    stored.nickname,
                    persona,
                    customer.created,
                    persona_json,
                    revision,
                )
            )
    await persona_store.store(conn, rows)
    events = await emit(conn, [], snapshots)
    count = sum(len(d) for d in taken.deltas.values())
    return FoldResult(len(claimed), count, len(unknown), events, taken.lags_s)


def lag_note(lags_s: Sequence[float]) -> str:
    """The persona lag of a fold (an order's delta to its customer's update) for the log: p99 and max, in ms."""
    if not lags_s:
        return ""
    ordered = sorted(lags_s)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"; persona lag p99 {p99 * 1000:.1f} ms max {ordered[-1] * 1000:.1f} ms ({len(ordered)} deltas)"


async def fold_forever(
    pool: Any, emit: EmitEvents, thresholds: LifecycleThresholds, interval_s: float, stop: asyncio.Event
) -> None:
    """Fold whatever is left (a batch's fold that crashed, customers another stage held) every `interval_s`
    until `stop` is set; a failed pass is logged and tried again at the next interval."""
    while not stop.is_set():
        try:
            while not stop.is_set():
                async with pool.acquire() as conn:
                    result = await fold_personas(conn, emit, datetime.now(UTC), thresholds)
                if result.customers:
                    log.info(
                        "persona stage: %d customers from %d deltas%s",
                        result.customers,
                        result.deltas,
                        lag_note(result.lags_s),
                    )
                if result.customers < 500:
                    break
        except Exception:
            log.exception("persona stage failed; trying again in %.1f s", interval_s)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval_s)
