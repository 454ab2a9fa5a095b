"""The redelivery pre-filter's decisions (issue 15), pure: which records are recognised as the message that wrote
their stored order, how their buyer matches, and which keep their place in the batch (`domain.redelivery`,
`ingestion.split_redelivered`). That its answers are full planning's over any history: test_planning_digest.py."""

from __future__ import annotations

import copy
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.core.order import Buyer
from services.ingest.application.ingestion import (
    Received,
    candidates,
    key_order,
    message_digest,
    split_redelivered,
)
from services.ingest.contracts.orders_ingest_v1_reader import read_claims
from services.ingest.domain.identity import Customer, CustomerIndex, resolve_buyer
from services.ingest.domain.redelivery import StoredMatch, in_batch_order, unchanged_match
from services.ingest.domain.spreadsheet.values import DEFAULT_PLACEHOLDER_MOBILES
from tests.support.orders import message, received

T = UUID(int=1)
C = UUID(int=7)
OTHER = UUID(int=8)
LETTERS = UUID("0badcafe-0000-4000-8000-00000000abcd")
PLACEHOLDERS = DEFAULT_PLACEHOLDER_MOBILES


def _buyer(**kw: str | None) -> Buyer:
    return Buyer.model_construct(**kw)


HOLDS_ALL = Customer(C, "S-1", "13912345678", "U1", "Lily")
MATCHES = [
    # (buyer, the stored customer, the stored match) -> the match, None: planned in full
    ({"mobile": "13912345678"}, HOLDS_ALL, "mobile", "mobile"),
    ({"mobile": "13912345678", "unionid": "U1"}, HOLDS_ALL, "mobile", "mobile"),
    ({"sobot_customer_id": "S-1", "mobile": "13912345678"}, HOLDS_ALL, "mobile", "sobot_customer_id"),
    ({"unionid": "U1", "nickname": "Lily"}, HOLDS_ALL, "unionid", "unionid"),
    ({"nickname": "Someone"}, HOLDS_ALL, "new", "new"),  # no unique identifier: the order keeps its match
    ({"nickname": "Someone"}, Customer(C, nickname="Lily"), "mobile", "mobile"),
    ({"mobile": "13912345678", "nickname": "  "}, Customer(C, mobile="13912345678"), "mobile", "mobile"),
    ({"mobile": "13912345678", "unionid": "  "}, Customer(C, mobile="13912345678"), "mobile", "mobile"),
    # the customer lacks an identifier the buyer gives (it would be added, or be a conflict)
    ({"mobile": "13912345678", "unionid": "U1"}, Customer(C, mobile="13912345678"), "mobile", None),
    ({"mobile": "13912345678", "nickname": "Lily"}, Customer(C, mobile="13912345678"), "mobile", None),
    ({"nickname": "Lily"}, Customer(C), "new", None),
    # the customer holds another value (another customer may hold the buyer's, or take it in the batch)
    ({"mobile": "13900000001"}, HOLDS_ALL, "mobile", None),
    ({"sobot_customer_id": "S-2", "mobile": "13912345678"}, HOLDS_ALL, "mobile", None),
]


@pytest.mark.parametrize(("buyer", "customer", "stored_match", "expected"), MATCHES)
def test_a_buyer_matches_its_stored_customer_only_when_it_holds_all_it_gives(
    buyer: dict[str, str], customer: Customer, stored_match: str, expected: str | None
) -> None:
    assert unchanged_match(_buyer(**buyer), StoredMatch(customer, stored_match)) == expected


VALUES = {
    "sobot_customer_id": st.sampled_from([None, "", "S-1", "S-2"]),
    "mobile": st.sampled_from([None, "13912345678", "13900000001"]),
    "unionid": st.sampled_from([None, " ", "U1", "U2"]),
    "nickname": st.sampled_from([None, "", "Lily", "Bob"]),
}
CUSTOMERS = st.builds(lambda v: v, st.fixed_dictionaries(VALUES))


