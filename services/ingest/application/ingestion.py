"""Ingesting a batch of `orders.ingest.v1` records: validate, upsert, resolve buyers, refresh personas, emit events.

Guarantees:
- One database transaction per batch. Orders, lines, stores, products, customers, personas, outbox rows and import
  counters commit together or not at all; the caller acknowledges the Kafka offsets only after this returns.
- Idempotent: applying the same batch again changes no row, emits no event and counts nothing twice, so
  at-least-once delivery yields exactly-once data.
- Per-order order: records of one order (one key, one partition) are applied in offset order (see `plan_round`).
- Invalid records are returned as `Rejected` (for the dead-letter topic); they never stop their neighbours.
- A redelivered record (its digest is the one its stored order keeps, see `domain.redelivery`) is recognised before
  it is decoded (`recognise`, over one unlocked read of the batch's digests): `unchanged`, counted by its import,
  and nothing of it is written, as full planning would decide it (its claims and erasure are checked as before).
  What recognising reads of a record itself (the order its key names, its digest, its claims) needs no state:
  `read_ahead` reads it before the batch reaches the database (the consumer does, while the previous batch's
  transaction runs).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from hashlib import blake2b
from operator import attrgetter
from typing import Annotated, Any
from uuid import UUID

from pydantic import StringConstraints, TypeAdapter, ValidationError

from services.core import bounds
from services.core.changes import CustomerSnapshot, OrderChange
from services.core.frozen import quick_init
from services.core.keys import order_key
from services.core.order import Buyer
from services.ingest import errors
from services.ingest.adapters import import_jobs, order_store, persona_store
from services.ingest.adapters.import_jobs import OrderResult
from services.ingest.adapters.storage import UNIQUE_VIOLATION, storage_errors
from services.ingest.application import erasure
from services.ingest.application.personas import fold_personas
from services.ingest.contracts.orders_ingest_v1 import OrderIngestV1
from services.ingest.contracts.orders_ingest_v1_reader import read_claims, read_plain
from services.ingest.domain.deliveries import delivery
from services.ingest.domain.identity import CustomerIndex
from services.ingest.domain.persona import LifecycleThresholds
from services.ingest.domain.planning import (
    REJECTED,
    UNCHANGED,
    Incoming,
    Outcome,
    RoundPlan,
    StoredOrder,
    plan_round,
)
from services.ingest.domain.redelivery import StoredMatch, unchanged_match
from services.ingest.domain.spreadsheet.values import DEFAULT_PLACEHOLDER_MOBILES, is_placeholder_mobile
from services.ingest.domain.text_encoding import encoding_problem, foreign_encoding

Conn = Any
EmitEvents = Callable[[Conn, Sequence[OrderChange], Sequence[CustomerSnapshot]], Awaitable[int]]


@quick_init  # built for every consumed record
@dataclass(frozen=True)
class Received:
    """One consumed record, with where it came from (for dead-letter headers)."""

    ref: int
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    # A record of the Kafka log (the consumer's): its topic, partition and offset name it for good, so a delivery of
    # it again is recognised (`domain.deliveries`). False for records of no log (the push API's, numbered per call).
    logged: bool = False
    ahead: Ahead | None = None  # what `read_ahead` read of it already (None: not read, or not a candidate)
    headers: Sequence[tuple[str, bytes | None]] = ()  # as it was sent (kept in its dead letter)


@quick_init
@dataclass(frozen=True)
class Ahead:
    """What recognising a redelivery reads of a record alone (`candidates`, `read_claims`), read ahead of its batch:
    the order its key names, its value's digest, and (when `claims_read`) its import ID and buyer when plainly
    spelled (else None). Without `claims_read` they are read when the record is recognised, if it is."""

    order: OrderKey
    digest: bytes
    claims: tuple[UUID | None, Buyer] | None
    claims_read: bool = True


def read_ahead(
    key: bytes | None, value: bytes | None, placeholders: frozenset[str], claims: bool = True
) -> Ahead | None:
    """A record's `Ahead`, when it may be a redelivery (a key naming an order as stored, a value); pure. With
    `claims`, its claims are read whether or not the order is stored: the price of not waiting for the database,
    worth it while batches are redelivered, and the largest part of the read-ahead of orders that are new (12 of
    20 µs measured), which only a recognised record needs."""
    order = key_order(key) if key and value else None
    if order is None or value is None:
        return None
    if not claims:
        return Ahead(order, message_digest(value, placeholders), None, claims_read=False)
    return Ahead(order, message_digest(value, placeholders), read_claims(value))


@dataclass(frozen=True)
class Rejected:
    """A record to dead-letter: `reason` is its code, `message` is fit for an end user; `exception` (driver or
    Python text, for logs and the `x-exception` header only) is set for processing errors."""

    ref: int
    reason: str
    message: str
    tenant_id: UUID | None = None
    import_id: UUID | None = None
    order_no: str | None = None
    exception: str = ""


@dataclass
class BatchResult:
    outcomes: list[Outcome] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    events: int = 0
    customers_changed: int = 0
    rounds: int = 0
    persona_lags_s: list[float] = field(default_factory=list)  # per persona delta folded: its commit to its fold
    touched: list[tuple[UUID, UUID]] = field(default_factory=list)  # customers with new deltas, left to fold when
    # `IngestOptions.fold_personas` is False
    recognised: int = 0  # records recognised as redelivered before decoding (`recognise`)

    def dead_letters(self) -> list[Rejected]:
        """What goes to the dead-letter topic: the rejected records, and the records whose order was `rejected` by
        planning (ambiguous SKU, too many lines...): nothing of those was applied, so their producer must learn it
        (their import, if any, counts them as `rejected`, not as dead letters)."""
        refused = [
            Rejected(o.ref, o.detail.split(":", 1)[0] or REJECTED, o.detail, o.tenant_id, o.import_id, o.order_no)
            for o in self.outcomes
            if o.outcome == REJECTED
        ]
        return self.rejected + refused

    def undecided(self, records: Sequence[Received]) -> list[Received]:
        """Records of `records` that were neither applied nor rejected (must be none)."""
        decided = {o.ref for o in self.outcomes} | {r.ref for r in self.rejected}
        return [r for r in records if r.ref not in decided]


def decode(
    records: Sequence[Received],
    placeholders: frozenset[str] = DEFAULT_PLACEHOLDER_MOBILES,
    digests: Mapping[int, bytes] | None = None,
) -> tuple[list[Incoming], list[Rejected]]:
    """Validate each record against the contract and its key; pure. Never raises: every record is accepted or
    rejected with a reason (whatever its bytes: not UTF-8, not JSON, nested thousands deep). A buyer's mobile in
    `placeholders` counts as absent, as it does in an import (see the contract module). `digests` (by ref) are
    the records' digests when known already (`digest`)."""
    accepted: list[Incoming] = []
    rejected: list[Rejected] = []
    for record in records:
        known = digests.get(record.ref) if digests is not None else None
        result = _decode_one(record, placeholders, known)
        if isinstance(result, Incoming):
            accepted.append(result)
        else:
            rejected.append(result)
    return accepted, rejected


