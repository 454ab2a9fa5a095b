"""The redelivery short-circuit (issue 15): a message whose digest is the stored order's is planned `unchanged`
without merging it again, and that plan is exactly the one full planning makes (outcome, stores, products,
identifiers, conflicts: everything), whatever was applied before; a different message is always planned in full."""

from __future__ import annotations

import copy
import random
from dataclasses import replace
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from services.core.order import Order
from services.ingest.application.ingestion import candidates, decode, read_ahead, recognise
from services.ingest.domain import planning
from services.ingest.domain.identity import Customer, CustomerIndex
from services.ingest.domain.planning import Incoming, RoundPlan, StoredOrder, plan_round
from services.ingest.domain.redelivery import StoredMatch
from tests.support.orders import line, message, received

T = UUID(int=1)
Key = tuple[UUID, str]


def _plan(
    order: Order, digest: bytes | None, stored: dict[Key, StoredOrder], index: CustomerIndex, ids: list[int]
) -> RoundPlan:
    def new_id() -> UUID:
        ids[0] += 1
        return UUID(int=ids[0])

    return plan_round([Incoming(0, T, order, None, "test", digest)], stored, {T: index}, new_id)


def _applied(stored: dict[Key, StoredOrder], plan: RoundPlan) -> None:
    for row, _, _ in plan.orders:
        before = stored.get((T, row.order_no))
        lines = dict(before.lines) if before else {}
        for _, _, key in plan.dropped_lines:
            del lines[key]
        lines.update({x.key: x for _, _, x in plan.lines})
        stored[(T, row.order_no)] = StoredOrder(row, lines)


def _without_digests(stored: dict[Key, StoredOrder]) -> dict[Key, StoredOrder]:
    return {k: replace(s, row=replace(s.row, digest=None)) for k, s in stored.items()}


def _same_plan_either_way(order: Order, digest: bytes, stored: dict[Key, StoredOrder], index: CustomerIndex) -> str:
    """Plan `order` (with `digest`) over `stored` as is and with the stored digests forgotten (full planning):
    the two plans must be equal. Their outcome."""
    short = _plan(order, digest, stored, copy.deepcopy(index), [10_000])
    full = _plan(order, digest, _without_digests(stored), copy.deepcopy(index), [10_000])
    assert short == full
    return short.outcomes[0].outcome


VARIANTS: list[dict[str, Any]] = [
    {"lines": [line("P1", "SKU-A", quantity=2, product_name="Shirt", line_amount=Decimal("18.00")), line("P2")]},
    {"lines": [line("P1", quantity=3)], "status": "shipped"},
    {"lines": [line("P1", "SKU-B")], "store": {"store_no": "S1"}},
    {"lines": [line("P3", product_name="  ")], "remark": "gift", "buyer": {"mobile": "13912345678", "unionid": "U1"}},
    {"lines": [line("P2", "SKU-Z", price="12.00")], "status": "other", "status_raw": "weird"},
    {"lines": [line("P1"), line("P1", "SKU-C")], "buyer": {"nickname": "Lily", "unionid": "U1"}},
    {"lines": [line("P4")], "status": "to_be_paid", "store": {"store_no": "S2", "name": "Second"}},
    {"lines": [line("P1", "SKU-A", quantity=2)], "order_amount": Decimal("50.00"), "status": "deal_closed"},
    {"lines": [line("P5")], "buyer": {"mobile": "13800000000"}},
]


@pytest.mark.parametrize("seed", range(100))
def test_a_message_again_plans_exactly_as_in_full_after_any_history(seed: int) -> None:
    rng = random.Random(seed)
    stored: dict[Key, StoredOrder] = {}
    index = CustomerIndex()
    ids = [0]
    sent: list[tuple[Order, bytes]] = []
    outcomes = []
    for _ in range(8):
        n = rng.randrange(len(VARIANTS))
        order, digest = message(T, "O1", **VARIANTS[n]), bytes([n]) * 16
        for earlier, earlier_digest in sent:  # every message so far, again: short-circuited or not, the same plan
            _same_plan_either_way(earlier, earlier_digest, stored, index)
        plan = _plan(order, digest, stored, index, ids)
        _applied(stored, plan)
        sent.append((order, digest))
        if plan.orders:  # the message that wrote the order, again (unchanged, or rejected: see below)
            outcomes.append(_same_plan_either_way(order, digest, stored, index))
    assert "unchanged" in outcomes


