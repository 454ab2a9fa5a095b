"""Successive records of one order in one round (probes 2, notes): planned in order over the state the previous one
left, written once, with exactly the outcomes, changes and stored state of one round per record."""

from __future__ import annotations

import itertools
import random
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from services.ingest.domain.identity import CustomerIndex
from services.ingest.domain.planning import Incoming, RoundPlan, StoredOrder, plan_round
from tests.support.orders import line, message

T = UUID(int=1)


class State:
    """Stored orders, grown by applying plans as `order_store.write_plan` does."""

    def __init__(self) -> None:
        self.stored: dict[tuple[UUID, str], StoredOrder] = {}
        self.index = CustomerIndex()
        self.ids = itertools.count(1000)
        self.stores: dict[Any, Any] = {}
        self.products: dict[Any, Any] = {}

    def plan(self, orders: list[Any]) -> RoundPlan:
        items = [Incoming(n, T, order, None, "test") for n, order in enumerate(orders)]
        plan = plan_round(items, self.stored, {T: self.index}, lambda: UUID(int=next(self.ids)))
        written = {(row.tenant_id, row.order_no) for row, _, _ in plan.orders}
        assert len(written) == len(plan.orders), "an order is written twice in one round"
        assert len({(t, no, x.key) for t, no, x in plan.lines}) == len(plan.lines), "a line is written twice"
        conflicts = {(t, no, c.identifier) for t, no, _, c in plan.conflicts}
        assert len(conflicts) == len(plan.conflicts), "a conflict is recorded twice (one upsert cannot take both)"
        for row, _, _ in plan.orders:
            key = (row.tenant_id, row.order_no)
            lines = dict(self.stored[key].lines) if key in self.stored else {}
            for _, _, dropped in (d for d in plan.dropped_lines if (d[0], d[1]) == key):
                del lines[dropped]
            lines.update({x.key: x for t, no, x in plan.lines if (t, no) == key})
            self.stored[key] = StoredOrder(row, lines)
        for key, (source, store) in plan.stores.items():  # UPSERT_STORES: a blank name keeps the stored one
            old = self.stores.get(key, (None, {}))[1]
            self.stores[key] = (source, {**store, "name": store["name"] or old.get("name")})
        for key, (name, price) in plan.products.items():
            self.products[key] = (name if name is not None else self.products.get(key, (None,))[0], price)
        return plan


def _seen(plan: RoundPlan) -> list[Any]:
    return [(o.order_no, o.outcome, o.detail, o.customer_id) for o in plan.outcomes]


def _records(seed: int) -> list[Any]:
    rng = random.Random(seed)
    statuses = ["paid", "paid", "other", "shipped", "to_be_paid", "deal_closed"]
    variants = [("", {}), ("RED", {"product_name": "Red"}), ("BLUE", {"line_amount": Decimal("5.00")})]
    out = []
    for _ in range(rng.randint(2, 12)):
        lines = [
            line(product, sku, rng.randint(1, 2), rng.choice(["10.00", "10.00", "12.00"]), **extra)
            for product, (sku, extra) in zip(
                rng.sample(["P1", "P2"], rng.randint(1, 2)), rng.choices(variants, k=2), strict=False
            )
        ]
        buyer = rng.choice([{"mobile": "13900000001"}, {"mobile": "13900000002", "nickname": "B"}, {"unionid": "u"}])
        store = rng.choice([{"store_no": "S1", "name": "Flagship"}, {"store_no": "S1"}, {"store_id": "X"}])
        status = rng.choice(statuses)
        out.append(message(T, rng.choice(["O1", "O2"]), status=status, lines=lines, buyer=buyer, store=store))
    return out


@pytest.mark.parametrize("seed", range(60))
def test_one_round_of_successive_records_of_an_order_equals_one_round_per_record(seed: int) -> None:
    records = _records(seed)
    one_by_one, together = State(), State()
    for state in (one_by_one, together):  # the batch finds both orders stored
        state.plan([message(T, "O1", lines=[line("P1"), line("P2", "RED")]), message(T, "O2", lines=[line("P2")])])
    sequential = [one_by_one.plan([r]) for r in records]
    collapsed = together.plan(records)
    assert [s for p in sequential for s in _seen(p)] == _seen(collapsed), f"seed {seed}"
    assert [c for p in sequential for c in p.changes] == collapsed.changes, f"seed {seed}"
    assert together.stored == one_by_one.stored, f"seed {seed}"
    assert (together.stores, together.products) == (one_by_one.stores, one_by_one.products), f"seed {seed}"
    touched = set().union(*(p.touched_customers for p in sequential))
    assert collapsed.touched_customers == touched, f"seed {seed}"


def test_a_line_written_then_taken_over_under_its_sku_in_the_same_round_is_not_written_back() -> None:
    state = State()
    plan = state.plan(
        [message(T, "O1", lines=[line("P1")]), message(T, "O1", status="shipped", lines=[line("P1", "RED")])]
    )
    assert [o.outcome for o in plan.outcomes] == ["created", "updated"]
    assert [x.key for _, _, x in plan.lines] == [("P1", "RED")] and plan.dropped_lines == []
    assert set(state.stored[(T, "O1")].lines) == {("P1", "RED")} and len(plan.changes) == 2


def test_records_of_one_order_naming_the_same_conflict_record_it_once() -> None:
    """RECORD_IDENTITY_CONFLICTS upserts by (tenant, order no., identifier): one statement cannot take that key
    twice, and a batch re-sending an order with an identifier another customer holds failed whole for it."""
    state = State()
    state.plan([message(T, "C-0", buyer={"unionid": "U-B"}), message(T, "C-1", buyer={"mobile": "13900000021"})])
    both = [message(T, "C-1", buyer={"mobile": "13900000021", "unionid": "U-B"}, remark=r) for r in ("a", "b")]
    plan = state.plan(both)
    assert [(no, c.identifier, c.value) for _, no, _, c in plan.conflicts] == [("C-1", "unionid", "U-B")]


_IDENTIFIERS = {
    "sobot_customer_id": [None, "S1", "S2"],
    "mobile": [None, "13900000001", "13900000002", "13900000003"],
    "unionid": [None, "U1", "U2"],
    "nickname": [None, "n"],
}


@pytest.mark.parametrize("seed", range(40))
def test_an_orders_customer_always_holds_one_of_its_buyers_identifiers(seed: int) -> None:
    """docs/merging.md rule 7 over random corrections of two orders' buyers: an order is never left on a customer
    that none of its buyer's unique identifiers names (two people merged through the order)."""
    rng = random.Random(seed)
    for _ in range(10):
        state = State()
        for _ in range(rng.randint(1, 6)):
            batch = []
            for _ in range(rng.randint(1, 3)):
                buyer = {k: v for k, v in ((k, rng.choice(vs)) for k, vs in _IDENTIFIERS.items()) if v}
                order_no, remark = rng.choice(["O1", "O2"]), str(rng.random())
                batch.append(message(T, order_no, buyer=buyer or {"nickname": "x"}, remark=remark))
            state.plan(batch)
            for key, order in state.stored.items():
                customer = state.index.customers[order.row.customer_id]
                given = {k: v for k, v in order.row.buyer.items() if k != "nickname"}
                assert not given or any(customer.get(k) == v for k, v in given.items()), (key, given, customer)
