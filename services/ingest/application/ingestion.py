"""Ingesting a batch of `orders.ingest.v1` records: validate, upsert, resolve buyers, refresh personas, emit events.

Guarantees:
- One database transaction per batch. Orders, lines, stores, products, customers, personas, outbox rows and import
  counters commit together or not at all; the caller acknowledges the Kafka offsets only after this returns.
- Idempotent: applying the same batch again changes no row, emits no event and counts nothing twice, so
  at-least-once delivery yields exactly-once data.
- Per-order order: records of one order (one key, one partition) are applied in offset order, in successive rounds.
- Invalid records are returned as `Rejected` (for the dead-letter topic); they never stop their neighbours.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from services.ingest import errors
from services.ingest.adapters import import_jobs, order_store
from services.ingest.adapters.import_jobs import OrderResult
from services.ingest.contracts.orders_ingest_v1 import OrderIngestV1, message_key
from services.ingest.domain.persona import LifecycleThresholds
from services.ingest.domain.planning import Incoming, Outcome, plan_round
from services.rules_bridge.domain.changes import CustomerSnapshot, OrderChange

Conn = Any
EmitEvents = Callable[[Conn, Sequence[OrderChange], Sequence[CustomerSnapshot]], Awaitable[int]]


@dataclass(frozen=True)
class Received:
    """One consumed record, with where it came from (for dead-letter headers)."""

    ref: int
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True)
class Rejected:
    ref: int
    reason: str
    message: str
    tenant_id: UUID | None = None
    import_id: UUID | None = None
    order_no: str | None = None


@dataclass
class BatchResult:
    outcomes: list[Outcome] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    events: int = 0
    customers_changed: int = 0
    rounds: int = 0


def decode(records: Sequence[Received]) -> tuple[list[Incoming], list[Rejected]]:
    """Validate each record against the contract and its key; pure."""
    accepted: list[Incoming] = []
    rejected: list[Rejected] = []
    for record in records:
        result = _decode_one(record)
        (accepted if isinstance(result, Incoming) else rejected).append(result)  # type: ignore[arg-type]
    return accepted, rejected


def _decode_one(record: Received) -> Incoming | Rejected:
    try:
        message = OrderIngestV1.model_validate_json(record.value or b"")
    except ValidationError as exc:
        return _invalid(record, exc)
    if record.key is not None and record.key != message_key(message.tenant_id, message.order_no):
        return Rejected(
            record.ref, errors.KEY_MISMATCH, "the record key is not '<tenant_id>:<order_no>' of its value",
            message.tenant_id, message.import_id, message.order_no,
        )  # fmt: skip
    # PostgreSQL text and jsonb cannot hold U+0000: refuse it here, with claims. In JSON a NUL can only be written
    # as the escape \u0000, so the walk over the message runs only when the raw bytes contain that escape.
    if b"\\u0000" in (record.value or b"") and _has_nul(message.model_dump()):
        return Rejected(
            record.ref, errors.CONTRACT_VIOLATION, "a text field contains U+0000 (NUL), which cannot be stored",
            message.tenant_id, message.import_id, message.order_no,
        )  # fmt: skip
    return Incoming(record.ref, message.tenant_id, message, message.import_id, message.producer)


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(v) for v in value.values())
    return isinstance(value, list) and any(_has_nul(v) for v in value)


def _invalid(record: Received, exc: ValidationError) -> Rejected:
    """Why a record failed: not UTF-8, not JSON, or not the contract (then with what it claims to be)."""
    try:
        raw = json.loads(record.value or b"")
    except UnicodeDecodeError:
        return Rejected(record.ref, errors.INVALID_ENCODING, "the value is not UTF-8 text")
    except ValueError as json_error:
        return Rejected(record.ref, errors.INVALID_JSON, f"the value is not JSON: {json_error}")
    return Rejected(record.ref, errors.CONTRACT_VIOLATION, _summary(exc), *_claims(raw))


def _summary(exc: ValidationError) -> str:
    parts = [f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in exc.errors()[:5]]
    more = exc.error_count() - 5
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")


def _claims(raw: Any) -> tuple[UUID | None, UUID | None, str | None]:
    """Best-effort tenant, import and order no. of an invalid message, so its import can count it."""
    if not isinstance(raw, dict):
        return None, None, None

    def as_uuid(value: Any) -> UUID | None:
        try:
            return UUID(str(value))
        except ValueError:
            return None

    order_no = raw.get("order_no")
    return as_uuid(raw.get("tenant_id")), as_uuid(raw.get("import_id")), order_no if isinstance(order_no, str) else None


async def count_failed_record(conn: Conn, record: Received, reason: str, message: str) -> Rejected:
    """A record that could not be applied even on its own: dead-lettered, and counted by the import it names (when
    that import belongs to the tenant it claims), so the import still completes."""
    try:
        tenant_id, import_id, order_no = _claims(json.loads(record.value or b""))
    except ValueError:
        tenant_id = import_id = order_no = None
    rejected = Rejected(record.ref, reason, message, tenant_id, import_id, order_no)
    if tenant_id is None or import_id is None or order_no is None:
        return rejected
    async with conn.transaction():
        if (await import_jobs.import_owners(conn, [import_id])).get(import_id) == tenant_id:
            detail = f"{reason}: {message}"[:500]
            await import_jobs.count_results(
                conn, [OrderResult(tenant_id, import_id, order_no, "dead_lettered", detail)]
            )
    return rejected


def split_rounds(items: Sequence[Incoming]) -> list[list[Incoming]]:
    """Rounds in which each (tenant, order no.) appears once; the n-th record of a key goes to round n."""
    rounds: list[list[Incoming]] = []
    seen: dict[tuple[UUID, str], int] = {}
    for item in items:
        key = (item.tenant_id, item.order.order_no)
        n = seen.get(key, 0)
        seen[key] = n + 1
        if n == len(rounds):
            rounds.append([])
        rounds[n].append(item)
    return rounds


@dataclass(frozen=True)
class IngestOptions:
    thresholds: LifecycleThresholds = field(default_factory=LifecycleThresholds)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    new_id: Callable[[], UUID] = uuid.uuid4


async def ingest_batch(
    conn: Conn, records: Sequence[Received], emit: EmitEvents, options: IngestOptions = IngestOptions()
) -> BatchResult:
    """Apply `records` in one transaction on `conn` (see the module's guarantees)."""
    incoming, rejected = decode(records)
    result = BatchResult(rejected=rejected)
    async with conn.transaction():
        incoming = await _check_claims(conn, incoming, result)
        changes: list[OrderChange] = []
        touched: set[tuple[UUID, UUID]] = set()
        created: set[tuple[UUID, UUID]] = set()
        for items in split_rounds(incoming):
            stored = await order_store.load_stored(conn, [(i.tenant_id, i.order.order_no) for i in items])
            indexes = {
                tenant: await order_store.load_customer_index(
                    conn, tenant, [i.order.buyer for i in items if i.tenant_id == tenant],
                    [s.row.customer_id for k, s in stored.items() if k[0] == tenant],
                )
                for tenant in sorted({i.tenant_id for i in items})
            }  # fmt: skip
            plan = plan_round(items, stored, indexes, options.new_id)
            await order_store.write_plan(conn, plan)
            result.outcomes.extend(plan.outcomes)
            changes.extend(plan.changes)
            touched |= plan.touched_customers
            created |= {(t, c.id) for t, c in plan.new_customers}
            result.rounds += 1
        snapshots = await order_store.refresh_personas(conn, touched, created, options.clock(), options.thresholds)
        result.customers_changed = len(snapshots)
        result.events = await emit(conn, changes, snapshots)
        await import_jobs.count_results(conn, _import_results(result))
    return result


async def _check_claims(conn: Conn, incoming: list[Incoming], result: BatchResult) -> list[Incoming]:
    """Reject records of unknown tenants and records naming an import of another tenant. Dead letters that name
    a real import of their claimed tenant keep their claims (so that import counts them); others lose them."""
    claimed_imports = [i.import_id for i in incoming if i.import_id] + [
        r.import_id for r in result.rejected if r.import_id
    ]
    owners = await import_jobs.import_owners(conn, claimed_imports)
    known = await order_store.existing_tenants(conn, {i.tenant_id for i in incoming})
    kept = []
    for item in incoming:
        if item.tenant_id not in known:
            result.rejected.append(Rejected(item.ref, errors.UNKNOWN_TENANT, f"no tenant {item.tenant_id}"))
        elif item.import_id is not None and owners.get(item.import_id) != item.tenant_id:
            message = f"import {item.import_id} does not belong to tenant {item.tenant_id}"
            result.rejected.append(Rejected(item.ref, errors.IMPORT_OF_ANOTHER_TENANT, message))
        else:
            kept.append(item)
    result.rejected = [
        r if r.import_id is not None and owners.get(r.import_id) == r.tenant_id else replace(r, import_id=None)
        for r in result.rejected
    ]
    return kept


def _import_results(result: BatchResult) -> list[OrderResult]:
    done = [
        OrderResult(o.tenant_id, o.import_id, o.order_no, o.outcome, o.detail)
        for o in result.outcomes
        if o.import_id is not None
    ]
    dead = [
        OrderResult(r.tenant_id, r.import_id, r.order_no, "dead_lettered", f"{r.reason}: {r.message}"[:500])
        for r in result.rejected
        if r.tenant_id is not None and r.import_id is not None and r.order_no is not None
    ]
    return done + dead
