"""Partial re-sends never erase (finding 8) and merging never passes the line limit (bounds), in `plan_round`."""

from __future__ import annotations

import itertools
import json
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from services.core.bounds import MAX_LINES_PER_ORDER, MAX_MESSAGE_BYTES
from services.ingest.domain.identity import CustomerIndex
from services.ingest.domain.planning import Incoming, RoundPlan, StoredOrder, plan_round
from services.rules_bridge.outbox_writer import order_events
from tests.support.orders import SHANGHAI, line, message

T = UUID(int=1)
FULL: dict[str, Any] = {
    "payment_time": datetime(2026, 11, 1, 10, 5, tzinfo=SHANGHAI),
    "receiver": {"name": "Li Li", "mobile": "13912345678", "address": "1 Nanjing Rd"},
    "order_amount": Decimal("100.00"),
    "paid_amount": Decimal("90.00"),
    "remark": "gift wrap",
    "store": {"store_no": "S1", "store_id": "ID1", "name": "Flagship"},
    "buyer": {"mobile": "13912345678", "nickname": "Lily", "unionid": "U1"},
}


class Tenant:
    """One tenant's stored state, grown by applying plans as the consumer would."""

    def __init__(self) -> None:
        self.stored: dict[tuple[UUID, str], StoredOrder] = {}
        self.index = CustomerIndex()
        self.ids = itertools.count(1000)

    def apply(self, order: Any) -> RoundPlan:
        item = Incoming(0, T, order, None, "test")
        p = plan_round([item], self.stored, {T: self.index}, lambda: UUID(int=next(self.ids)))
        for row, _, _ in p.orders:
            before = self.stored.get((T, row.order_no))
            lines = dict(before.lines) if before else {}
            for _, order_no, key in p.dropped_lines:
                assert order_no == row.order_no
                del lines[key]
            lines.update({x.key: x for _, _, x in p.lines})
            self.stored[(T, row.order_no)] = StoredOrder(row, lines)
        return p

    def order(self, order_no: str = "O1") -> StoredOrder:
        return self.stored[(T, order_no)]


def stored_full() -> Tenant:
    tenant = Tenant()
    lines = [line("P1", "SKU-A", quantity=2, product_name="Shirt", line_amount=Decimal("18.00")), line("P2")]
    assert tenant.apply(message(T, "O1", lines=lines, **FULL)).outcomes[0].outcome == "created"
    return tenant


def test_a_partial_resend_keeps_every_blank_field_and_updates_the_one_line_of_its_product() -> None:
    tenant = stored_full()
    before = tenant.order()
    p = tenant.apply(
        message(
            T,
            "O1",
            status="shipped",
            store={"store_no": "S1"},
            buyer={"nickname": "Lily"},
            lines=[line("P1", quantity=2)],
        )
    )
    assert [o.outcome for o in p.outcomes] == ["updated"]
    after = tenant.order()
    assert after.row.status.value == "shipped"
    kept = ("payment_time", "receiver", "order_amount", "paid_amount", "remark", "store", "buyer", "total_amount")
    assert {k: getattr(after.row, k) for k in kept} == {k: getattr(before.row, k) for k in kept}
    assert after.lines == before.lines  # P1 without SKU is the stored P1/SKU-A: same quantity and price
    assert after.row.customer_id == before.row.customer_id
    assert p.new_customers == [] and list(p.products) == [(T, "P1", "SKU-A")]


@pytest.mark.parametrize(
    ("resent", "lines", "total"),
    [
        # (the re-sent lines, the stored lines after it, the order total after it); stored: P1/SKU-A x2 @10, P2 x1 @10
        # a new quantity or price drops the stored line amount (probe 2, finding 10); the same ones keep it
        ([line("P1", quantity=3)], {("P1", "SKU-A"): (3, None), ("P2", ""): (1, None)}, "100.00"),
        ([line("P1", "SKU-A", quantity=1)], {("P1", "SKU-A"): (1, None), ("P2", ""): (1, None)}, "100.00"),
        ([line("P1", "SKU-A", quantity=2)], {("P1", "SKU-A"): (2, "18.00"), ("P2", ""): (1, None)}, "100.00"),
        ([line("P3")], {("P1", "SKU-A"): (2, "18.00"), ("P2", ""): (1, None), ("P3", ""): (1, None)}, "100.00"),
        (
            [line("P1", "SKU-B")],
            {("P1", "SKU-A"): (2, "18.00"), ("P1", "SKU-B"): (1, None), ("P2", ""): (1, None)},
            "100.00",
        ),
        (
            [line("P2", quantity=5, line_amount=Decimal("45.00"))],
            {("P1", "SKU-A"): (2, "18.00"), ("P2", ""): (5, "45.00")},
            "100.00",
        ),
    ],
)
def test_lines_merge_by_product_and_sku(resent: list[dict[str, Any]], lines: dict[Any, Any], total: str) -> None:
    tenant = stored_full()
    tenant.apply(message(T, "O1", store={"store_no": "S1"}, lines=resent))
    after = tenant.order()
    got = {k: (x.quantity, None if x.line_amount is None else str(x.line_amount)) for k, x in after.lines.items()}
    assert got == lines
    assert after.row.total_amount == Decimal(total)


