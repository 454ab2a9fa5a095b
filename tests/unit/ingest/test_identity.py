from __future__ import annotations

import itertools
from uuid import UUID

import pytest

from services.core.order import Buyer
from services.ingest.domain.identity import Customer, CustomerIndex, resolve_buyer

A, B = UUID(int=1), UUID(int=2)


def ids() -> itertools.count[int]:
    return itertools.count(100)


def index() -> CustomerIndex:
    idx = CustomerIndex()
    idx.put(Customer(A, sobot_customer_id="S-A", mobile="13900000001"))
    idx.put(Customer(B, unionid="U-B", nickname="bee"))
    return idx


@pytest.mark.parametrize(
    ("buyer", "customer", "matched_by"),
    [
        ({"sobot_customer_id": "S-A", "unionid": "U-B"}, A, "sobot_customer_id"),
        ({"mobile": "13900000001", "unionid": "U-B"}, A, "mobile"),
        ({"unionid": "U-B", "mobile": "13900000009"}, B, "unionid"),
        ({"sobot_customer_id": "S-new", "unionid": "U-B"}, B, "unionid"),
    ],
)
def test_first_identifier_by_priority_wins(buyer: dict[str, str], customer: UUID, matched_by: str) -> None:
    counter = ids()
    resolution = resolve_buyer(Buyer(**buyer), index(), None, lambda: UUID(int=next(counter)))
    assert (resolution.customer_id, resolution.matched_by, resolution.created) == (customer, matched_by, False)


def test_missing_identifiers_are_added_unless_held_by_another_customer() -> None:
    idx = index()
    resolution = resolve_buyer(
        Buyer(mobile="13900000001", unionid="U-B", nickname="ay"), idx, None, lambda: UUID(int=9)
    )
    assert resolution.customer_id == A
    assert resolution.added == {"nickname": "ay"}
    assert [(c.identifier, c.held_by) for c in resolution.conflicts] == [("unionid", B)]
    resolution = resolve_buyer(Buyer(sobot_customer_id="S-A", unionid="U-A"), idx, None, lambda: UUID(int=9))
    assert resolution.added == {"unionid": "U-A"}
    assert idx.holder("unionid", "U-A") == A


def test_nickname_only_makes_a_new_customer_unless_the_order_has_one() -> None:
    idx = index()
    first = resolve_buyer(Buyer(nickname="bee"), idx, None, lambda: UUID(int=50))
    assert (first.customer_id, first.matched_by, first.created) == (UUID(int=50), "new", True)
    again = resolve_buyer(Buyer(nickname="bee"), idx, UUID(int=50), lambda: UUID(int=51))
    assert (again.customer_id, again.matched_by, again.created) == (UUID(int=50), "order", False)


def test_a_new_customer_is_found_by_the_next_order_of_the_batch() -> None:
    idx = CustomerIndex()
    first = resolve_buyer(Buyer(mobile="13700000000"), idx, None, lambda: UUID(int=60))
    second = resolve_buyer(Buyer(mobile="13700000000"), idx, None, lambda: UUID(int=61))
    assert first.created and not second.created and second.customer_id == first.customer_id


@pytest.mark.parametrize(
    "buyer",
    [
        {"mobile": "13900000002"},  # a corrected mobile nobody holds: another person than A (13900000001)
        {"sobot_customer_id": "S-other", "nickname": "ay"},
        {"mobile": "13900000002", "unionid": "U-new"},
    ],
)
def test_an_order_whose_corrected_buyer_contradicts_its_customer_moves_to_a_new_customer(
    buyer: dict[str, str],
) -> None:
    """docs/merging.md rule 7: the order's customer is kept only while the buyer's identifiers agree with it."""
    idx = index()
    resolution = resolve_buyer(Buyer(**buyer), idx, A, lambda: UUID(int=70))
    assert (resolution.customer_id, resolution.matched_by, resolution.created) == (UUID(int=70), "new", True)
    assert idx.customers[A] == Customer(A, sobot_customer_id="S-A", mobile="13900000001")  # A keeps its own


@pytest.mark.parametrize(
    ("buyer", "added"),
    [
        ({"nickname": "ay"}, {"nickname": "ay"}),  # a nickname never contradicts
        ({"unionid": "U-A"}, {"unionid": "U-A"}),  # an identifier A lacks is added
        ({"mobile": "13900000001", "nickname": "x"}, {"nickname": "x"}),  # matched by mobile, as before
    ],
)
def test_an_order_whose_buyer_agrees_with_its_customer_keeps_it(buyer: dict[str, str], added: dict[str, str]) -> None:
    resolution = resolve_buyer(Buyer(**buyer), index(), A, lambda: UUID(int=70))
    assert (resolution.customer_id, resolution.created, resolution.added) == (A, False, added)


def test_a_customer_whose_sobot_id_contradicts_the_buyers_is_not_matched_by_a_lower_identifier() -> None:
    """Priority decides who a buyer is: a buyer whose Sobot customer ID differs from that of the customer its
    mobile names is another Sobot customer (the mobile shared), never merged into that one."""
    idx = index()  # A: S-A, 13900000001
    shared = Buyer(sobot_customer_id="S-other", mobile="13900000001")
    resolution = resolve_buyer(shared, idx, None, lambda: UUID(int=70))
    assert (resolution.customer_id, resolution.matched_by, resolution.created) == (UUID(int=70), "new", True)
    assert idx.customers[UUID(int=70)].mobile is None  # A keeps the mobile: a conflict, not a second holder
    assert [(c.identifier, c.held_by) for c in resolution.conflicts] == [("mobile", A)]
    # a lower identifier contradicting is outranked, as before: the mobile decides over the unionid
    resolution = resolve_buyer(Buyer(mobile="13900000001", unionid="U-x"), index(), None, lambda: UUID(int=71))
    assert (resolution.customer_id, resolution.matched_by) == (A, "mobile")
    # the next identifier may name a customer that agrees
    three = Buyer(sobot_customer_id="S-B", mobile="13900000001", unionid="U-B")
    resolution = resolve_buyer(three, index(), None, lambda: UUID(int=72))
    assert (resolution.customer_id, resolution.matched_by) == (B, "unionid")
    assert resolution.added == {"sobot_customer_id": "S-B"}


def test_a_buyer_with_a_new_mobile_is_still_found_by_its_unionid() -> None:
    """Only the Sobot customer ID outranks a match: a buyer who changed mobiles keeps its WeChat unionid, and that
    names its customer (the new mobile is not added: the customer has one)."""
    idx = CustomerIndex()
    idx.put(Customer(A, mobile="13900000001", unionid="U-A"))
    resolution = resolve_buyer(Buyer(mobile="13900000009", unionid="U-A"), idx, None, lambda: UUID(int=80))
    assert (resolution.customer_id, resolution.matched_by, resolution.created) == (A, "unionid", False)
