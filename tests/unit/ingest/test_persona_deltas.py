"""Folding persona deltas (pure): any sequence of additions and removals, folded in any grouping, gives the state
computed from scratch; a fold that cannot know a removed extreme says so instead of guessing."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from services.core.times import iso_text
from services.ingest.domain.persona import LifecycleThresholds, OrderAggregates, build_persona
from services.ingest.domain.persona_deltas import (
    Contribution,
    Delta,
    PersonaClock,
    PersonaState,
    contribution,
    fold,
    persona_of,
    state_from_json,
    state_of,
    state_to_json,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)

contributions = st.builds(
    contribution,
    status=st.sampled_from(["to_be_paid", "paid", "shipped", "deal_closed", "other"]),
    source=st.sampled_from(["youzan", "douyin"]),
    store=st.sampled_from(["A", "B"]),
    order_time=st.integers(0, 4).map(lambda h: T0 + timedelta(hours=h)),
    payment_time=st.one_of(st.none(), st.integers(0, 4).map(lambda h: T0 + timedelta(hours=h))),
    total_amount=st.sampled_from([Decimal("1.00"), Decimal("2.50")]),
    paid_amount=st.sampled_from([None, Decimal("1.00")]),
    lines=st.lists(
        st.tuples(st.sampled_from(["P1", "P2"]), st.integers(1, 3), st.sampled_from([None, "Tea", "Cup"])),
        max_size=3,
    ),
)

# An order history: the orders at the start, changes (which order, its new contribution), deltas folded at a time.
HISTORIES = (
    st.lists(contributions, max_size=8),
    st.lists(st.tuples(st.integers(0, 7), contributions), max_size=8),
    st.integers(1, 4),
)


@settings(max_examples=300, deadline=None)
@given(*HISTORIES)
def test_folding_any_changes_in_any_grouping_equals_the_state_from_scratch(
    start: list[Contribution], changes: list[tuple[int, Contribution]], group: int
) -> None:
    """Each change replaces one order's contribution by another (a status move, a merge, a buyer moving);
    `group` deltas are folded at a time; a fold that answers None is recomputed from the orders, as the stage does."""
    orders = list(start)
    state = state_of(orders)
    pending: list[Delta] = []
    for index, new in changes:
        if not orders:
            break
        old = orders[index % len(orders)]
        orders[index % len(orders)] = new
        pending.append(Delta(removed=(old,), added=(new,)))
        if len(pending) == group:
            state = fold(state, pending) or state_of(orders)
            pending = []
    state = fold(state, pending) or state_of(orders)
    assert state.aggregates() == state_of(orders).aggregates()
    assert state_from_json(state_to_json(state)).aggregates() == state.aggregates()


@settings(max_examples=300, deadline=None)
@given(*HISTORIES)
def test_folding_in_place_through_the_stored_form_equals_the_state_from_scratch(
    start: list[Contribution], changes: list[tuple[int, Contribution]], group: int
) -> None:
    """As the stage folds: the stored text read, folded in place (the read state shares its dicts with the
    parsed document), written back; the written state is the from-scratch one, whatever the grouping."""
    orders = list(start)
    stored = orjson.dumps(state_to_json(state_of(orders)))
    pending: list[Delta] = []
    for index, new in [*changes, (-1, None)]:
        if new is not None and orders:
            old = orders[index % len(orders)]
            orders[index % len(orders)] = new
            pending.append(Delta(removed=(old,), added=(new,)))
        if len(pending) == group or (new is None and pending):
            folded = fold(state_from_json(orjson.loads(stored)), pending, in_place=True) or state_of(orders)
            stored = orjson.dumps(state_to_json(folded))
            pending = []
    assert state_from_json(orjson.loads(stored)).aggregates() == state_of(orders).aggregates()


def test_removing_the_only_latest_order_cannot_be_folded() -> None:
    late, early = _order(hours=3), _order(hours=1)
    state = state_of([early, late])
    assert fold(state, [Delta(removed=(late,))]) is None  # the new latest is unknown without the orders


def test_a_status_move_of_the_latest_order_keeps_its_time() -> None:
    paid, shipped = _order(hours=3), _order(hours=3, status="shipped")
    state = fold(state_of([_order(hours=1), paid]), [Delta(removed=(paid,), added=(shipped,))])
    assert state is not None and state.last_order_time == iso_text(T0 + timedelta(hours=3))
    assert state.statuses == {"paid": 1, "shipped": 1}


def test_an_empty_stored_state_is_a_new_customer() -> None:
    assert state_from_json({}) == PersonaState()


def _order(hours: int, status: str = "paid") -> Contribution:
    when = T0 + timedelta(hours=hours)
    return contribution(status, "youzan", "A", when, None, Decimal("1.00"), None, [("P1", 1, "Tea")])


def test_a_customer_only_a_superseded_record_named_still_gets_its_persona_and_announcement() -> None:
    """Records of one round: O1 names buyer A, O2 names buyer B, then O1 again names B. O1 is written once, for
    B's customer, and A's customer (created by the first record) has no order. It still gets a pair of deltas
    netting to nothing, so the fold claims it, stores the empty persona and announces it as new (as for every
    customer the round creates)."""
    from itertools import count
    from uuid import UUID

    from services.ingest.domain.identity import CustomerIndex
    from services.ingest.domain.planning import Incoming, plan_round
    from tests.support.orders import line, message

    tenant, ids = UUID(int=1), count(100)
    messages = [
        message(tenant, "O1", lines=[line("P1")], buyer={"mobile": "13800000001"}),
        message(tenant, "O2", lines=[line("P2")], buyer={"mobile": "13900000002"}),
        message(tenant, "O1", lines=[line("P1")], buyer={"mobile": "13900000002"}),
    ]
    items = [Incoming(ref, tenant, m, None, "test") for ref, m in enumerate(messages)]
    plan = plan_round(items, {}, {tenant: CustomerIndex()}, lambda: UUID(int=next(ids)))

    created = {c.id for _, c in plan.new_customers}
    bare = created - {row.customer_id for row, _, _ in plan.orders}
    assert len(created) == 2 and len(bare) == 1
    signs = sorted(d.sign for d in plan.persona_deltas if d.customer_id in bare)
    assert signs == [-1, 1]
    pair = [d.contribution for d in plan.persona_deltas if d.customer_id in bare]
    assert pair[0] == pair[1]
    assert (tenant, next(iter(bare))) in plan.touched_customers


# Times with and without microseconds (`isoformat` writes `.ffffff` only when they are not 0), any zone.
INSTANTS = st.datetimes(
    min_value=datetime(2, 1, 1),
    max_value=datetime(9998, 12, 31),
    timezones=st.one_of(st.just(UTC), st.integers(-14, 14).map(lambda h: timezone(timedelta(hours=h)))),
)


@given(INSTANTS, INSTANTS)
def test_utc_texts_sort_as_their_instants(a: datetime, b: datetime) -> None:
    """The fold compares a state's times as the text it stores (`UtcText`): that order is the instants'."""
    x, y = iso_text(a.astimezone(UTC)), iso_text(b.astimezone(UTC))
    assert (x < y, x == y) == (a < b, a == b)


MOMENTS = st.tuples(st.integers(0, 4), st.sampled_from([0, 1, 500_000])).map(
    lambda hm: T0 + timedelta(hours=hm[0], microseconds=hm[1])
)
DETAILED = st.builds(
    contribution,
    status=st.sampled_from(["to_be_paid", "paid", "shipped", "deal_closed"]),
    source=st.sampled_from(["youzan", "douyin", "taobao"]),
    store=st.sampled_from(["A", "B", "C"]),
    order_time=MOMENTS.map(lambda t: t.astimezone(timezone(timedelta(hours=8)))),
    payment_time=st.one_of(st.none(), MOMENTS),
    total_amount=st.sampled_from([Decimal("1.00"), Decimal("2.50"), Decimal("0.333")]),
    paid_amount=st.sampled_from([None, Decimal("1.00")]),
    lines=st.lists(
        st.tuples(
            st.sampled_from([f"P{n}" for n in range(8)]), st.integers(1, 3), st.sampled_from([None, "Tea", "茶"])
        ),
        max_size=4,
    ),
)
NOWS = st.sampled_from([0, 179, 180, 181, 400]).map(lambda days: T0 + timedelta(days=days, hours=2))
THRESHOLDS = st.sampled_from(
    [LifecycleThresholds(), LifecycleThresholds(repeat_after_paid_orders=3, dormant_after_days=1)]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(DETAILED, max_size=10), st.lists(st.tuples(st.integers(0, 9), DETAILED), max_size=6), NOWS, THRESHOLDS)
def test_the_persona_of_a_folded_state_is_the_persona_of_its_aggregates(
    start: list[Contribution],
    changes: list[tuple[int, Contribution]],
    now: datetime,
    thresholds: LifecycleThresholds,
) -> None:
    """`persona_of` (what the stage builds) is `build_persona` of the state's aggregates, to the byte: the same
    values and the same key order (the event's payload is encoded as built), after folds and the stored form."""
    orders = list(start)
    state = state_of(orders)
    for index, new in changes:
        if orders:
            old = orders[index % len(orders)]
            orders[index % len(orders)] = new
            state = fold(state, [Delta(removed=(old,), added=(new,))]) or state_of(orders)
    stored = state_from_json(orjson.loads(orjson.dumps(state_to_json(state))))
    expected = orjson.dumps(build_persona(state_of(orders).aggregates(), now, thresholds))
    assert orjson.dumps(persona_of(stored, PersonaClock.at(now, thresholds))) == expected


def _from_scratch(orders: list[Contribution]) -> OrderAggregates:
    """The aggregates of `orders` as the SQL module's persona statements compute them (no fold involved)."""
    paid = [c.paid_time for c in orders if c.paid_time is not None]
    stores: dict[str, tuple[int, datetime]] = {}
    products: dict[str, tuple[int, str | None]] = {}
    for c in orders:
        count, last = stores.get(c.store, (0, None))
        when = datetime.fromisoformat(c.order_time)
        stores[c.store] = (count + 1, when if last is None else max(last, when))
        for product_id, quantity, name in c.products:
            total, known = products.get(product_id, (0, None))
            products[product_id] = (total + quantity, max(filter(None, (known, name)), default=None))
    return OrderAggregates(
        order_count=len(orders),
        paid_order_count=len(paid),
        total_amount=sum((c.amount for c in orders), Decimal(0)),
        total_paid=sum((c.paid for c in orders), Decimal(0)),
        first_order_time=min((datetime.fromisoformat(c.order_time) for c in orders), default=None),
        last_order_time=max((datetime.fromisoformat(c.order_time) for c in orders), default=None),
        last_paid_time=max(map(datetime.fromisoformat, paid), default=None),
        sources=sorted({c.source for c in orders}),
        status_counts=dict(Counter(c.status for c in orders)),
        store_counts=stores,
        product_quantities=products,
    )


@settings(max_examples=300, deadline=None)
@given(st.lists(DETAILED, max_size=12), st.integers(1, 4), NOWS)
def test_orders_added_in_any_grouping_give_the_persona_computed_from_scratch(
    orders: list[Contribution], group: int, now: datetime
) -> None:
    """New orders only (the fold's quick path), `group` at a time through the stored form: the persona is the one
    of the orders' aggregates computed without folding."""
    stored = orjson.dumps(state_to_json(PersonaState()))
    for start in range(0, len(orders), group):
        folded = fold(state_from_json(orjson.loads(stored)), [Delta(added=tuple(orders[start : start + group]))])
        assert folded is not None
        stored = orjson.dumps(state_to_json(folded))
    state = state_from_json(orjson.loads(stored))
    thresholds = LifecycleThresholds()
    expected = build_persona(_from_scratch(orders), now, thresholds)
    assert orjson.dumps(persona_of(state, PersonaClock.at(now, thresholds))) == orjson.dumps(expected)
