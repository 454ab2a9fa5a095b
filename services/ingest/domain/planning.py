"""What to write for a set of incoming orders, given what is stored: the pure heart of ingestion.

`plan_round` compares each incoming order with the stored one and decides, without IO:
- the outcome: created, updated, unchanged (identical content: nothing is written), stale_status (the status would
  move backwards: the order is an older snapshot and nothing of it is written) or rejected (a line without SKU
  matches several stored lines of its product, or merging would pass `bounds.MAX_LINES_PER_ORDER` or
  `bounds.MAX_MONEY`: nothing of it is written, not even its buyer, store or products);
- the rows to upsert: the order when it changed, lines that are new (merged) or changed (updated), and the stored
  lines to drop because a line took them over under its SKU; lines absent from the message are kept. Partial
  messages never erase (docs/merging.md): for a stored order, a field the message leaves blank (None, or text that
  is empty or whitespace only) keeps its stored value, a line with a product ID but no SKU updates the one stored
  line of that product, and a line with a SKU updates the one stored line of its product that has none;
- the buyer's customer (see `identity`), stores, products, status history;
- the change the rules bridge turns into events, and the customers whose persona must be recomputed.
Successive records of one (tenant, order no.) may share a round, in Kafka order: each is planned over the state the
previous one left, and the round writes that order once (see `plan_round`).
A record whose digest (`Incoming.digest`) is the one of the message that wrote the stored order is that message
again: it is `unchanged` without merging it again (a redelivery), unless its buyer now resolves to another customer
or its lines are no longer plain to find (`_lines_again`); then it is planned in full. A Kafka record the order
has had applied already (a committed batch delivered again: `deliveries`) is `unchanged` without being planned.
Most redeliveries never get
here: ingestion recognises them before decoding (`domain.redelivery`), with this module's answer (a test holds the
two equal over random histories) but for the store and products, which it does not note again (docs/merging.md 9).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from operator import attrgetter
from typing import Any, TypeVar
from uuid import UUID

from services.core.bounds import MAX_LINES_PER_ORDER, MAX_MONEY, money_in_range
from services.core.changes import LineSnapshot, OrderChange, OrderSnapshot
from services.core.frozen import quick_init
from services.core.order import Buyer, Order, OrderLine, OrderStatus, Receiver, Store, store_key
from services.core.status import next_status
from services.ingest.domain import deliveries
from services.ingest.domain.identity import Conflict, Customer, CustomerIndex, resolve_buyer
from services.ingest.domain.persona_deltas import Contribution, CustomerDelta, contribution

_T = TypeVar("_T")
LineKey = tuple[str, str]  # (product ID, SKU): a line's key within its order


@quick_init
@dataclass(frozen=True)
class Incoming:
    """An order to ingest with where it came from; `ref` lets the caller map outcomes back to its messages."""

    ref: int
    tenant_id: UUID
    order: Order
    import_id: UUID | None
    producer: str
    digest: bytes | None = None  # of the message (see `OrderRow.digest`); None: always planned in full
    delivery: bytes | None = None  # the Kafka record's (`deliveries.delivery`); None: a record of no log


@quick_init
@dataclass(frozen=True)
class LineRow:
    product_id: str
    sku: str
    product_name: str | None
    quantity: int
    unit_price: Decimal
    line_amount: Decimal | None

    @property
    def key(self) -> tuple[str, str]:
        return (self.product_id, self.sku)

    def amount(self) -> Decimal:
        return self.line_amount if self.line_amount is not None else self.unit_price * self.quantity


@quick_init
@dataclass(frozen=True)
class OrderRow:
    """An order as stored (the `orders` table), lines aside."""

    tenant_id: UUID
    order_no: str
    source: str
    status: OrderStatus
    status_raw: str
    order_time: datetime
    payment_time: datetime | None
    store_key: str
    store: dict[str, Any]
    customer_id: UUID
    matched_by: str
    buyer: dict[str, Any]
    receiver: dict[str, Any] | None
    order_amount: Decimal | None
    paid_amount: Decimal | None
    total_amount: Decimal
    remark: str | None
    version: int
    # The digest of the message whose planning wrote this state (`Incoming.digest`), not content: that message
    # again, over this state, is `unchanged` (planning an order is idempotent), so it is not merged again. As
    # stored, the Kafka records applied last follow it (`deliveries`).
    digest: bytes | None = None

    def beyond_status(self) -> tuple[Any, ...]:
        """The content but the status (and its raw text)."""
        return _BEYOND_STATUS(self)

    def content(self) -> tuple[Any, ...]:
        """What makes an order effectively different (not its key, version, match, cause or timestamps)."""
        return _CONTENT(self)


# The key, the version, and how the buyer was matched (a re-send matched by another identifier changes nothing).
_NOT_CONTENT = {"tenant_id", "order_no", "version", "matched_by", "digest"}
_CONTENT_FIELDS = tuple(f.name for f in fields(OrderRow) if f.name not in _NOT_CONTENT)
_CONTENT = attrgetter(*_CONTENT_FIELDS)
_BEYOND_STATUS = attrgetter(*(name for name in _CONTENT_FIELDS if name not in {"status", "status_raw"}))


@quick_init
@dataclass(frozen=True)
class StoredOrder:
    row: OrderRow
    lines: dict[LineKey, LineRow]


class OrderOutcome(StrEnum):
    """What planning decided for one record (stored as text in `import_orders`, counted per import)."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    STALE_STATUS = "stale_status"
    REJECTED = "rejected"


