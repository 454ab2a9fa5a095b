"""A persona maintained by deltas: each order contributes to its customer's aggregates, and a change of the order
is the removal of its old contribution and the addition of its new one. Pure: no IO, no clock.

Why this is exact:
- Counts and sums are invertible: removing a contribution undoes adding it, in any order (folding commutes).
- Sets (sources, stores, products, product names) are kept as counts, so an element leaves when its count is 0.
- Extremes (first/last order time, last paid time, each store's last order) are not invertible. A removal of the
  current extreme keeps it only when the same fold adds it back at least as often (`_extreme`); otherwise the
  fold answers None and the caller recomputes that customer from its stored orders (`state_of_orders`), which is
  rare (an order moving to another customer, a paid order closed, an order time corrected).
- An unchanged redelivery writes no delta (the order is not written), so it contributes nothing.
The state is stored as JSON (`to_json` / `from_json`): money as strings, times ISO-8601. Times stay that text in
memory too (`iso_text` of a UTC instant, `+00:00`): such texts sort as their instants do (`UtcText`), so the fold
compares them as they are read and writes them as they are, and the persona's RFC 3339 times are cut from them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from hashlib import blake2b
from typing import Any
from uuid import UUID

from services.core.frozen import quick_init
from services.core.money import money_text
from services.core.times import iso_text, utc_text
from services.ingest.domain.persona import (
    PAID_STATUSES,
    TOP_PRODUCTS,
    LifecycleThresholds,
    OrderAggregates,
    dormancy_cutoff,
    smallest,
    stage_of,
)

CLOSED = "deal_closed"  # closed orders count as orders, not as money
CustomerKey = tuple[UUID, UUID]  # (tenant, customer)
# An instant as `iso_text` writes it in UTC: `2026-01-01T07:13:00+00:00`, `.ffffff` before the offset when the
# microseconds are not 0. Every field is fixed width up to the seconds, and a text without microseconds (`+`)
# sorts before one with them (`.`), so two such texts compare as their instants do (a property test holds it).
UtcText = str
_UTC_SUFFIX = "+00:00"


@quick_init
@dataclass(frozen=True)
class Contribution:
    """What one order adds to its customer's persona."""

    status: str
    source: str
    store: str  # the store's label: its name, else its key
    order_time: UtcText
    paid_time: UtcText | None  # payment (else order) time of a paid order; None when not paid
    amount: Decimal  # total amount, 0 when closed
    paid: Decimal  # paid (else total) amount of a paid order, else 0
    products: tuple[tuple[str, int, str | None], ...]  # (product ID, quantity, name) per line, none when closed


@quick_init
@dataclass(frozen=True)
class CustomerDelta:
    """One order's contribution added to (sign 1) or removed from (sign -1) a customer's persona."""

    tenant_id: UUID
    customer_id: UUID
    sign: int
    contribution: Contribution


def contribution(
    status: str,
    source: str,
    store: str,
    order_time: datetime,
    payment_time: datetime | None,
    total_amount: Decimal,
    paid_amount: Decimal | None,
    lines: Iterable[tuple[str, int, str | None]],
) -> Contribution:
    """The contribution of an order with these fields (see the persona statements in the SQL module). Times are
    kept in UTC (`UtcText`), as the database returns them, so a delta and a recomputation agree to the text."""
    paid = status in PAID_STATUSES
    closed = status == CLOSED
    order_text = iso_text(order_time.astimezone(UTC))
    if paid:
        paid_time: UtcText | None = order_text if payment_time is None else iso_text(payment_time.astimezone(UTC))
    else:
        paid_time = None
    return Contribution(
        status=status,
        source=source,
        store=store,
        order_time=order_text,
        paid_time=paid_time,
        amount=Decimal(0) if closed else total_amount,
        paid=(paid_amount if paid_amount is not None else total_amount) if paid else Decimal(0),
        products=() if closed else tuple(sorted(lines, key=lambda x: (x[0], x[1], x[2] or ""))),
    )


# Per product: [quantity, lines, {name: lines that carry it}]. A list, as stored, not a record: a customer of a
# wholesale account holds thousands of products, and decoding, folding and encoding them must cost next to nothing.
ProductTally = list[Any]
QUANTITY, LINES, NAMES = 0, 1, 2
# Per store: [orders, its last order's time (`UtcText`)], as stored, for the same reason.
StoreTally = list[Any]
ORDERS, LAST = 0, 1