KEY_FORMAT = "'<tenant_id>:<order_no>'"
# The key's order no. is compared after the strip the contract applies to the value's (`str_strip_whitespace`)
_STRIPPED = TypeAdapter(Annotated[str, StringConstraints(strip_whitespace=True)])


def _decode_one(record: Received, placeholders: frozenset[str], digest: bytes | None = None) -> Incoming | Rejected:
    # The plain spelling is read fast; whatever else (and whatever is invalid) the model decides and explains.
    message = read_plain(record.value) if record.value else None
    if message is None:
        try:
            message = OrderIngestV1.model_validate_json(record.value or b"")
        except ValidationError as exc:
            return _invalid(record, exc)
    claims = (message.tenant_id, message.import_id, message.order_no)
    if record.key is None:
        # One order's records must share a partition to stay in order: only the key guarantees that.
        message_text = f"the record has no key: every record needs the key {KEY_FORMAT} of its value"
        return Rejected(record.ref, errors.MISSING_KEY, message_text, *claims)
    if not _key_matches(record.key, message):
        got = record.key.decode("utf-8", "replace")[:200]  # a key with the tenant in capitals looks the same
        expected = order_key(message.tenant_id, message.order_no)
        problem = f"the record key {got!r} is not {expected!r}, the {KEY_FORMAT} of its value"
        return Rejected(record.ref, errors.KEY_MISMATCH, problem, *claims)
    buyer = _without_placeholder(message.buyer, placeholders)
    if buyer is None:
        mobile = message.buyer.mobile
        problem = f"buyer: the mobile {mobile} is a placeholder, which counts as absent, and the buyer has no other "
        problem += "identifier: give a Sobot customer ID, a real mobile, a unionid or a nickname"
        return Rejected(record.ref, errors.CONTRACT_VIOLATION, problem, *claims)
    if buyer is not message.buyer:
        message = message.model_copy(update={"buyer": buyer})
    if digest is None:
        digest = message_digest(record.value or b"", placeholders)
    logged = delivery(record.topic, record.partition, record.offset, digest) if record.logged else None
    return Incoming(record.ref, message.tenant_id, message, message.import_id, message.producer, digest, logged)