def test_a_message_that_made_a_second_line_of_a_product_is_unchanged_when_sent_again() -> None:
    """A line without SKU that took over the one stored line of its product, sent with a new line of that product:
    sent again, it finds two lines of the product, but the other is named by the message itself, so it takes the
    same line again (it was rejected as ambiguous before: a redelivery dead-lettered)."""
    stored: dict[Key, StoredOrder] = {}
    index = CustomerIndex()
    _applied(stored, _plan(message(T, "O1", lines=[line("P1", "SKU-A")]), b"1" * 16, stored, index, [0]))
    order = message(T, "O1", lines=[line("P1"), line("P1", "SKU-C")])
    _applied(stored, _plan(order, b"2" * 16, stored, index, [0]))
    assert sorted(stored[(T, "O1")].lines) == [("P1", "SKU-A"), ("P1", "SKU-C")]
    assert _same_plan_either_way(order, b"2" * 16, stored, index) == "unchanged"


def test_the_same_message_again_is_unchanged_and_notes_its_store_and_products(monkeypatch: pytest.MonkeyPatch) -> None:
    stored: dict[Key, StoredOrder] = {}
    index = CustomerIndex()
    order = message(T, "O1", lines=[line("P1", "SKU-A"), line("P2")])
    _applied(stored, _plan(order, b"d" * 16, stored, index, [0]))
    assert stored[(T, "O1")].row.digest == b"d" * 16
    monkeypatch.setattr(planning, "_merge", None)  # not merged again
    again = _plan(order, b"d" * 16, stored, index, [0])
    assert [o.outcome for o in again.outcomes] == ["unchanged"]
    assert not again.orders and not again.lines and not again.changes and not again.persona_deltas
    assert sorted(again.products) == [(T, "P1", "SKU-A"), (T, "P2", "")]
    assert list(again.stores) == [(T, "no:S1")]


def test_a_new_product_for_the_order_is_merged_not_skipped() -> None:
    stored: dict[Key, StoredOrder] = {}
    index = CustomerIndex()
    _applied(stored, _plan(message(T, "O1", lines=[line("P1")]), b"1" * 16, stored, index, [0]))
    plan = _plan(message(T, "O1", lines=[line("P2")]), b"2" * 16, stored, index, [0])
    assert [o.outcome for o in plan.outcomes] == ["updated"]
    assert [x.product_id for _, _, x in plan.lines] == ["P2"]
    _applied(stored, plan)
    assert stored[(T, "O1")].row.digest == b"2" * 16
    assert sorted(stored[(T, "O1")].lines) == [("P1", ""), ("P2", "")]


def test_a_buyer_now_held_by_another_customer_is_planned_in_full() -> None:
    stored: dict[Key, StoredOrder] = {}
    index = CustomerIndex()
    order = message(T, "O1", buyer={"mobile": "13912345678"})
    _applied(stored, _plan(order, b"d" * 16, stored, index, [0]))
    first = stored[(T, "O1")].row.customer_id
    # The mobile moved to another customer meanwhile (its first customer erased, say)
    other = UUID(int=999)
    index = CustomerIndex()
    index.put(Customer(first, None, None, None, None))
    index.put(Customer(other, None, "13912345678", None, None))
    plan = _plan(order, b"d" * 16, stored, copy.deepcopy(index), [0])
    assert [o.outcome for o in plan.outcomes] == ["updated"]
    assert plan.orders[0][0].customer_id == other
    assert _same_plan_either_way(order, b"d" * 16, stored, index) == "updated"


def test_the_digest_is_of_the_value_and_the_placeholder_mobiles() -> None:
    records = received(message(T, "O1"), message(T, "O1"), message(T, "O2"))
    (a, b, c), _ = decode(records)
    assert a.digest is not None and len(a.digest) == 16
    assert a.digest == b.digest != c.digest
    (d, _, _), _ = decode(records, frozenset({"13800000000"}))
    assert d.digest != a.digest


# --- the pre-filter (`ingestion.recognise`): a redelivery recognised before decoding plans as in full ------------

T2 = UUID(int=2)
BUYERS: list[dict[str, Any]] = [
    {"mobile": "13912345678"},
    {"mobile": "13912345678", "unionid": "U1"},
    {"unionid": "U1", "nickname": "Lily"},
    {"mobile": "13900000001", "unionid": "U1"},  # U1 may be held by another customer: a conflict
    {"sobot_customer_id": "S-9", "mobile": "13900000001"},
    {"nickname": "Lily"},
    {"mobile": "13800000000", "unionid": "U2"},  # a placeholder mobile: absent
    {"mobile": "13912345678", "nickname": "  "},
]
PLACEHOLDERS = frozenset({"13800000000"})