@dataclass
class PersonaState:
    """The invertible aggregates of one customer's orders."""

    order_count: int = 0
    paid_order_count: int = 0
    total_amount: Decimal = Decimal(0)
    total_paid: Decimal = Decimal(0)
    first_order_time: UtcText | None = None
    last_order_time: UtcText | None = None
    last_paid_time: UtcText | None = None
    sources: dict[str, int] = field(default_factory=dict)  # source -> orders
    statuses: dict[str, int] = field(default_factory=dict)  # status -> orders
    stores: dict[str, StoreTally] = field(default_factory=dict)
    products: dict[str, ProductTally] = field(default_factory=dict)

    def _top_products(self) -> list[tuple[str, ProductTally]]:
        """The products the persona shows (`TOP_PRODUCTS` by quantity, then ID), without sorting them all."""
        return smallest(TOP_PRODUCTS, self.products.items(), key=lambda item: (-item[1][QUANTITY], item[0]))

    def aggregates(self) -> OrderAggregates:
        """What `build_persona` needs, as the from-scratch statements would aggregate it (products: the shown ones).
        The persona stage builds the persona from the state itself (`persona_of`), which is the same persona."""
        return OrderAggregates(
            order_count=self.order_count,
            paid_order_count=self.paid_order_count,
            total_amount=self.total_amount,
            total_paid=self.total_paid,
            first_order_time=_time(self.first_order_time),
            last_order_time=_time(self.last_order_time),
            last_paid_time=_time(self.last_paid_time),
            sources=sorted(self.sources),
            status_counts=dict(self.statuses),
            store_counts={
                k: (s[ORDERS], datetime.fromisoformat(s[LAST])) for k, s in self.stores.items() if s[LAST] is not None
            },
            product_quantities={k: (p[QUANTITY], max(p[NAMES], default=None)) for k, p in self._top_products()},
        )


@dataclass(frozen=True)
class PersonaClock:
    """What a persona's lifecycle stage is judged against, computed once per fold: `dormancy_cutoff` at `now`."""

    thresholds: LifecycleThresholds
    dormant_before: UtcText

    @classmethod
    def at(cls, now: datetime, thresholds: LifecycleThresholds) -> PersonaClock:
        return cls(thresholds, iso_text(dormancy_cutoff(now, thresholds).astimezone(UTC)))


def persona_of(state: PersonaState, clock: PersonaClock) -> dict[str, Any]:
    """`build_persona(state.aggregates(), now, thresholds)`, built from the state as it is (a property test holds
    the two equal, key order included): built for every customer of every fold, where the aggregates' copies,
    parsed times and second sort of the products cost more than the rest of the fold."""
    paid_count = state.paid_order_count
    average = (state.total_paid / paid_count) if paid_count else Decimal(0)
    stores = state.stores
    favourite: tuple[int, UtcText, str] | None = None  # most orders, then the most recent, then the greatest label
    for label, tally in stores.items():
        last = tally[LAST]
        if last is not None:
            candidate = (tally[ORDERS], last, label)
            if favourite is None or candidate > favourite:
                favourite = candidate
    if favourite is None:
        labels: list[str] = []
    else:
        labels = sorted(_dated(stores)) if len(stores) > 1 else [favourite[2]]
    first, last_order, last_paid = state.first_order_time, state.last_order_time, state.last_paid_time
    recent = last_paid or last_order
    return {  # the keys in `build_persona`'s order: the event's payload is encoded as built
        "order_count": state.order_count,
        "paid_order_count": paid_count,
        "total_amount": money_text(state.total_amount),
        "total_paid": money_text(state.total_paid),
        "average_order_value": money_text(average),
        "first_order_time": None if first is None else _rfc3339(first),
        "last_order_time": None if last_order is None else _rfc3339(last_order),
        "last_paid_time": None if last_paid is None else _rfc3339(last_paid),
        "sources": sorted(state.sources),
        "stores": labels,
        "favourite_store": favourite[2] if favourite is not None else None,
        "top_products": [
            {"product_id": pid, "quantity": p[QUANTITY], "name": _shown_name(p[NAMES])}
            for pid, p in state._top_products()
        ],
        "orders_by_status": dict(sorted(state.statuses.items())),
        "lifecycle_stage": stage_of(paid_count, recent is not None and recent < clock.dormant_before, clock.thresholds),
    }


def persona_digest(persona_json: bytes) -> bytes:
    """The digest a persona is stored with (`customers.persona_digest`, migration 0019), of its bytes as orjson
    encodes it: two personas built alike (`persona_of`, `build_persona`: the same keys in the same order) are
    equal exactly when their encodings, hence their digests, are."""
    return blake2b(persona_json, digest_size=16).digest()


def _shown_name(names: dict[str, int]) -> str | None:
    """`max(names, default=None)`: the name a product shows (the greatest its lines carry). Most carry one, which
    is taken without `max` (whose call cost most of a shown product)."""
    if len(names) == 1:
        for name in names:
            return name
    return max(names, default=None)


def _dated(stores: dict[str, StoreTally]) -> list[str]:
    """The labels of the stores with a last order time (those `aggregates` counts: after a fold, all of them)."""
    return [label for label, tally in stores.items() if tally[LAST] is not None]