def message_digest(value: bytes, placeholders: frozenset[str]) -> bytes:
    """The digest of a record's value (`Incoming.digest`, stored as `orders.digest`)."""
    return blake2b(value, digest_size=16, key=_digest_key(placeholders)).digest()


# Bump when planning would decide differently for the same message over the same state: the digests stored before
# then no longer match, and those orders are planned in full once more.
_DIGEST_VERSION = b"orders.ingest.v1 digest 1"


@lru_cache(maxsize=8)
def _digest_key(placeholders: frozenset[str]) -> bytes:
    """The key of a message's digest (`Incoming.digest`): what decoding depends on beyond the value's bytes (the
    placeholder mobiles, which count as absent), so one value decoded differently never has the same digest."""
    return blake2b(b"\x1f".join([_DIGEST_VERSION, *sorted(p.encode() for p in placeholders)])).digest()


def _key_matches(key: bytes, message: OrderIngestV1) -> bool:
    """`key` is `"{tenant_id}:{order_no}"` of `message`, its order no. stripped as the value's was."""
    try:
        tenant, order_no = key.decode().split(":", 1)
    except (UnicodeDecodeError, ValueError):
        return False
    if order_no != message.order_no:  # the same text needs no strip (the value's order no. is stripped)
        order_no = _STRIPPED.validate_python(order_no)
    return order_no == message.order_no and tenant == str(message.tenant_id)


def _without_placeholder(buyer: Buyer, placeholders: frozenset[str]) -> Buyer | None:
    """`buyer` without a placeholder mobile (the same one when it has none); None when nothing identifies it then."""
    if buyer.mobile is None or not is_placeholder_mobile(buyer.mobile, placeholders):
        return buyer
    if not (buyer.sobot_customer_id or buyer.unionid or buyer.nickname):
        return None
    return buyer.model_copy(update={"mobile": None})


def _invalid(record: Received, exc: ValidationError) -> Rejected:
    """Why a record failed: not UTF-8 (naming the encoding it is in, when known), not JSON, or not the contract
    (then with what it claims to be)."""
    value = record.value or b""
    if record.value is None:
        message_text = "the record has no value (null, as a tombstone): every record holds an orders.ingest.v1 "
        message_text += "message (orders are not deleted through the topic)"
        return Rejected(record.ref, errors.INVALID_JSON, message_text)
    if not value.strip():
        return Rejected(
            record.ref, errors.INVALID_JSON, "the record's value is empty: expected an orders.ingest.v1 message"
        )
    encoding = foreign_encoding(value)
    if encoding is not None:
        return Rejected(record.ref, errors.INVALID_ENCODING, encoding_problem("the value", encoding))
    try:
        value.decode()
    except UnicodeDecodeError as bad:
        return Rejected(record.ref, errors.INVALID_ENCODING, f"the value is not UTF-8 text (byte {bad.start + 1})")
    json_errors = [e for e in exc.errors() if e["type"] == "json_invalid"]
    if not json_errors:
        return Rejected(record.ref, errors.CONTRACT_VIOLATION, _summary(exc), *_claims(value))
    if "recursion limit" in json_errors[0]["msg"]:
        return Rejected(record.ref, errors.INVALID_JSON, "the value is JSON nested too deeply (at most 200 levels)")
    try:
        raw = _loads(value)
    except (ValueError, RecursionError):
        detail = json_errors[0]["msg"].removeprefix("Invalid JSON: ")
        return Rejected(record.ref, errors.INVALID_JSON, f"the value is not JSON: {detail}"[:300])
    if "number out of range" in json_errors[0]["msg"]:  # valid JSON: an integer of thousands of digits
        where = json_errors[0]["msg"].partition("out of range ")[2]
        message_text = f"a number {where} has too many digits: no field takes more than {_LONGEST_NUMBER} digits"
        return Rejected(record.ref, errors.CONTRACT_VIOLATION, message_text, *_claims_of(raw))
    # JSON that Python reads but pydantic does not: a lone UTF-16 surrogate escape, which is no text
    message_text = "a text field holds a lone UTF-16 surrogate escape (\\ud800-\\udfff), which is not text"
    return Rejected(record.ref, errors.CONTRACT_VIOLATION, message_text, *_claims_of(raw))