CREATED, UPDATED, UNCHANGED = OrderOutcome.CREATED, OrderOutcome.UPDATED, OrderOutcome.UNCHANGED
STALE_STATUS, REJECTED = OrderOutcome.STALE_STATUS, OrderOutcome.REJECTED
OUTCOMES = tuple(OrderOutcome)
# Why an order is rejected (its detail's prefix).
AMBIGUOUS_SKU, TOO_MANY_LINES, TOTAL_TOO_LARGE = "ambiguous_sku", "too_many_lines", "total_too_large"


@quick_init
@dataclass(frozen=True)
class Outcome:
    ref: int
    tenant_id: UUID
    order_no: str
    import_id: UUID | None
    outcome: OrderOutcome
    detail: str = ""
    customer_id: UUID | None = None  # the buyer's customer (None when stale: nothing was resolved)
    matched_by: str | None = None


@dataclass
class RoundPlan:
    orders: list[tuple[OrderRow, UUID | None, str]] = field(default_factory=list)  # row, import, producer
    lines: list[tuple[UUID, str, LineRow]] = field(default_factory=list)  # tenant, order no., line
    dropped_lines: list[tuple[UUID, str, LineKey]] = field(default_factory=list)  # taken over under their SKU
    stores: dict[tuple[UUID, str], tuple[str, dict[str, Any]]] = field(default_factory=dict)
    products: dict[tuple[UUID, str, str], tuple[str | None, Decimal]] = field(default_factory=dict)
    history: list[tuple[UUID, str, str]] = field(default_factory=list)
    new_customers: list[tuple[UUID, Customer]] = field(default_factory=list)
    added_identifiers: dict[tuple[UUID, UUID], dict[str, str]] = field(default_factory=dict)
    conflicts: list[tuple[UUID, str, UUID, Conflict]] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    changes: list[OrderChange] = field(default_factory=list)
    touched_customers: set[tuple[UUID, UUID]] = field(default_factory=set)
    persona_deltas: list[CustomerDelta] = field(default_factory=list)
    new_orders: set[tuple[UUID, str]] = field(default_factory=set)  # written and not stored before: inserts
    noted: list[tuple[UUID, str, bytes]] = field(default_factory=list)  # not written: only their digest (deliveries)