def _rfc3339(text: UtcText) -> str:
    """`utc_text` of the instant `text` names: its `+00:00` written `Z`."""
    if text.endswith(_UTC_SUFFIX):
        return text[:-6] + "Z"
    return utc_text(datetime.fromisoformat(text))  # (not written by `iso_text` in UTC: as `build_persona` would)


@quick_init
@dataclass(frozen=True)
class Delta:
    """A change of one customer's aggregates: contributions removed (an order's old state) and added."""

    removed: tuple[Contribution, ...] = ()
    added: tuple[Contribution, ...] = ()


def fold(state: PersonaState, deltas: Sequence[Delta], *, in_place: bool = False) -> PersonaState | None:
    """`state` with `deltas` applied (in any order: the result is the same), or None when an extreme that was
    removed cannot be known without reading the customer's orders (then recompute: `state_of_orders`). With
    `in_place`, `state` itself is changed (and is garbage when the answer is None): for a caller that owns it."""
    removed = [c for d in deltas for c in d.removed]
    added = [c for d in deltas for c in d.added]
    if not removed:  # the common case (new orders): every extreme is known
        new = state if in_place else _copy(state)
        for c in added:
            _add(new, c)
        return new
    extremes = _extremes(state, removed, added)
    if extremes is None:
        return None
    new = state if in_place else _copy(state)
    new.first_order_time, new.last_order_time, new.last_paid_time = extremes
    for sign, items in ((1, added), (-1, removed)):
        for c in items:
            _count_in(new, c, sign)
    if not _fold_stores(state, new, added, removed):
        return None
    if removed:  # additions alone leave every count positive
        _drop_empty(new)
    return new


def state_of(contributions: Iterable[Contribution]) -> PersonaState:
    """The state of a customer with these orders (from scratch: never None, nothing is removed)."""
    state = fold(PersonaState(), [Delta(added=tuple(contributions))])
    assert state is not None
    return state


def _copy(state: PersonaState) -> PersonaState:
    return replace(
        state,
        sources=dict(state.sources),
        statuses=dict(state.statuses),
        stores={k: [s[ORDERS], s[LAST]] for k, s in state.stores.items()},
        products={k: [p[QUANTITY], p[LINES], dict(p[NAMES])] for k, p in state.products.items()},
    )


def _count_in(state: PersonaState, c: Contribution, sign: int) -> None:
    """Add (`sign` 1) or remove (-1) the invertible part of `c`: counts, sums, tallies."""
    state.order_count += sign
    if c.paid_time is not None:
        state.paid_order_count += sign
    state.total_amount += sign * c.amount
    state.total_paid += sign * c.paid
    state.sources[c.source] = state.sources.get(c.source, 0) + sign
    state.statuses[c.status] = state.statuses.get(c.status, 0) + sign
    store = state.stores.get(c.store)
    if store is None:
        store = state.stores[c.store] = [0, None]
    store[ORDERS] += sign
    for product_id, quantity, name in c.products:
        tally = state.products.get(product_id)
        if tally is None:
            tally = state.products[product_id] = [0, 0, {}]
        tally[QUANTITY] += sign * quantity
        tally[LINES] += sign
        if name is not None:
            names = tally[NAMES]
            names[name] = names.get(name, 0) + sign


def _add(state: PersonaState, c: Contribution) -> None:
    """Add `c` whole: its counts, and its times to the extremes they pass (an addition never hides one)."""
    _count_in(state, c, 1)
    when = c.order_time
    first, last = state.first_order_time, state.last_order_time
    if first is None or when < first:
        state.first_order_time = when
    if last is None or when > last:
        state.last_order_time = when
    paid = c.paid_time
    if paid is not None and (state.last_paid_time is None or paid > state.last_paid_time):
        state.last_paid_time = paid
    store = state.stores[c.store]  # (counted in: it exists)
    if store[LAST] is None or when > store[LAST]:
        store[LAST] = when


def _drop_empty(state: PersonaState) -> None:
    state.sources = {k: n for k, n in state.sources.items() if n > 0}
    state.statuses = {k: n for k, n in state.statuses.items() if n > 0}
    state.stores = {k: s for k, s in state.stores.items() if s[ORDERS] > 0}
    if any(p[LINES] <= 0 for p in state.products.values()):
        state.products = {k: p for k, p in state.products.items() if p[LINES] > 0}
    for tally in state.products.values():
        if any(n <= 0 for n in tally[NAMES].values()):
            tally[NAMES] = {k: n for k, n in tally[NAMES].items() if n > 0}


