"""Who bought an order: resolving the buyer to a customer by identifier priority.

Priority: Sobot customer ID > mobile > WeChat unionid > nickname. The first identifier that names a known customer
wins, unless that customer holds another Sobot customer ID than the buyer's: such a buyer is another Sobot customer
(who shares the mobile or unionid), so the next identifier is tried, and failing all a new customer is made, the
held identifiers recorded as conflicts. Only the Sobot customer ID outranks a match (the platform's own identity): a
buyer who changed mobiles is still found by its unionid. Identifiers on the order that the matched customer lacks
are added to it, unless another customer holds them: then nothing is merged and the conflict is recorded. A
nickname never matches across orders: a nickname-only buyer becomes a new customer for a new order, and re-importing
that order keeps its customer.

When no identifier names a known customer, a stored order keeps its customer only while the buyer agrees with it:
a buyer giving a Sobot customer ID, mobile or unionid that differs from the one the customer holds is another
person (a corrected order), so the order moves to a new customer and the old one keeps its own identifiers
(docs/merging.md, rule 7). Two distinct people are never merged through the order they were both named on.

A placeholder mobile (13800000000, ..., `ORDERINFO_MOBILE_PLACEHOLDERS`) never reaches this module: the import and
the consumer's `decode` both remove it, so it can neither match nor merge buyers, nor be stored on a customer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from uuid import UUID

from services.core.frozen import quick_init
from services.core.order import Buyer

UNIQUE_IDENTIFIERS: tuple[str, ...] = ("sobot_customer_id", "mobile", "unionid")
_OUTRANKING = ("sobot_customer_id",)  # a customer holding another value of it is never matched by another identifier


@quick_init  # one per new buyer
@dataclass(frozen=True)
class Customer:
    id: UUID
    sobot_customer_id: str | None = None
    mobile: str | None = None
    unionid: str | None = None
    nickname: str | None = None

    def get(self, identifier: str) -> str | None:
        value: str | None = getattr(self, identifier)
        return value


@dataclass(frozen=True)
class Conflict:
    identifier: str
    value: str
    held_by: UUID


@quick_init
@dataclass(frozen=True)
class Resolution:
    customer_id: UUID
    matched_by: str  # sobot_customer_id | mobile | unionid | order (kept from the stored order) | new
    created: bool
    added: dict[str, str] = field(default_factory=dict)
    conflicts: tuple[Conflict, ...] = ()


@dataclass
class CustomerIndex:
    """The customers one tenant's batch can match, indexed by each unique identifier; updated as it resolves."""

    customers: dict[UUID, Customer] = field(default_factory=dict)
    holders: dict[tuple[str, str], UUID] = field(default_factory=dict)

    def put(self, customer: Customer) -> None:
        self.customers[customer.id] = customer
        for identifier in UNIQUE_IDENTIFIERS:
            value = customer.get(identifier)
            if value is not None:
                self.holders[(identifier, value)] = customer.id

    def holder(self, identifier: str, value: str) -> UUID | None:
        return self.holders.get((identifier, value))


def resolve_buyer(
    buyer: Buyer,
    index: CustomerIndex,
    stored_customer: UUID | None,
    new_id: Callable[[], UUID],
) -> Resolution:
    """Resolve `buyer` against `index` (mutated: new customers and added identifiers are put back into it).

    `stored_customer` is the customer the order already has, if it was stored before.
    """
    outranked = False  # a customer was named, but holds another Sobot customer ID than the buyer's
    for identifier in UNIQUE_IDENTIFIERS:
        value = getattr(buyer, identifier)
        holder = index.holder(identifier, value) if value else None
        if holder is not None:
            if not _contradicts(buyer, index.customers[holder], _OUTRANKING):
                return _merge(buyer, index, holder, identifier)
            outranked = True
    kept = index.customers.get(stored_customer) if stored_customer is not None else None
    if kept is not None and not _contradicts(buyer, kept, UNIQUE_IDENTIFIERS):
        return _merge(buyer, index, kept.id, "order")
    if outranked:
        return _new_beside_holders(buyer, index, new_id())
    customer = Customer(new_id(), buyer.sobot_customer_id, buyer.mobile, buyer.unionid, buyer.nickname)
    index.put(customer)
    return Resolution(customer.id, "new", created=True)


def _new_beside_holders(buyer: Buyer, index: CustomerIndex, customer_id: UUID) -> Resolution:
    """A new customer for `buyer` with the identifiers no other customer holds; the held ones are conflicts."""
    given: dict[str, str] = {}
    conflicts = []
    for identifier in UNIQUE_IDENTIFIERS:
        value = getattr(buyer, identifier)
        holder = index.holder(identifier, value) if value else None
        if holder is not None:
            conflicts.append(Conflict(identifier, value, holder))
        elif value:
            given[identifier] = value
    customer = Customer(customer_id, nickname=buyer.nickname, **given)
    index.put(customer)
    return Resolution(customer.id, "new", created=True, conflicts=tuple(conflicts))


def _contradicts(buyer: Buyer, customer: Customer, identifiers: tuple[str, ...]) -> bool:
    """Whether `buyer` gives one of `identifiers` that `customer` holds with another value (another person)."""
    for identifier in identifiers:
        given, held = getattr(buyer, identifier), customer.get(identifier)
        if given and held is not None and given != held:
            return True
    return False


def _merge(buyer: Buyer, index: CustomerIndex, customer_id: UUID, matched_by: str) -> Resolution:
    customer = index.customers[customer_id]
    added: dict[str, str] = {}
    conflicts: list[Conflict] = []
    for identifier in UNIQUE_IDENTIFIERS:
        value = getattr(buyer, identifier)
        if not value or customer.get(identifier) is not None:
            continue  # nothing to add, or the customer already has one (it is never overwritten)
        holder = index.holder(identifier, value)
        if holder is not None and holder != customer_id:
            conflicts.append(Conflict(identifier, value, holder))
        else:
            added[identifier] = value
    if buyer.nickname and customer.nickname is None:
        added["nickname"] = buyer.nickname
    if added:
        index.put(replace(customer, **added))  # type: ignore[arg-type]  # keys are identifier field names
    return Resolution(customer_id, matched_by, created=False, added=added, conflicts=tuple(conflicts))