def plan_round(
    incoming: Sequence[Incoming],
    stored: dict[tuple[UUID, str], StoredOrder],
    indexes: dict[UUID, CustomerIndex],
    new_id: Callable[[], UUID],
) -> RoundPlan:
    """Decide every write for `incoming`, in order. `indexes` (per tenant) is updated as buyers resolve.

    A key may repeat (successive records of one order): each record is planned, with its own outcome and change,
    over the order as the previous records left it, and the order is written once, as applying the records one
    after another leaves it. `indexes` must hold the candidates of every buyer of `incoming`.
    """
    plan = RoundPlan()
    state = dict(stored)
    windows: dict[tuple[UUID, str], list[bytes]] = {}  # the records each order has had applied (`deliveries`)
    # Each key once (a tenant's UUID hashes in Python: every lookup of a key costs a call): `keys[n]` is the key of
    # `incoming[n]`, and `repeated` counts only the keys that repeat.
    keys = [(item.tenant_id, item.order.order_no) for item in incoming]
    repeated = Counter(keys) if len(set(keys)) != len(keys) else Counter()
    for item, key in zip(incoming, keys, strict=True):
        window = windows.get(key)
        if window is None:
            held = stored.get(key)
            window = deliveries.applied(held.row.digest if held is not None else None)
            if item.delivery is not None and item.delivery in window:  # applied already, and all before it
                assert held is not None  # a delivery is only found in a stored window
                plan.outcomes.append(_applied_already(item, held.row))
                continue  # (its window is not kept: the next record of the order may be applied already too)
        # The window keeps every record of the order in the round, however many: the round redelivered finds its
        # first record in it (a window of the last `WINDOW` only had it plan the first ones in full again).
        keep = max(deliveries.WINDOW, repeated[key]) if repeated else deliveries.WINDOW
        window = windows[key] = deliveries.after(window, item.delivery, keep)
        digest = deliveries.stored_digest(item.digest, window)  # what the order stores if this writes it last
        after = _plan_order(plan, item, state.get(key), indexes, new_id, digest)
        if after is not None:
            state[key] = after
    _write_once(plan, {key for key, n in repeated.items() if n > 1}, stored, state)
    if repeated and plan.conflicts:
        plan.conflicts = _conflicts_once(plan.conflicts)
    _note_deliveries(plan, stored, windows)
    plan.persona_deltas = persona_deltas(plan, stored, state)
    plan.new_orders = {key for key in ((row.tenant_id, row.order_no) for row, _, _ in plan.orders) if key not in stored}
    return plan


def _conflicts_once(conflicts: list[tuple[UUID, str, UUID, Conflict]]) -> list[tuple[UUID, str, UUID, Conflict]]:
    """One conflict per (tenant, order no., identifier), the last recorded (as recording them one after another
    leaves it): the conflicts' upsert takes each key once per statement."""
    last = {
        (tenant, order_no, c.identifier): (tenant, order_no, customer, c) for tenant, order_no, customer, c in conflicts
    }
    return list(last.values())


def _note_deliveries(
    plan: RoundPlan, stored: dict[tuple[UUID, str], StoredOrder], windows: dict[tuple[UUID, str], list[bytes]]
) -> None:
    """Each order the round writes stores every record of the round applied to it (`deliveries`), also those after
    its last change. When the round changed who is who (a customer created, an identifier added), the orders it
    does not write store theirs too (`plan.noted`): an unchanged record planned again after that change could
    resolve its buyer to another customer."""
    for n, (row, import_id, producer) in enumerate(plan.orders):
        digest = deliveries.stored_digest(deliveries.writer(row.digest), windows[(row.tenant_id, row.order_no)])
        if digest != row.digest:  # a record after the one that wrote it was unchanged
            plan.orders[n] = (replace(row, digest=digest), import_id, producer)
    if not (plan.new_customers or plan.added_identifiers):
        return
    written = {(row.tenant_id, row.order_no) for row, _, _ in plan.orders}
    for key, window in windows.items():
        if key not in written and key in stored and window and window != deliveries.applied(stored[key].row.digest):
            digest = deliveries.stored_digest(deliveries.writer(stored[key].row.digest), window)
            assert digest is not None  # a window is stored after a digest, or zeros
            plan.noted.append((*key, digest))