@given(buyer=st.fixed_dictionaries(VALUES), mine=CUSTOMERS, others=st.lists(CUSTOMERS, max_size=3))
def test_a_match_is_what_resolving_the_buyer_gives_whatever_the_other_customers(
    buyer: dict[str, str | None], mine: dict[str, str | None], others: list[dict[str, str | None]]
) -> None:
    """Whenever the pre-filter answers a match, resolving the buyer (blanks removed, as planning does) over any
    customers that can coexist with the stored one gives that customer and match, adding nothing, no conflict."""
    customer = Customer(C, **{k: v or None for k, v in mine.items()})
    index = CustomerIndex()
    index.put(customer)
    for n, other in enumerate(others):
        values = {k: v or None for k, v in other.items()}
        if any(v is not None and index.holder(k, v) for k, v in values.items() if k != "nickname"):
            continue  # an identifier's value has one holder
        index.put(Customer(UUID(int=100 + n), **values))
    match = unchanged_match(_buyer(**buyer), StoredMatch(customer, "order-match"))
    if match is None:
        return
    planned = Buyer.model_construct(**{k: v if v and v.strip() else None for k, v in buyer.items()})
    resolution = resolve_buyer(planned, copy.deepcopy(index), C, lambda: OTHER)
    assert resolution.customer_id == C and not resolution.added and not resolution.conflicts
    assert match == ("order-match" if resolution.matched_by == "order" else resolution.matched_by)


def test_a_record_keeps_its_place_only_before_any_record_of_its_order_planned_in_full() -> None:
    k1, k2 = (T, "O1"), (T, "O2")
    candidates_ = [(0, k1), (2, k1), (3, k2), (5, (OTHER, "O1"))]
    assert in_batch_order(candidates_, [(1, k1), (4, k2)]) == {0, 3, 5}
    assert in_batch_order(candidates_, []) == {0, 2, 3, 5}


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (f"{T}:O1".encode(), (T, "O1")),
        (f"{T}:O:1 ".encode(), (T, "O:1 ")),  # not stripped: such a key names no stored order
        (f"{str(LETTERS).upper()}:O1".encode(), None),  # a key of another spelling is a mismatch, decided in full
        (f"{{{LETTERS}}}:O1".encode(), None),
        (b"O1", None),
        (b"not-a-uuid:O1", None),
        (b"\xff:O1", None),
    ],
)
def test_a_key_names_an_order_only_as_spelled_for_stored_orders(key: bytes, expected: object) -> None:
    assert key_order(key) == expected


def test_claims_are_read_only_when_plainly_spelled() -> None:
    imported = UUID(int=5)
    value = message(T, "O1", import_id=imported, buyer={"mobile": "13912345678", "nickname": " Lily "})
    claims = read_claims(value.model_dump_json().encode())
    assert claims is not None
    assert claims[0] == imported and (claims[1].mobile, claims[1].nickname) == ("13912345678", "Lily")
    for hostile in (b"[]", b"{", b'{"buyer": {"mobile": "139"}}', b'{"import_id": "ABC", "buyer": {"nickname": "x"}}'):
        assert read_claims(hostile) is None
    assert read_claims('{"buyer": {"nickname": "\u3000Lily"}}'.encode()) is None  # the model strips that space


def _stored(records: list[Received], customer: Customer, digest: bytes | None = None) -> dict[object, object]:
    found = candidates(records, PLACEHOLDERS)
    return {key: (digest or d, StoredMatch(customer, "mobile")) for key, d in found.values()}


def test_a_record_is_recognised_by_its_stored_digest_and_customer() -> None:
    records = received(message(T, "O1"), message(T, "O2", buyer={"mobile": "13900000001"}))
    found = candidates(records, PLACEHOLDERS)
    assert found[0] == ((T, "O1"), message_digest(records[0].value or b"", PLACEHOLDERS))
    customer = Customer(C, mobile="13912345678")
    redelivered, rest = split_redelivered(records, found, _stored(records, customer), PLACEHOLDERS)  # type: ignore[arg-type]
    assert [(r.ref, r.order.order_no, r.customer_id, r.matched_by) for r in redelivered] == [(0, "O1", C, "mobile")]
    assert [r.ref for r in rest] == [1]  # its buyer is not the stored customer's
    unchanged = redelivered[0].outcome()
    assert (unchanged.outcome, unchanged.customer_id, unchanged.import_id) == ("unchanged", C, None)
    stored = _stored(records, customer, digest=b"x" * 16)  # another message wrote the orders
    assert split_redelivered(records, found, stored, PLACEHOLDERS)[0] == []  # type: ignore[arg-type]


def test_a_placeholder_mobile_counts_as_absent_and_a_keyless_record_is_decoded() -> None:
    placeholder = message(T, "O1", buyer={"mobile": "13800000000", "unionid": "U1"})
    records = received(placeholder, placeholder.model_dump_json().encode())
    found = candidates(records, PLACEHOLDERS)
    assert list(found) == [0]
    stored = _stored(records, Customer(C, unionid="U1"))
    redelivered, rest = split_redelivered(records, found, stored, PLACEHOLDERS)  # type: ignore[arg-type]
    assert [(r.matched_by, r.order.buyer.mobile) for r in redelivered] == [("unionid", None)]
    assert [r.ref for r in rest] == [1]