def test_without_order_amount_the_total_is_the_sum_of_the_merged_lines_and_does_not_grow_on_a_resend() -> None:
    tenant = Tenant()
    tenant.apply(message(T, "O1", lines=[line("P1", "A", quantity=2), line("P2", "B")]))
    assert tenant.order().row.total_amount == Decimal("30.00")
    for _ in range(2):
        p = tenant.apply(message(T, "O1", lines=[line("P1", quantity=2)]))
        assert [o.outcome for o in p.outcomes] == ["unchanged"]
    assert tenant.order().row.total_amount == Decimal("30.00") and len(tenant.order().lines) == 2


def test_a_line_without_sku_is_rejected_when_its_product_has_several_stored_skus() -> None:
    tenant = Tenant()
    tenant.apply(message(T, "O1", lines=[line("P1", "RED"), line("P1", "BLUE")]))
    before = tenant.order()
    p = tenant.apply(message(T, "O1", status="shipped", buyer={"mobile": "13800001111"}, lines=[line("P1")]))
    (outcome,) = p.outcomes
    assert outcome.outcome == "rejected"
    assert outcome.detail.startswith("ambiguous_sku:") and "'BLUE', 'RED'" in outcome.detail
    assert_nothing_written(p)
    assert tenant.order() == before


def test_a_line_without_sku_that_lands_on_a_line_the_message_also_names_is_rejected() -> None:
    tenant = Tenant()
    tenant.apply(message(T, "O1", lines=[line("P1", "RED")]))
    p = tenant.apply(message(T, "O1", lines=[line("P1"), line("P1", "RED", quantity=4)]))
    assert [o.outcome for o in p.outcomes] == ["rejected"] and "'RED'" in p.outcomes[0].detail


def test_a_new_order_takes_its_lines_as_given() -> None:
    p = Tenant().apply(message(T, "O1", lines=[line("P1"), line("P1", "RED")]))
    assert sorted(x.key for _, _, x in p.lines) == [("P1", ""), ("P1", "RED")]


def assert_nothing_written(p: RoundPlan) -> None:
    assert p.orders == [] and p.lines == [] and p.changes == [] and p.history == []
    assert p.new_customers == [] and p.added_identifiers == {} and p.conflicts == []
    assert p.stores == {} and p.products == {} and p.touched_customers == set()


def lines_of(start: int, count: int) -> list[dict[str, Any]]:
    return [line(f"P{i}") for i in range(start, start + count)]


# A single message of more lines is refused by the contract before planning (tests/unit/ingest/test_message_bounds.py).
@pytest.mark.parametrize(
    ("stored", "new", "overlapping", "outcome"),
    [
        (0, MAX_LINES_PER_ORDER, 0, "created"),
        (MAX_LINES_PER_ORDER - 1, 1, 0, "updated"),
        (MAX_LINES_PER_ORDER - 1, 2, 0, "rejected"),
        (MAX_LINES_PER_ORDER, 0, 10, "updated"),  # updating stored lines never counts twice
        (MAX_LINES_PER_ORDER, 1, 10, "rejected"),
        (300, 300, 0, "rejected"),  # two halves within bounds each
    ],
)
def test_merging_past_the_line_limit_is_rejected_and_writes_nothing(
    stored: int, new: int, overlapping: int, outcome: str
) -> None:
    tenant = Tenant()
    if stored:
        tenant.apply(message(T, "O1", lines=lines_of(0, stored)))
    resent = [line(f"P{i}", quantity=2) for i in range(overlapping)] + lines_of(stored, new)
    p = tenant.apply(message(T, "O1", lines=resent))
    (got,) = p.outcomes
    assert got.outcome == outcome
    if outcome == "rejected":
        assert got.detail.startswith("too_many_lines:") and f"at most {MAX_LINES_PER_ORDER}" in got.detail
        assert_nothing_written(p)
        assert len(tenant.stored.get((T, "O1"), StoredOrder(None, {})).lines) == stored  # type: ignore[arg-type]


def test_the_event_of_a_full_order_at_maximal_field_lengths_stays_far_below_the_message_limit() -> None:
    def text(n: int, i: int) -> str:
        """`n` characters of 4 bytes each in UTF-8 (the most a character the contract allows can take)."""
        return (f"{i}-" + "🛒" * n)[:n]

    lines = [
        line(
            text(64, i),
            text(64, i),
            quantity=1_000_000,
            price="9999.99",
            product_name=text(255, i),
            line_amount=Decimal("999999999.99"),
        )
        for i in range(MAX_LINES_PER_ORDER)
    ]
    order = message(
        T,
        text(64, 0),
        lines=lines,
        store={"store_no": text(64, 1), "store_id": text(64, 2), "name": text(255, 3)},
        remark=text(1000, 4),
        order_amount=Decimal("999999999999.99"),
        paid_amount=Decimal("999999999999.99"),
        status_raw=text(64, 5),
    )
    p = Tenant().apply(order)
    events = [e for change in p.changes for e in order_events(change)]
    assert events
    for event in events:
        size = len(json.dumps(event.payload, ensure_ascii=False).encode()) + len(json.dumps(event.headers))
        assert size < MAX_MESSAGE_BYTES / 4, size  # measured: 0.82 MB (0.63 MB in Chinese)