def persona_deltas(
    plan: RoundPlan, stored: dict[tuple[UUID, str], StoredOrder], state: dict[tuple[UUID, str], StoredOrder]
) -> list[CustomerDelta]:
    """Per order the round writes, its old contribution removed from its old customer and its new one added to
    its new customer; nothing when neither changed (a remark, a receiver: no persona field moves)."""
    deltas = []
    for row, _, _ in plan.orders:
        key = (row.tenant_id, row.order_no)
        before, after = stored.get(key), state[key]
        new = order_contribution(after)
        if before is not None:
            old = order_contribution(before)
            if before.row.customer_id == after.row.customer_id and old == new:
                continue
            deltas.append(CustomerDelta(row.tenant_id, before.row.customer_id, -1, old))
        deltas.append(CustomerDelta(row.tenant_id, after.row.customer_id, 1, new))
    return deltas + _bare_customers(plan, deltas)


def _bare_customers(plan: RoundPlan, deltas: list[CustomerDelta]) -> list[CustomerDelta]:
    """A customer created for a record that a later record of the same order superseded (it names another buyer)
    is left without an order. It still gets the empty persona and is announced as new, like every customer the
    round creates: a contribution added and taken away again makes the fold claim it (and nets to nothing)."""
    if not plan.new_customers or not deltas:
        return []
    with_deltas = {(d.tenant_id, d.customer_id) for d in deltas}
    bare = [(tenant, c.id) for tenant, c in plan.new_customers if (tenant, c.id) not in with_deltas]
    if not bare:
        return []
    any_contribution = deltas[0].contribution
    return [CustomerDelta(tenant, customer, sign, any_contribution) for tenant, customer in bare for sign in (1, -1)]


def order_contribution(order: StoredOrder) -> Contribution:
    """What `order` adds to its customer's persona."""
    row = order.row
    name = row.store.get("name")
    return contribution(
        row.status.value,
        row.source,
        name if name is not None else row.store_key,
        row.order_time,
        row.payment_time,
        row.total_amount,
        row.paid_amount,
        [(x.product_id, x.quantity, x.product_name) for x in order.lines.values()],
    )


def _write_once(
    plan: RoundPlan,
    repeated: set[tuple[UUID, str]],
    stored: dict[tuple[UUID, str], StoredOrder],
    state: dict[tuple[UUID, str], StoredOrder],
) -> None:
    """Collapse the writes of each `repeated` order to one: its last row, the lines that differ from the stored
    ones, and the stored lines it no longer holds (the net effect of writing them one after another)."""
    if not repeated:
        return
    last = {
        (row.tenant_id, row.order_no): (row, i, p)
        for row, i, p in plan.orders
        if (row.tenant_id, row.order_no) in repeated
    }
    if not last:
        return
    plan.orders = [o for o in plan.orders if (o[0].tenant_id, o[0].order_no) not in last] + list(last.values())
    plan.lines = [x for x in plan.lines if (x[0], x[1]) not in last]
    plan.dropped_lines = [x for x in plan.dropped_lines if (x[0], x[1]) not in last]
    for tenant, order_no in last:
        before = stored.get((tenant, order_no))
        old, new = before.lines if before else {}, state[(tenant, order_no)].lines
        plan.lines.extend((tenant, order_no, line) for key, line in new.items() if old.get(key) != line)
        plan.dropped_lines.extend((tenant, order_no, key) for key in sorted(old) if key not in new)


