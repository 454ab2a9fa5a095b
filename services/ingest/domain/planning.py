"""What to write for a set of incoming orders, given what is stored: the pure heart of ingestion.

`plan_round` compares each incoming order with the stored one and decides, without IO:
- the outcome: created, updated, unchanged (identical content: nothing is written) or stale_status (the status would
  move backwards: the order is an older snapshot and nothing of it is written);
- the rows to upsert: the order when it changed, lines that are new (merged) or changed (updated); lines absent
  from the message are kept;
- the buyer's customer (see `identity`), stores, products, status history;
- the change the rules bridge turns into events, and the customers whose persona must be recomputed.
Each (tenant, order no.) appears at most once per round; the caller splits a batch into rounds in Kafka order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from services.ingest.domain.identity import Conflict, Customer, CustomerIndex, resolve_buyer
from services.ingest.domain.order import Buyer, Order, OrderLine, OrderStatus, Receiver, Store
from services.ingest.domain.status import next_status
from services.rules_bridge.domain.changes import LineSnapshot, OrderChange, OrderSnapshot


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


@dataclass(frozen=True)
class Outcome:
    ref: int
    tenant_id: UUID
    order_no: str
    import_id: UUID | None
    outcome: str  # created | updated | unchanged | stale_status
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
        plan.outcomes.append(Outcome(item.ref, tenant, order.order_no, item.import_id, "stale_status", detail))
        return
    index = indexes.setdefault(tenant, CustomerIndex())
    resolution = resolve_buyer(order.buyer, index, before.row.customer_id if before else None, new_id)
    if resolution.created:
        plan.new_customers.append((tenant, index.customers[resolution.customer_id]))
    elif resolution.added:
        plan.added_identifiers.setdefault((tenant, resolution.customer_id), {}).update(resolution.added)
    plan.conflicts.extend((tenant, order.order_no, resolution.customer_id, c) for c in resolution.conflicts)
    matched_by = before.row.matched_by if before and resolution.matched_by == "order" else resolution.matched_by

    incoming_lines = [_line_row(line) for line in order.lines]
    old_lines = before.lines if before else {}
    changed_lines = [line for line in incoming_lines if old_lines.get(line.key) != line]
    merged = {**old_lines, **{line.key: line for line in incoming_lines}}
    status_raw = order.status_raw if decision.status is order.status or before is None else before.row.status_raw
    row = _order_row(item, decision.status, status_raw, resolution.customer_id, matched_by, merged, before)
    order_changed = before is None or row.content() != before.row.content()

    _note_reference_data(plan, item)
    if not order_changed and not changed_lines:
        plan.outcomes.append(
            Outcome(item.ref, tenant, order.order_no, item.import_id, "unchanged", "", row.customer_id, matched_by)
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
    outcome = "created" if before is None else "updated"
    plan.outcomes.append(
        Outcome(
            item.ref, tenant, order.order_no, item.import_id, outcome, _detail(before, changed_lines),
            row.customer_id, matched_by,
        )
    )  # fmt: skip
    plan.changes.append(_change(item, before, row, merged, bool(changed_lines)))


def _detail(before: StoredOrder | None, changed: list[LineRow]) -> str:
    if before is None:
        return f"{len(changed)} line(s)"
    added = sum(1 for line in changed if line.key not in before.lines)
    return f"{added} line(s) added, {len(changed) - added} updated"


def _line_row(line: OrderLine) -> LineRow:
    return LineRow(line.product_id, line.sku, line.product_name, line.quantity, line.unit_price, line.line_amount)


def _order_row(
    item: Incoming,
    status: OrderStatus,
    status_raw: str,
    customer_id: UUID,
    matched_by: str,
    lines: dict[tuple[str, str], LineRow],
    before: StoredOrder | None,
) -> OrderRow:
    order = item.order
    total = (
        order.order_amount if order.order_amount is not None else sum((x.amount() for x in lines.values()), Decimal(0))
    )
    return OrderRow(
        tenant_id=item.tenant_id,
        order_no=order.order_no,
        source=order.source.value,
        status=status,
        status_raw=status_raw,
        order_time=order.order_time,
        payment_time=order.payment_time,
        store_key=order.store.key,
        store=_present(order.store),
        customer_id=customer_id,
        matched_by=matched_by,
        buyer=_present(order.buyer),
        receiver=_present(order.receiver) if order.receiver else None,
        order_amount=order.order_amount,
        paid_amount=order.paid_amount,
        total_amount=total,
        remark=order.remark,
        version=before.row.version if before else 1,
    )


def _present(value: Store | Buyer | Receiver) -> dict[str, Any]:
    """The fields that are set (all are text), as stored in jsonb: what `model_dump(exclude_none=True)` gives,
    without its cost on the hot path."""
    return {k: v for k, v in vars(value).items() if v is not None}


def _note_reference_data(plan: RoundPlan, item: Incoming) -> None:
    order = item.order
    plan.stores[(item.tenant_id, order.store.key)] = (order.source.value, vars(order.store))
    for line in order.lines:
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