def _extreme(
    current: UtcText | None, added: Sequence[UtcText], removed: Sequence[UtcText], pick: Callable[..., UtcText]
) -> tuple[bool, UtcText | None]:
    """(known, the extreme after the change) of a set whose extreme is `current` (`pick` is `max` or `min`).

    The candidate is the extreme of `current` and `added`. Removing values other than it keeps it. Removing it
    keeps it when at least one copy remains: the set held one (`current`) plus the added copies."""
    if not removed:  # the common case (new orders): the extreme of what is there
        if not added:
            return (True, current)
        return (True, pick(added) if current is None else pick(current, *added))
    pool = ([current] if current is not None else []) + list(added)
    if not pool:
        return (not removed, None)
    candidate = pick(pool)
    if any(pick(r, candidate) != candidate for r in removed):  # a removed value beyond it: inconsistent
        return (False, None)
    held = (1 if current == candidate else 0) + sum(1 for a in added if a == candidate)
    gone = sum(1 for r in removed if r == candidate)
    return (True, candidate) if held > gone else (False, None)


def _extremes(
    state: PersonaState, removed: Sequence[Contribution], added: Sequence[Contribution]
) -> tuple[UtcText | None, UtcText | None, UtcText | None] | None:
    if len(added) == len(removed) == 0:
        return state.first_order_time, state.last_order_time, state.last_paid_time
    if state.order_count + len(added) - len(removed) == 0:
        return None, None, None
    times_in, times_out = [c.order_time for c in added], [c.order_time for c in removed]
    first = _extreme(state.first_order_time, times_in, times_out, min)
    last = _extreme(state.last_order_time, times_in, times_out, max)
    paid_in = [c.paid_time for c in added if c.paid_time is not None]
    paid_out = [c.paid_time for c in removed if c.paid_time is not None]
    if state.paid_order_count + len(paid_in) - len(paid_out) == 0:
        paid: tuple[bool, UtcText | None] = (True, None)
    else:
        paid = _extreme(state.last_paid_time, paid_in, paid_out, max)
    if not (first[0] and last[0] and paid[0]):
        return None
    return first[1], last[1], paid[1]


def _fold_stores(
    old: PersonaState, new: PersonaState, added: Sequence[Contribution], removed: Sequence[Contribution]
) -> bool:
    """Each touched store's last order time in `new` (its counts are folded already); False when one is unknown."""
    for label in {c.store for c in added} | {c.store for c in removed}:
        tally = new.stores[label]
        if tally[ORDERS] <= 0:
            continue
        before = old.stores.get(label)
        times_in = [c.order_time for c in added if c.store == label]
        times_out = [c.order_time for c in removed if c.store == label]
        known, tally[LAST] = _extreme(before[LAST] if before else None, times_in, times_out, max)
        if not known:
            return False
    return True


# --- stored form ---------------------------------------------------------------------------------------------------
# The stored form is the state's own (times as `UtcText`, tallies as lists): reading and writing it copies nothing
# but the two sums.


def _time(value: UtcText | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


def contribution_to_json(c: Contribution) -> dict[str, Any]:
    return {
        "status": c.status,
        "source": c.source,
        "store": c.store,
        "order_time": c.order_time,
        "paid_time": c.paid_time,
        "amount": str(c.amount),
        "paid": str(c.paid),
        "products": c.products,
    }


def contribution_from_json(data: dict[str, Any]) -> Contribution:
    # (the fields in `Contribution`'s order, passed by position: read for every delta of every fold, and keywords
    # cost as much as the rest of the call)
    return Contribution(
        data["status"],
        data["source"],
        data["store"],
        data["order_time"],
        data["paid_time"],
        Decimal(data["amount"]),
        Decimal(data["paid"]),
        tuple(map(tuple, data["products"])),
    )


def state_to_json(state: PersonaState) -> dict[str, Any]:
    return {
        "order_count": state.order_count,
        "paid_order_count": state.paid_order_count,
        "total_amount": str(state.total_amount),
        "total_paid": str(state.total_paid),
        "first_order_time": state.first_order_time,
        "last_order_time": state.last_order_time,
        "last_paid_time": state.last_paid_time,
        "sources": state.sources,  # encoded at once by the caller: not copied
        "statuses": state.statuses,
        "stores": state.stores,
        "products": state.products,  # already in its stored form
    }


def state_from_json(data: dict[str, Any]) -> PersonaState:
    """The stored state; `{}` is a customer's before its first order. The caller owns `data`: the state shares its
    dicts and lists (folding changes them in place)."""
    if not data:
        return PersonaState()
    return PersonaState(
        data["order_count"],
        data["paid_order_count"],
        Decimal(data["total_amount"]),
        Decimal(data["total_paid"]),
        data["first_order_time"],
        data["last_order_time"],
        data["last_paid_time"],
        data["sources"],
        data["statuses"],
        data["stores"],
        data["products"],
    )