def _plan_order(
    plan: RoundPlan,
    item: Incoming,
    before: StoredOrder | None,
    indexes: dict[UUID, CustomerIndex],
    new_id: Callable[[], UUID],
    digest: bytes | None,
) -> StoredOrder | None:
    """Plan `item` over `before`; the order as it is then stored (with `digest`) when it is written, else None."""
    order = without_blank_text(item.order)
    if order is not item.order:
        item = replace(item, order=order)
    tenant = item.tenant_id
    decision = next_status(before.row.status if before else None, order.status)
    if decision.stale:
        assert before is not None
        detail = f"status {order.status.value} is older than the stored {before.row.status.value}: not applied"
        plan.outcomes.append(Outcome(item.ref, tenant, order.order_no, item.import_id, STALE_STATUS, detail))
        return None
    again = _lines_again(item, order, before, decision.status)
    merge = _merge(order, before) if again is None else None
    if isinstance(merge, str):
        plan.outcomes.append(Outcome(item.ref, tenant, order.order_no, item.import_id, REJECTED, merge))
        return None
    index = indexes.get(tenant)
    if index is None:  # (not `setdefault`, which would build an index for every order)
        index = indexes[tenant] = CustomerIndex()
    resolution = resolve_buyer(order.buyer, index, before.row.customer_id if before else None, new_id)
    if resolution.created:
        plan.new_customers.append((tenant, index.customers[resolution.customer_id]))
    elif resolution.added:
        plan.added_identifiers.setdefault((tenant, resolution.customer_id), {}).update(resolution.added)
    if resolution.conflicts:
        plan.conflicts += [(tenant, order.order_no, resolution.customer_id, c) for c in resolution.conflicts]
    matched_by = before.row.matched_by if before and resolution.matched_by == "order" else resolution.matched_by
    if again is not None:
        assert before is not None
        if resolution.customer_id == before.row.customer_id:  # the message again, its buyer still that customer
            _note_reference_data(plan, item, before.row, again)
            customer = before.row.customer_id
            plan.outcomes.append(
                Outcome(item.ref, tenant, order.order_no, item.import_id, UNCHANGED, "", customer, matched_by)
            )
            return None
        merge = _merge(order, before)  # the buyer moved to another customer: planned in full
        if isinstance(merge, str):  # unreachable: the message was applied over the state it left
            plan.outcomes.append(Outcome(item.ref, tenant, order.order_no, item.import_id, REJECTED, merge))
            return None
    assert merge is not None
    lines, merged = merge
    old_lines = before.lines if before else {}

    changed_lines = [line for line in lines.rows if old_lines.get(line.key) != line] if old_lines else lines.rows
    status_raw = order.status_raw if decision.status is order.status or before is None else before.row.status_raw
    row = _order_row(item, decision.status, status_raw, resolution.customer_id, matched_by, merged, before, digest)
    order_changed = before is None or row.content() != before.row.content()

    _note_reference_data(plan, item, row, lines.rows)
    if not order_changed and not changed_lines:
        plan.outcomes.append(
            Outcome(item.ref, tenant, order.order_no, item.import_id, UNCHANGED, "", row.customer_id, matched_by)
        )
        return None
    if before is not None:
        row = replace(row, version=before.row.version + 1)
    plan.orders.append((row, item.import_id, item.producer))
    plan.lines += [(tenant, order.order_no, line) for line in changed_lines]
    if lines.replaced:
        plan.dropped_lines += [(tenant, order.order_no, key) for key in sorted(lines.replaced.values())]
    if before is None or before.row.status is not row.status:
        plan.history.append((tenant, order.order_no, row.status.value))
    plan.touched_customers.add((tenant, row.customer_id))
    if before is not None and before.row.customer_id != row.customer_id:
        plan.touched_customers.add((tenant, before.row.customer_id))
    outcome = CREATED if before is None else UPDATED
    detail = _detail(before, changed_lines, lines.replaced)
    plan.outcomes.append(
        Outcome(item.ref, tenant, order.order_no, item.import_id, outcome, detail, row.customer_id, matched_by)
    )
    plan.changes.append(_change(item, before, row, merged, bool(changed_lines)))
    return StoredOrder(row, merged)


def _applied_already(item: Incoming, stored: OrderRow) -> Outcome:
    order_no, customer = item.order.order_no, stored.customer_id
    return Outcome(item.ref, item.tenant_id, order_no, item.import_id, UNCHANGED, "", customer, stored.matched_by)


def _lines_again(item: Incoming, order: Order, before: StoredOrder | None, status: OrderStatus) -> list[LineRow] | None:
    """When `item` is the message that wrote `before` (same digest), the stored lines its lines name (what merging
    them again would write: planning is idempotent); None (plan in full) otherwise, or when that is not plain: the
    status would move, a line names no single stored line, or two name the same one."""
    if before is None or item.digest is None or status is not before.row.status:
        return None
    if deliveries.writer(before.row.digest) != item.digest:
        return None
    stored = before.lines
    rows = []
    for line in order.lines:
        row = stored.get((line.product_id, line.sku))
        if row is None:
            if line.sku:
                return None
            same = [x for x in stored.values() if x.product_id == line.product_id]
            if len(same) != 1:
                return None
            row = same[0]
        rows.append(row)
    if len({id(row) for row in rows}) != len(rows):
        return None
    return rows


