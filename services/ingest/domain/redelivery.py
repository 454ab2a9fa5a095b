"""Recognising a redelivered record before decoding it: the pure decisions of the ingestion pre-filter.

A record whose digest (of its raw value, `Incoming.digest`) is the one its stored order keeps is the message whose
planning wrote that order, byte for byte, and this code version validated it then (`ingestion._DIGEST_VERSION`).
Planned again over the state it left it is `unchanged` (planning is idempotent) unless its buyer now resolves to
another customer or would add an identifier or a conflict to one (`planning`): the pre-filter decides that from the
stored customer alone (`unchanged_match`) and answers `unchanged` without decoding, loading or merging anything.
Guarantees:
- Whatever it answers `unchanged` full planning answers `unchanged` too, with the same customer and match, in any
  batch, whatever the records before it resolved (see `unchanged_match`); a record it is not sure of is planned in
  full, as before. What it does not do: note the store and products again (full planning upserts them from the
  stored lines, which it does not load: a redelivery writes nothing, docs/merging.md).
- Batch order holds (`in_batch_order`): a record goes through the pre-filter only while no earlier record of the
  batch may have changed its order (its digest is of the stored order, not of the order as the batch leaves it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from uuid import UUID

from services.core.frozen import quick_init
from services.core.order import Buyer
from services.ingest.domain.identity import UNIQUE_IDENTIFIERS, Customer

OrderKey = tuple[UUID, str]  # (tenant, order no.)


@quick_init
@dataclass(frozen=True)
class StoredMatch:
    """What the pre-filter reads of a stored order whose digest is the record's: its customer, with the
    identifiers it holds now, and how the order's buyer was matched."""

    customer: Customer
    matched_by: str


def unchanged_match(buyer: Buyer, stored: StoredMatch) -> str | None:
    """How `buyer` (placeholder mobile removed, as decoded) matches the stored order's customer when resolving it
    gives that customer, adds nothing to it and records no conflict, whatever other records of the batch resolve
    first; None when that is not certain (then the record is planned in full).

    Certain when the customer holds every unique identifier the buyer gives (an identifier's value has one holder,
    and no record can take it from a customer: `identity`) and a nickname when the buyer gives one (else it would
    be added). The match is the first identifier by priority; a buyer giving none matches by the order, which keeps
    the stored match (`planning`)."""
    customer, first = stored.customer, None
    for identifier in UNIQUE_IDENTIFIERS:
        value = _given(getattr(buyer, identifier))
        if value is None:
            continue
        if customer.get(identifier) != value:
            return None
        first = first or identifier
    if _given(buyer.nickname) is not None and customer.nickname is None:
        return None
    return first or stored.matched_by


def _given(value: str | None) -> str | None:
    """A buyer's text as planning resolves it: blank (empty or whitespace only) is absent."""
    return value if value and value.strip() else None


def in_batch_order(candidates: Iterable[tuple[int, OrderKey]], planned: Iterable[tuple[int, OrderKey]]) -> set[int]:
    """The refs of `candidates` (ref, order) that no record of `planned` (ref, order: planned in full) precedes
    in the batch for the same order: those still see their order as stored."""
    first: dict[OrderKey, int] = {}
    for ref, key in planned:
        first[key] = min(ref, first.get(key, ref))
    return {ref for ref, key in candidates if ref < first.get(key, ref + 1)}
