"""What to write for a set of incoming orders, given what is stored: the pure heart of ingestion.

`plan_round` compares each incoming order with the stored one and decides, without IO:
- the outcome: created, updated, unchanged (identical content: nothing is written), stale_status (the status would
  move backwards: the order is an older snapshot and nothing of it is written) or rejected (a line without SKU
  matches several stored lines of its product, or merging would pass `bounds.MAX_LINES_PER_ORDER`: nothing of it is
  written, not even its buyer, store or products);
- the rows to upsert: the order when it changed, lines that are new (merged) or changed (updated); lines absent
  from the message are kept. Partial messages never erase (docs/merging.md): for a stored order, a field the
  message leaves blank (None) keeps its stored value, and a line with a product ID but no SKU updates the one
  stored line of that product;
- the buyer's customer (see `identity`), stores, products, status history;
- the change the rules bridge turns into events, and the customers whose persona must be recomputed.
Each (tenant, order no.) appears at most once per round; the caller splits a batch into rounds in Kafka order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

from services.ingest.domain.bounds import MAX_LINES_PER_ORDER
from services.ingest.domain.identity import Conflict, Customer, CustomerIndex, resolve_buyer
from services.ingest.domain.order import Buyer, Order, OrderLine, OrderStatus, Receiver, Store
from services.ingest.domain.status import next_status
from services.rules_bridge.domain.changes import LineSnapshot, OrderChange, OrderSnapshot

_T = TypeVar("_T")


@dataclass(frozen=True)
class Incoming:
    """An order to ingest with where it came from; `ref` lets the caller map outcomes back to its messages."""

    ref: int
    tenant_id: UUID
    order: Order
    import_id: UUID | None
    producer: str


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

    def beyond_status(self) -> tuple[Any, ...]:
        """The content but the status (and its raw text)."""
        return (self.source, *self.content()[3:])

    def content(self) -> tuple[Any, ...]:
        """What makes an order effectively different (not its version, cause or timestamps)."""
        return (
            self.source, self.status, self.status_raw, self.order_time, self.payment_time, self.store_key,
            self.store, self.customer_id, self.buyer, self.receiver, self.order_amount, self.paid_amount,
            self.total_amount, self.remark,
        )  # fmt: skip


@dataclass(frozen=True)
class StoredOrder:
    row: OrderRow
    lines: dict[tuple[str, str], LineRow]


CREATED, UPDATED, UNCHANGED, STALE_STATUS, REJECTED = "created", "updated", "unchanged", "stale_status", "rejected"
OUTCOMES = (CREATED, UPDATED, UNCHANGED, STALE_STATUS, REJECTED)
AMBIGUOUS_SKU, TOO_MANY_LINES = "ambiguous_sku", "too_many_lines"  # why an order is rejected (its detail's prefix)


@dataclass(frozen=True)
class Outcome:
    ref: int
    tenant_id: UUID
    order_no: str
    import_id: UUID | None
    outcome: str  # one of OUTCOMES
    detail: str = ""
    customer_id: UUID | None = None  # the buyer's customer (None when stale: nothing was resolved)
    matched_by: str | None = None


@dataclass
class RoundPlan:
    orders: list[tuple[OrderRow, UUID | None, str]] = field(default_factory=list)  # row, import, producer
    lines: list[tuple[UUID, str, LineRow]] = field(default_factory=list)  # tenant, order no., line
    stores: dict[tuple[UUID, str], tuple[str, dict[str, Any]]] = field(default_factory=dict)
    products: dict[tuple[UUID, str, str], tuple[str | None, Decimal]] = field(default_factory=dict)
    history: list[tuple[UUID, str, str]] = field(default_factory=list)
    new_customers: list[tuple[UUID, Customer]] = field(default_factory=list)
    added_identifiers: dict[tuple[UUID, UUID], dict[str, str]] = field(default_factory=dict)
    conflicts: list[tuple[UUID, str, UUID, Conflict]] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    changes: list[OrderChange] = field(default_factory=list)
    touched_customers: set[tuple[UUID, UUID]] = field(default_factory=set)


def plan_round(
    incoming: Sequence[Incoming],
    stored: dict[tuple[UUID, str], StoredOrder],
    indexes: dict[UUID, CustomerIndex],
    new_id: Callable[[], UUID],
) -> RoundPlan:
    """Decide every write for `incoming` (distinct keys). `indexes` (per tenant) is updated as buyers resolve."""
    plan = RoundPlan()
    for item in incoming:
        _plan_order(plan, item, stored.get((item.tenant_id, item.order.order_no)), indexes, new_id)
    return plan


def _plan_order(
    plan: RoundPlan,
    item: Incoming,
    before: StoredOrder | None,
    indexes: dict[UUID, CustomerIndex],
    new_id: Callable[[], UUID],
) -> None:
    order, tenant = item.order, item.tenant_id
    decision = next_status(before.row.status if before else None, order.status)
    if decision.stale:
        assert before is not None
        detail = f"status {order.status.value} is older than the stored {before.row.status.value}: not applied"
        plan.outcomes.append(Outcome(item.ref, tenant, order.order_no, item.import_id, STALE_STATUS, detail))
        return
    old_lines = before.lines if before else {}
    incoming_lines = merge_lines(order.lines, old_lines)
    if isinstance(incoming_lines, str):
        plan.outcomes.append(Outcome(item.ref, tenant, order.order_no, item.import_id, REJECTED, incoming_lines))
        return
    merged = {**old_lines, **{line.key: line for line in incoming_lines}}
    if len(merged) > MAX_LINES_PER_ORDER:
        detail = _too_many_lines(len(merged), len(old_lines))
        plan.outcomes.append(Outcome(item.ref, tenant, order.order_no, item.import_id, REJECTED, detail))
        return
    index = indexes.setdefault(tenant, CustomerIndex())
    resolution = resolve_buyer(order.buyer, index, before.row.customer_id if before else None, new_id)
    if resolution.created:
        plan.new_customers.append((tenant, index.customers[resolution.customer_id]))
    elif resolution.added:
        plan.added_identifiers.setdefault((tenant, resolution.customer_id), {}).update(resolution.added)
    plan.conflicts.extend((tenant, order.order_no, resolution.customer_id, c) for c in resolution.conflicts)
    matched_by = before.row.matched_by if before and resolution.matched_by == "order" else resolution.matched_by

    changed_lines = [line for line in incoming_lines if old_lines.get(line.key) != line]
    status_raw = order.status_raw if decision.status is order.status or before is None else before.row.status_raw
    row = _order_row(item, decision.status, status_raw, resolution.customer_id, matched_by, merged, before)
    order_changed = before is None or row.content() != before.row.content()

    _note_reference_data(plan, item, row, incoming_lines)
    if not order_changed and not changed_lines:
        plan.outcomes.append(
            Outcome(item.ref, tenant, order.order_no, item.import_id, UNCHANGED, "", row.customer_id, matched_by)
        )
        return
    if before is not None:
        row = replace(row, version=before.row.version + 1)
    plan.orders.append((row, item.import_id, item.producer))
    plan.lines.extend((tenant, order.order_no, line) for line in changed_lines)
    if before is None or before.row.status is not row.status:
        plan.history.append((tenant, order.order_no, row.status.value))
    plan.touched_customers.add((tenant, row.customer_id))
    if before is not None and before.row.customer_id != row.customer_id:
        plan.touched_customers.add((tenant, before.row.customer_id))
    outcome = CREATED if before is None else UPDATED
    detail = _detail(before, changed_lines)
    plan.outcomes.append(
        Outcome(item.ref, tenant, order.order_no, item.import_id, outcome, detail, row.customer_id, matched_by)
    )
    plan.changes.append(_change(item, before, row, merged, bool(changed_lines)))


def merge_lines(lines: Sequence[OrderLine], stored: dict[tuple[str, str], LineRow]) -> list[LineRow] | str:
    """The rows `lines` write over `stored` (an order's stored lines), or why they cannot be applied.

    A line updates the stored line of its (product ID, SKU); a line without SKU whose product has no such line
    updates the one stored line of that product (several: ambiguous, rejected). A blank product name or line
    amount keeps the stored one; quantity and unit price are always given.
    """
    rows: dict[tuple[str, str], LineRow] = {}
    for line in lines:
        old = stored.get((line.product_id, line.sku))
        if old is None and not line.sku:
            same_product = sorted(x.sku for x in stored.values() if x.product_id == line.product_id)
            if len(same_product) > 1:
                return _ambiguous(line.product_id, same_product)
            old = stored[(line.product_id, same_product[0])] if same_product else None
        row = LineRow(
            line.product_id,
            old.sku if old else line.sku,
            line.product_name if line.product_name is not None or old is None else old.product_name,
            line.quantity,
            line.unit_price,
            line.line_amount if line.line_amount is not None or old is None else old.line_amount,
        )
        if row.key in rows:
            return _ambiguous(line.product_id, [row.sku])
        rows[row.key] = row
    return list(rows.values())


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


def _detail(before: StoredOrder | None, changed: list[LineRow]) -> str:
    if before is None:
        return f"{len(changed)} line(s)"
    added = sum(1 for line in changed if line.key not in before.lines)
    return f"{added} line(s) added, {len(changed) - added} updated"


def _order_row(
    item: Incoming,
    status: OrderStatus,
    status_raw: str,
    customer_id: UUID,
    matched_by: str,
    lines: dict[tuple[str, str], LineRow],
    before: StoredOrder | None,
) -> OrderRow:
    """The order row to store: the message's fields, each blank one keeping its stored value (`before`)."""
    order, old = item.order, before.row if before else None
    order_amount = _kept(order.order_amount, old.order_amount if old else None)
    total = order_amount if order_amount is not None else sum((x.amount() for x in lines.values()), Decimal(0))
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
        store_key=Store.model_construct(**store).key,
        store=store,
        customer_id=customer_id,
        matched_by=matched_by,
        buyer={**(old.buyer if old else {}), **_present(order.buyer)},
        receiver=receiver or None,
        order_amount=order_amount,
        paid_amount=_kept(order.paid_amount, old.paid_amount if old else None),
        total_amount=total,
        remark=_kept(order.remark, old.remark if old else None),
        version=old.version if old else 1,
    )


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
    store = {"store_no": None, "store_id": None, "name": None, **row.store}
    plan.stores[(item.tenant_id, row.store_key)] = (row.source, store)
    for line in lines:
        plan.products[(item.tenant_id, line.product_id, line.sku)] = (line.product_name, line.unit_price)


def _change(
    item: Incoming,
    before: StoredOrder | None,
    row: OrderRow,
    lines: dict[tuple[str, str], LineRow],
    lines_changed: bool,
) -> OrderChange:
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
        store_no=row.store.get("store_no"),
        store_id=row.store.get("store_id"),
        store_name=row.store.get("name"),
        customer_id=row.customer_id,
        matched_by=row.matched_by,
        version=row.version,
        lines=tuple(
            LineSnapshot(x.product_id, x.sku, x.product_name, x.quantity, x.unit_price, x.line_amount)
            for x in sorted(lines.values(), key=lambda x: x.key)
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