def _merge(order: Order, before: StoredOrder | None) -> tuple[MergedLines, dict[LineKey, LineRow]] | str:
    """The lines `order` writes and the order's lines after it, or why it is rejected."""
    old_lines = before.lines if before else {}
    lines = merge_lines(order.lines, old_lines)
    if isinstance(lines, str):
        return lines
    merged = _merged(old_lines, lines)
    refusal = _refusal(order, before, merged)
    return (lines, merged) if refusal is None else refusal


def _merged(old_lines: dict[LineKey, LineRow], lines: MergedLines) -> dict[LineKey, LineRow]:
    """The order's lines after `lines`: the stored ones (but those taken over under a SKU), updated and added."""
    if not old_lines:
        return {line.key: line for line in lines.rows}
    dropped = set(lines.replaced.values())
    kept = {key: line for key, line in old_lines.items() if key not in dropped}
    return {**kept, **{line.key: line for line in lines.rows}}


def _refusal(order: Order, before: StoredOrder | None, merged: dict[LineKey, LineRow]) -> str | None:
    """Why the merged order cannot be stored (too many lines, an amount past `MAX_MONEY`), or None."""
    if len(merged) > MAX_LINES_PER_ORDER:
        return _too_many_lines(len(merged), len(before.lines) if before else 0)
    for line in merged.values():
        if not money_in_range(line.amount()):
            return _too_large(f"its line {line.product_id!r} (SKU {line.sku!r}) amounts to {line.amount()}")
    total = _total(_kept(order.order_amount, before.row.order_amount if before else None), merged)
    if not money_in_range(total):
        what = "the merged order" if before else "the order"
        return _too_large(f"the lines of {what} add up to {total}")
    return None


def _too_large(what: str) -> str:
    return (
        f"{TOTAL_TOO_LARGE}: {what}, more than {MAX_MONEY}, the largest amount that can be stored; "
        "nothing of this order was applied"
    )


def _total(order_amount: Decimal | None, lines: dict[LineKey, LineRow]) -> Decimal:
    """The order's total: its order amount, else the sum of its lines."""
    return order_amount if order_amount is not None else sum((x.amount() for x in lines.values()), Decimal(0))


@quick_init
@dataclass(frozen=True)
class MergedLines:
    rows: list[LineRow]  # the lines the message writes
    replaced: dict[LineKey, LineKey]  # a row's key -> the stored line it takes over under its new SKU


def merge_lines(lines: Sequence[OrderLine], stored: dict[LineKey, LineRow]) -> MergedLines | str:
    """The rows `lines` write over `stored` (an order's stored lines), or why they cannot be applied.

    A line updates the stored line of its (product ID, SKU). Else (docs/merging.md, rule 3): a line without SKU
    updates the one stored line of its product (several: ambiguous, rejected); a line with a SKU, the only line of
    its product in the message, updates the only stored line of its product when that one has no SKU (and gives it
    the SKU). A blank product name keeps the stored one; a blank line amount keeps the stored one only while the
    quantity and unit price stay the same (else it no longer describes the line: quantity x unit price counts).
    """
    if not stored:
        return _new_lines(lines)
    in_message = Counter(line.product_id for line in lines)
    named = {(line.product_id, line.sku) for line in lines if line.sku}
    rows: dict[LineKey, LineRow] = {}
    replaced: dict[LineKey, LineKey] = {}
    for line in lines:
        old = _stored_line(line, stored, in_message[line.product_id], named)
        if isinstance(old, str):
            return old
        same_money = old is not None and (old.quantity, old.unit_price) == (line.quantity, line.unit_price)
        row = LineRow(
            line.product_id,
            line.sku or (old.sku if old else ""),
            line.product_name if line.product_name is not None or old is None else old.product_name,
            line.quantity,
            line.unit_price,
            line.line_amount if line.line_amount is not None or old is None or not same_money else old.line_amount,
        )
        if row.key in rows:
            return _ambiguous(line.product_id, [row.sku])
        if old is not None and old.key != row.key:
            replaced[row.key] = old.key
        rows[row.key] = row
    return MergedLines(list(rows.values()), replaced)