class World:
    """What is stored: orders and customers (the whole table: a superset of what the batch's index loads)."""

    def __init__(self) -> None:
        self.orders: dict[Key, StoredOrder] = {}
        self.customers: dict[tuple[UUID, UUID], Customer] = {}
        self.ids = 0

    def indexes(self) -> dict[UUID, CustomerIndex]:
        indexes: dict[UUID, CustomerIndex] = {T: CustomerIndex(), T2: CustomerIndex()}
        for (tenant, _), customer in self.customers.items():
            indexes[tenant].put(customer)
        return indexes

    def digests(self) -> dict[Key, tuple[bytes, StoredMatch]]:
        """`order_store.load_redelivered` of every stored order (the read keeps those of the wanted digests)."""
        return {
            key: (s.row.digest, StoredMatch(self.customers[(key[0], s.row.customer_id)], s.row.matched_by))
            for key, s in self.orders.items()
            if s.row.digest is not None
        }

    def plan(self, items: list[Incoming]) -> RoundPlan:
        first = self.ids

        def new_id() -> UUID:
            nonlocal first
            first += 1
            return UUID(int=first)

        return plan_round(items, self.orders, self.indexes(), new_id)

    def apply(self, plan: RoundPlan) -> None:
        self.ids += len(plan.new_customers)
        for tenant, customer in plan.new_customers:
            self.customers[(tenant, customer.id)] = customer
        for (tenant, customer_id), added in plan.added_identifiers.items():
            self.customers[(tenant, customer_id)] = replace(self.customers[(tenant, customer_id)], **added)
        for row, _, _ in plan.orders:
            key = (row.tenant_id, row.order_no)
            lines = dict(self.orders[key].lines) if key in self.orders else {}
            for tenant, order_no, line_key in plan.dropped_lines:
                if (tenant, order_no) == key:
                    del lines[line_key]
            lines.update({x.key: x for tenant, order_no, x in plan.lines if (tenant, order_no) == key})
            self.orders[key] = StoredOrder(row, lines)


def _writes(plan: RoundPlan) -> tuple[Any, ...]:
    """All a plan writes and emits but the store and product rows (not noted again for a redelivery). Orders and
    lines in key order, as `sql.INSERT_ORDERS` and `INSERT_LINES` write them, dropped lines and persona deltas as
    sets (a delete by key, a sum): a repeated order's rows come last in a plan, so their order in it moves."""
    return (
        sorted(plan.orders, key=lambda o: (o[0].tenant_id, o[0].order_no)),
        sorted(plan.lines, key=lambda x: (x[0], x[1], x[2].key)),
        sorted(plan.dropped_lines),
        plan.history,
        plan.new_customers,
        plan.added_identifiers,
        plan.conflicts,
        plan.changes,
        plan.touched_customers,
        sorted(plan.persona_deltas, key=repr),
        plan.new_orders,
    )


def _random_message(rng: random.Random) -> Any:
    tenant, order_no = rng.choice([(T, "O1"), (T, "O1"), (T, "O2"), (T2, "O1")])
    fields = {**rng.choice(VARIANTS), "buyer": rng.choice(BUYERS)}
    return message(tenant, order_no, **fields)


@pytest.mark.parametrize("ahead", ["none", "claims", "no claims"])
@pytest.mark.parametrize("seed", range(30))
def test_recognised_redeliveries_plan_as_full_planning_in_any_batch_after_any_history(seed: int, ahead: str) -> None:
    """Batches of new and re-sent messages (the same order twice, an older message after a newer one, another
    tenant): recognising redeliveries first changes no outcome and nothing written (stores and products aside);
    whether the records were read ahead (`read_ahead`), with their claims or without (read when recognised)."""
    assert sum(_recognised_in_history(random.Random(seed * 5 + n), ahead) for n in range(5))


def _recognised_in_history(rng: random.Random, ahead: str = "none") -> int:
    world, sent, recognised = World(), [], 0
    for _ in range(10):
        batch = [
            rng.choice(sent) if sent and rng.random() < 0.6 else _random_message(rng) for _ in range(rng.randint(1, 4))
        ]
        sent += batch
        records = received(*batch)
        if ahead != "none":
            claims = ahead == "claims"
            records = [replace(r, ahead=read_ahead(r.key, r.value, PLACEHOLDERS, claims)) for r in records]
            assert all(r.ahead is not None and r.ahead.claims_read is claims for r in records)
        incoming, _ = decode(records, PLACEHOLDERS)
        full = world.plan(incoming)
        found = candidates(records, PLACEHOLDERS)
        redelivered, rest, rejected = recognise(records, found, world.digests(), PLACEHOLDERS)
        assert not rejected
        filtered = world.plan(rest)
        outcomes = sorted([*filtered.outcomes, *(r.outcome() for r in redelivered)], key=lambda o: o.ref)
        assert outcomes == full.outcomes
        assert _writes(filtered) == _writes(full)
        recognised += len(redelivered)
        world.apply(full)
    return recognised
