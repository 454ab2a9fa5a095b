from __future__ import annotations

import itertools
from decimal import Decimal
from uuid import UUID

from services.core.order import OrderStatus
from services.ingest.domain.identity import CustomerIndex
from services.ingest.domain.planning import Incoming, LineRow, StoredOrder, plan_round
from tests.support.orders import line, message

T = UUID(int=1)


def plan(
    *orders: object, stored: dict[tuple[UUID, str], StoredOrder] | None = None, index: CustomerIndex | None = None
):  # type: ignore[no-untyped-def]
    counter = itertools.count(1000)
    items = [Incoming(i, T, o, None, "test") for i, o in enumerate(orders)]  # type: ignore[arg-type]
    return plan_round(items, stored or {}, {T: index or CustomerIndex()}, lambda: UUID(int=next(counter)))


def stored_from(p) -> dict[tuple[UUID, str], StoredOrder]:  # type: ignore[no-untyped-def]
    out = {}
    for row, _, _ in p.orders:
        lines = {x.key: x for t, no, x in p.lines if no == row.order_no}
        out[(T, row.order_no)] = StoredOrder(row, lines)
    return out


def test_new_order_creates_rows_history_customer_and_a_change() -> None:
    p = plan(message(T, "O1", lines=[line("A"), line("B", quantity=2)]))
    assert [o.outcome for o in p.outcomes] == ["created"]
    assert len(p.orders) == 1 and len(p.lines) == 2 and p.history == [(T, "O1", "paid")]
    assert len(p.new_customers) == 1
    (change,) = p.changes
    assert change.before_status is None and change.after.total_amount == Decimal("30.00")


def test_identical_content_is_unchanged_and_writes_nothing() -> None:
    first = plan(message(T, "O1"))
    index = CustomerIndex()
    for _, c in first.new_customers:
        index.put(c)
    again = plan(message(T, "O1"), stored=stored_from(first), index=index)
    assert [o.outcome for o in again.outcomes] == ["unchanged"]
    assert again.orders == [] and again.lines == [] and again.changes == [] and again.new_customers == []


def test_status_only_change_is_not_a_content_change() -> None:
    first = plan(message(T, "O1", status="paid"))
    index = CustomerIndex()
    for _, c in first.new_customers:
        index.put(c)
    later = plan(message(T, "O1", status="shipped"), stored=stored_from(first), index=index)
    (change,) = later.changes
    assert change.before_status is OrderStatus.PAID and change.after.status is OrderStatus.SHIPPED
    assert not change.content_changed and change.after.version == 2


def test_other_keeps_the_known_status_and_its_raw_text() -> None:
    first = plan(message(T, "O1", status="shipped", status_raw="已发货"))
    index = CustomerIndex()
    for _, c in first.new_customers:
        index.put(c)
    later = plan(message(T, "O1", status="other", status_raw="其他"), stored=stored_from(first), index=index)
    assert [o.outcome for o in later.outcomes] == ["unchanged"]


def test_merged_lines_keep_absent_ones_in_the_snapshot() -> None:
    first = plan(message(T, "O1", lines=[line("A")]))
    index = CustomerIndex()
    for _, c in first.new_customers:
        index.put(c)
    later = plan(message(T, "O1", lines=[line("B")]), stored=stored_from(first), index=index)
    assert [x.key for _, _, x in later.lines] == [("B", "")]
    assert [x.product_id for x in later.changes[0].after.lines] == ["A", "B"]
    assert later.changes[0].content_changed
    assert LineRow("A", "", None, 1, Decimal("10.00"), None).amount() == Decimal("10.00")