def _new_lines(lines: Sequence[OrderLine]) -> MergedLines | str:
    """`merge_lines` over no stored line (a new order, the common case): each line is a row as it is."""
    rows: dict[LineKey, LineRow] = {}
    for line in lines:
        sku = line.sku or ""
        if (line.product_id, sku) in rows:
            return _ambiguous(line.product_id, [sku])
        row = LineRow(line.product_id, sku, line.product_name, line.quantity, line.unit_price, line.line_amount)
        rows[(line.product_id, sku)] = row
    return MergedLines(list(rows.values()), {})


def _stored_line(
    line: OrderLine, stored: dict[LineKey, LineRow], of_product: int, named: set[LineKey]
) -> LineRow | str | None:
    """The stored line `line` updates (None: it is a new line), or why that is ambiguous. Of several stored lines
    of its product, a line without SKU takes the one no other line of the message names by its SKU (`named`), if
    exactly one is left: so a message that made a second line of a product plans the same when delivered again."""
    old = stored.get((line.product_id, line.sku))
    if old is not None or not stored:
        return old
    same_product = sorted(x.sku for x in stored.values() if x.product_id == line.product_id)
    if not line.sku:
        if len(same_product) > 1:
            unnamed = [sku for sku in same_product if (line.product_id, sku) not in named]
            if len(unnamed) == 1:
                return stored[(line.product_id, unnamed[0])]
            return _ambiguous(line.product_id, same_product)
        return stored[(line.product_id, same_product[0])] if same_product else None
    if same_product == [""] and of_product == 1:
        return stored[(line.product_id, "")]
    return None


def _ambiguous(product_id: str, skus: Sequence[str]) -> str:
    listed = ", ".join(repr(sku) for sku in skus[:10]) + (f" and {len(skus) - 10} more" if len(skus) > 10 else "")
    return (
        f"{AMBIGUOUS_SKU}: product ID {product_id!r} has no SKU, but it matches the stored line(s) with SKU {listed}: "
        "fill in the Product SKU of the line to update; nothing of this order was applied"
    )


def _too_many_lines(merged: int, stored: int) -> str:
    return (
        f"{TOO_MANY_LINES}: merging its lines into the {stored} stored line(s) would make {merged} lines; an order "
        f"holds at most {MAX_LINES_PER_ORDER}; nothing of this order was applied"
    )


def _detail(before: StoredOrder | None, changed: list[LineRow], replaced: dict[LineKey, LineKey]) -> str:
    if before is None:
        return f"{len(changed)} line(s)"
    added = sum(1 for line in changed if line.key not in before.lines and line.key not in replaced)
    return f"{added} line(s) added, {len(changed) - added} updated"


def _order_row(
    item: Incoming,
    status: OrderStatus,
    status_raw: str,
    customer_id: UUID,
    matched_by: str,
    lines: dict[LineKey, LineRow],
    before: StoredOrder | None,
    digest: bytes | None,
) -> OrderRow:
    """The order row to store: the message's fields, each blank one keeping its stored value (`before`)."""
    order, old = item.order, before.row if before else None
    order_amount = _kept(order.order_amount, old.order_amount if old else None)
    total = _total(order_amount, lines)
    store = _merged_store(_present(order.store), old.store if old else None)
    receiver = {**(old.receiver or {} if old else {}), **(_present(order.receiver) if order.receiver else {})}
    return OrderRow(
        tenant_id=item.tenant_id,
        order_no=order.order_no,
        source=order.source.value,
        status=status,
        status_raw=status_raw,
        order_time=order.order_time,
        payment_time=_kept(order.payment_time, old.payment_time if old else None),
        store_key=store_key(store.get("store_no"), store.get("store_id")),
        store=store,
        customer_id=customer_id,
        matched_by=matched_by,
        buyer={**(old.buyer if old and old.customer_id == customer_id else {}), **_present(order.buyer)},
        receiver=receiver or None,
        order_amount=order_amount,
        paid_amount=_kept(order.paid_amount, old.paid_amount if old else None),
        total_amount=total,
        remark=_kept(order.remark, old.remark if old else None),
        version=old.version if old else 1,
        digest=digest,
    )