_LONGEST_NUMBER = 14  # money: numeric(14, 2); quantities have at most 7


def _loads(value: bytes) -> Any:
    """The value as Python reads JSON; integers as `Decimal`, so a long one is no `int` conversion error."""
    return json.loads(value, parse_int=Decimal)


def _summary(exc: ValidationError) -> str:
    parts = [f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {_error_text(e)}" for e in exc.errors()[:5]]
    more = exc.error_count() - 5
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")


def _error_text(error: Any) -> str:
    """pydantic's message; a text's length bound in characters (behind the text's own check, pydantic says
    "Value should have at most 64 items after validation")."""
    if error["type"] == "too_long" and isinstance(error.get("input"), str):
        return (
            f"String should have at most {error['ctx']['max_length']} characters, not {error['ctx']['actual_length']}"
        )
    return str(error["msg"])


Claims = tuple[UUID | None, UUID | None, str | None]


def _claims(value: bytes) -> Claims:
    """Best-effort tenant, import and order no. of an invalid message, so its import can count it."""
    try:
        return _claims_of(_loads(value))
    except (ValueError, RecursionError):
        return None, None, None


def _claims_of(raw: Any) -> Claims:
    if not isinstance(raw, dict):
        return None, None, None

    def as_uuid(value: Any) -> UUID | None:
        try:
            return UUID(str(value))
        except ValueError:
            return None

    return as_uuid(raw.get("tenant_id")), as_uuid(raw.get("import_id")), bounds.storable_text(raw.get("order_no"))


@quick_init
@dataclass(frozen=True)
class RedeliveredOrder:
    """What a redelivered record still needs of its message: its order no. and buyer (for the erasure check)."""

    order_no: str
    buyer: Buyer


@quick_init
@dataclass(frozen=True)
class Redelivered:
    """A record the pre-filter recognised as the message that wrote its stored order (`domain.redelivery`): it is
    `unchanged` (with the stored customer and match) unless its claims are refused, and is not decoded, loaded or
    planned. Shaped as `Incoming` for the claim and erasure checks."""

    ref: int
    tenant_id: UUID
    order: RedeliveredOrder
    import_id: UUID | None
    customer_id: UUID
    matched_by: str

    def outcome(self) -> Outcome:
        order_no, customer = self.order.order_no, self.customer_id
        return Outcome(self.ref, self.tenant_id, order_no, self.import_id, UNCHANGED, "", customer, self.matched_by)


OrderKey = tuple[UUID, str]
Stored = Mapping[OrderKey, tuple[bytes, StoredMatch]]  # order -> its digest and customer (`load_redelivered`)


def candidates(records: Sequence[Received], placeholders: frozenset[str]) -> dict[int, tuple[OrderKey, bytes]]:
    """By ref, the order each record's key names (`key_order`) and its value's digest, for the records that may
    be redeliveries (a key naming an order as stored, a value)."""
    found = {}
    for r in records:
        if r.ahead is not None:
            found[r.ref] = (r.ahead.order, r.ahead.digest)
            continue
        key = key_order(r.key) if r.key and r.value else None
        if key is not None:
            found[r.ref] = (key, message_digest(r.value or b"", placeholders))
    return found


def key_order(key: bytes) -> OrderKey | None:
    """The (tenant, order no.) a record key names, when it is spelled as every key of a stored order is (its
    tenant's canonical UUID); else None. The order no. is not stripped: a key that needs it names no stored order."""
    try:
        tenant, order_no = key.decode().split(":", 1)
    except (UnicodeDecodeError, ValueError):
        return None
    tenant_id = _TENANTS.get(tenant)
    if tenant_id is None:
        try:
            tenant_id = UUID(tenant)
        except ValueError:
            return None
        if str(tenant_id) != tenant:
            return None
        if len(_TENANTS) >= 4096:
            _TENANTS.clear()
        _TENANTS[tenant] = tenant_id
    return tenant_id, order_no


_TENANTS: dict[str, UUID] = {}  # a key's tenant text -> its UUID (tenants repeat from record to record)


def split_redelivered(
    records: Sequence[Received],
    candidates: Mapping[int, tuple[OrderKey, bytes]],
    stored: Stored,
    placeholders: frozenset[str],
) -> tuple[list[Redelivered], list[Received]]:
    """`records` split into those recognised as redelivered (see `domain.redelivery`; batch order is `ingest_batch`'s
    to keep) and the others, to decode; pure. Recognised: a candidate (`candidates`) whose order is stored with its
    digest, its import ID and buyer read plainly, its buyer still matching the stored customer (`unchanged_match`)."""
    redelivered, rest = [], []
    for record in records:
        candidate = candidates.get(record.ref)
        found = _redelivered(record, *candidate, stored, placeholders) if candidate is not None else None
        if found is None:
            rest.append(record)
        else:
            redelivered.append(found)
    return redelivered, rest


def _redelivered(
    record: Received, key: OrderKey, digest: bytes, stored: Stored, placeholders: frozenset[str]
) -> Redelivered | None:
    held = stored.get(key)
    if held is None or held[0] != digest:
        return None
    ahead = record.ahead
    claims = ahead.claims if ahead is not None and ahead.claims_read else read_claims(record.value or b"")
    buyer = _without_placeholder(claims[1], placeholders) if claims is not None else None
    if claims is None or buyer is None:
        return None
    matched_by = unchanged_match(buyer, held[1])
    if matched_by is None:
        return None
    order = RedeliveredOrder(key[1], buyer)
    return Redelivered(record.ref, key[0], order, claims[0], held[1].customer.id, matched_by)


async def count_failed_record(conn: Conn, record: Received, reason: str, message: str, exception: str = "") -> Rejected:
    """A record that could not be applied even on its own: dead-lettered, and counted by the import it names (when
    that import belongs to the tenant it claims and expects that order), so the import still completes."""
    tenant_id, import_id, order_no = _claims(record.value or b"")
    rejected = Rejected(record.ref, reason, message, tenant_id, import_id, order_no, exception)
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
    """One round for the whole batch: `plan_round` plans successive records of one order in turn, over the state
    the previous one left, and writes the order once (exactly what one round per record would store), so that many
    records of one order cost one load and one write, not one round each."""
    return [list(items)] if items else []


@dataclass(frozen=True)
class IngestOptions:
    thresholds: LifecycleThresholds = field(default_factory=LifecycleThresholds)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    new_id: Callable[[], UUID] = uuid.uuid4
    placeholder_mobiles: frozenset[str] = DEFAULT_PLACEHOLDER_MOBILES  # they count as absent (see `decode`)
    fold_personas: bool = True  # False: the caller folds `BatchResult.touched` (the consumer overlaps it)


async def ingest_batch(
    conn: Conn, records: Sequence[Received], emit: EmitEvents, options: IngestOptions = IngestOptions()
) -> BatchResult:
    """Apply `records` in one transaction on `conn` (see the module's guarantees), then fold the personas of the
    customers it touched in a second one (`personas.fold_personas`: a crash between the two leaves the deltas for
    the persona stage, which folds them exactly once)."""
    result = BatchResult()
    touched: set[tuple[UUID, UUID]] = set()
    async with conn.transaction():
        redelivered, incoming = await _decode_or_recognise(conn, records, result, options.placeholder_mobiles)
        claimants: list[Claimant] = sorted([*incoming, *redelivered], key=attrgetter("ref"))
        claimed = await _check_claims(conn, claimants, result)
        claimed, erased = await erasure.refuse_erased(conn, claimed)  # never bring an erased customer back
        result.rejected += [
            Rejected(i.ref, errors.ERASED_CUSTOMER, erasure.refusal(kind), i.tenant_id, i.import_id, i.order.order_no)
            for i, kind in erased
        ]
        incoming = [i for i in claimed if isinstance(i, Incoming)]
        result.outcomes = [i.outcome() for i in claimed if isinstance(i, Redelivered)]
        result.recognised = len(redelivered)
        changes: list[OrderChange] = []
        identified: set[tuple[UUID, UUID]] = set()  # customers given identifiers: announced here, not by a fold
        for items in split_rounds(incoming):
            plan = await _apply_round(conn, items, options)
            result.outcomes.extend(plan.outcomes)
            changes.extend(plan.changes)
            touched |= plan.touched_customers
            identified.update(plan.added_identifiers)
            result.rounds += 1
        result.outcomes.sort(key=attrgetter("ref"))  # the redelivered among them: in the records' order, as planned
        # A customer's identifiers are part of what customers.updated.v1 publishes: one that gains some is announced
        # now (its persona may not change: a re-sent order naming its unionid), its persona's change by its fold.
        announced = await persona_store.announce(conn, sorted(identified))
        result.events = await emit(conn, changes, announced)
        await import_jobs.count_results(conn, _import_results(result))
    result.touched = list(touched)
    if not options.fold_personas:
        return result
    folded = await fold_personas(conn, emit, options.clock(), options.thresholds, result.touched)
    result.customers_changed, result.events = folded.events, result.events + folded.events
    result.persona_lags_s = folded.lags_s
    return result


async def _decode_or_recognise(
    conn: Conn, records: Sequence[Received], result: BatchResult, placeholders: frozenset[str]
) -> tuple[list[Redelivered], list[Incoming]]:
    """`recognise` over the stored orders the records' keys name (one read); those rejected go to `result`."""
    found = candidates(records, placeholders)
    stored = await order_store.load_redelivered(conn, [(*key, digest) for key, digest in found.values()])
    redelivered, incoming, result.rejected = recognise(records, found, stored, placeholders)
    return redelivered, incoming


def recognise(
    records: Sequence[Received],
    candidates: Mapping[int, tuple[OrderKey, bytes]],
    stored: Stored,
    placeholders: frozenset[str],
) -> tuple[list[Redelivered], list[Incoming], list[Rejected]]:
    """The records recognised as redelivered (`split_redelivered`), the others decoded (`decode`): accepted and
    rejected, each in the records' order; pure. A recognised record that an earlier record of its order, planned
    in full, precedes is decoded too (`redelivery.in_batch_order`): it is planned over what that one leaves."""
    redelivered, rest = split_redelivered(records, candidates, stored, placeholders)
    known = {ref: digest for ref, (_, digest) in candidates.items()}
    incoming, rejected = decode(rest, placeholders, known)
    if not redelivered or not (incoming or rejected):
        return redelivered, incoming, rejected
    # A batch not redelivered whole is planned whole: the records recognised beside others are decoded too, so
    # the round resolves its buyers and the deliveries it notes (`domain.deliveries`) as it did the first time (a
    # recognised record left out of a mixed round let another of the round resolve to another customer: the
    # overlapped-folds test, seed 12). `redelivery.in_batch_order` stays the rule within a whole redelivery.
    kept: set[int] = set()
    later = {r.ref for r in redelivered}
    if later:
        again, refused = decode([r for r in records if r.ref in later], placeholders, known)  # (none refused)
        incoming = sorted([*incoming, *again], key=attrgetter("ref"))
        rejected = sorted([*rejected, *refused], key=attrgetter("ref"))
    return [r for r in redelivered if r.ref in kept], incoming, rejected


ROUND_ATTEMPTS = 5


async def _apply_round(conn: Conn, items: list[Incoming], options: IngestOptions) -> RoundPlan:
    """Load, plan and write one round in a savepoint. When another transaction created one of its new customers
    (or took an identifier it adds), or one of its new orders (two consumers applying the same records during a
    rebalance), meanwhile, the savepoint is rolled back and the round planned again over what committed: one
    customer, one creation, each persona delta once, and no batch fails for it."""
    for attempt in range(ROUND_ATTEMPTS):
        try:
            async with storage_errors(), conn.transaction():
                stored = await order_store.load_stored(conn, [(i.tenant_id, i.order.order_no) for i in items])
                indexes = await _customer_indexes(conn, items, stored)
                plan = plan_round(items, stored, indexes, options.new_id)
                await order_store.write_plan(conn, plan)
                return plan
        except errors.TransientStorage as exc:
            if exc.sqlstate != UNIQUE_VIOLATION or attempt == ROUND_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


async def _customer_indexes(
    conn: Conn, items: list[Incoming], stored: dict[tuple[UUID, str], StoredOrder]
) -> dict[UUID, CustomerIndex]:
    """Per tenant of `items`, the customers their buyers could match and those their stored orders name."""
    indexes = {}
    for tenant in sorted({i.tenant_id for i in items}):
        buyers = [i.order.buyer for i in items if i.tenant_id == tenant]
        held = [s.row.customer_id for k, s in stored.items() if k[0] == tenant]
        indexes[tenant] = await order_store.load_customer_index(conn, tenant, buyers, held)
    return indexes


Claimant = Incoming | Redelivered  # a record whose claims are checked before it is applied


async def _check_claims(conn: Conn, incoming: list[Claimant], result: BatchResult) -> list[Claimant]:
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
