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
from services.ingest.application.ingestion import decode
from services.ingest.domain import planning
from services.ingest.domain.identity import Customer, CustomerIndex
from services.ingest.domain.planning import Incoming, RoundPlan, StoredOrder, plan_round
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