def without_blank_text(order: Order) -> Order:
    """`order` with each optional text that is empty or whitespace only as None: blank is absent, on every path."""
    update: dict[str, Any] = {}
    if _blank(order.remark):
        update["remark"] = None
    for name, value in (("store", order.store), ("buyer", order.buyer), ("receiver", order.receiver)):
        if value is None or not _any_blank(vars(value).values()):  # the common case: nothing to copy
            continue
        blanks = {k: None for k, v in vars(value).items() if v.__class__ is str and not v.strip()}
        update[name] = value.model_copy(update=blanks)
    if _any_blank([x.product_name for x in order.lines]):
        update["lines"] = [
            x.model_copy(update={"product_name": None}) if _blank(x.product_name) else x for x in order.lines
        ]
    return order.model_copy(update=update) if update else order


def _blank(value: object) -> bool:
    return isinstance(value, str) and not value.strip()


def _any_blank(values: Iterable[object]) -> bool:
    """Whether one of `values` is text that is empty or whitespace only (`_blank`, without a call per value)."""
    for value in values:  # a loop, not `any` over a generator: half the cost on the hot path
        if isinstance(value, str) and not value.strip():
            break
    else:
        return False
    return True


def _kept(given: _T | None, stored: _T | None) -> _T | None:
    return given if given is not None else stored


def _merged_store(given: dict[str, Any], stored: dict[str, Any] | None) -> dict[str, Any]:
    """The stored store's blank fields filled in, when `given` names the same store (no identifier differs)."""
    if stored is None or any(given.get(k) not in (None, stored.get(k)) for k in ("store_no", "store_id")):
        return given
    return {**stored, **given}


def _present(value: Store | Buyer | Receiver) -> dict[str, Any]:
    """The fields that are set (all are text), as stored in jsonb: what `model_dump(exclude_none=True)` gives,
    without its cost on the hot path."""
    return {k: v for k, v in vars(value).items() if v is not None}


def _note_reference_data(plan: RoundPlan, item: Incoming, row: OrderRow, lines: Sequence[LineRow]) -> None:
    """The store and products to upsert; a name left blank keeps one planned before, as UPSERT_STORES and
    UPSERT_PRODUCTS keep a stored one."""
    key = (item.tenant_id, row.store_key)
    store = {"store_no": None, "store_id": None, "name": None, **row.store}
    if store["name"] is None and key in plan.stores:
        store["name"] = plan.stores[key][1]["name"]
    plan.stores[key] = (row.source, store)
    for line in lines:
        product = (item.tenant_id, line.product_id, line.sku)
        name = line.product_name
        if name is None:  # (the common case, a name, needs no look-up: a key of a tenant's UUID hashes in Python)
            planned = plan.products.get(product)
            name = planned[0] if planned is not None else None
        plan.products[product] = (name, line.unit_price)


def _change(
    item: Incoming,
    before: StoredOrder | None,
    row: OrderRow,
    lines: dict[LineKey, LineRow],
    lines_changed: bool,
) -> OrderChange:
    store = row.store
    snapshot = OrderSnapshot(
        order_no=row.order_no,
        source=row.source,
        status=row.status,
        status_raw=row.status_raw,
        order_time=row.order_time,
        payment_time=row.payment_time,
        order_amount=row.order_amount,
        paid_amount=row.paid_amount,
        total_amount=row.total_amount,
        store_no=store.get("store_no"),
        store_id=store.get("store_id"),
        store_name=store.get("name"),
        customer_id=row.customer_id,
        matched_by=row.matched_by,
        version=row.version,
        lines=tuple(
            [
                LineSnapshot(x.product_id, x.sku, x.product_name, x.quantity, x.unit_price, x.line_amount)
                for x in map(lines.__getitem__, sorted(lines))  # keyed by `LineRow.key`
            ]
        ),
    )
    content_changed = before is None or lines_changed or before.row.beyond_status() != row.beyond_status()
    return OrderChange(
        tenant_id=item.tenant_id,
        before_status=before.row.status if before else None,
        after=snapshot,
        content_changed=content_changed,
        import_id=item.import_id,
        producer=item.producer,
    )
