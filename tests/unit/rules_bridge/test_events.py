"""Event shaping: which events an order change causes, in which order, with which ids and data."""

from __future__ import annotations

import uuid

import pytest

from services.core.order import OrderStatus as S
from services.rules_bridge.contracts.customer_updated_v1 import CustomerUpdatedV1
from services.rules_bridge.contracts.order_events_v1 import OrderEventV1
from services.rules_bridge.domain.events import customer_updated, event_id, order_events
from tests.unit.rules_bridge.factories import AT, CUSTOMER, PERSONA, TENANT, change, customer

NEW = None

# (before, after, content_changed) -> [(event type, inferred)]
CASES = [
    pytest.param(NEW, S.TO_BE_PAID, False, [("order.created", False)], id="create-to-be-paid"),
    pytest.param(NEW, S.OTHER, False, [("order.created", False)], id="create-other"),
    pytest.param(NEW, S.PAID, False, [("order.created", False), ("order.paid", False)], id="create-paid"),
    pytest.param(
        NEW,
        S.SHIPPED,
        False,
        [("order.created", False), ("order.paid", True), ("order.shipped", False)],
        id="create-already-shipped",
    ),
    pytest.param(
        NEW,
        S.DEALED,
        True,
        [
            ("order.created", False),
            ("order.paid", True),
            ("order.shipped", True),
            ("order.signed", True),
            ("order.completed", False),
        ],
        id="create-already-dealed",
    ),
    pytest.param(NEW, S.DEAL_CLOSED, False, [("order.created", False), ("order.closed", False)], id="create-closed"),
    pytest.param(S.TO_BE_PAID, S.PAID, False, [("order.paid", False)], id="advance-paid"),
    pytest.param(S.PAID, S.SHIPPED, True, [("order.shipped", False)], id="advance-with-content"),
    pytest.param(S.SHIPPED, S.SIGNED_FOR, False, [("order.signed", False)], id="advance-signed"),
    pytest.param(S.SIGNED_FOR, S.DEALED, False, [("order.completed", False)], id="advance-dealed"),
    pytest.param(
        S.TO_BE_PAID,
        S.SIGNED_FOR,
        False,
        [("order.paid", True), ("order.shipped", True), ("order.signed", False)],
        id="skip-to-signed",
    ),
    pytest.param(S.OTHER, S.SHIPPED, False, [("order.paid", True), ("order.shipped", False)], id="other-to-shipped"),
    pytest.param(S.PAID, S.DEAL_CLOSED, False, [("order.closed", False)], id="closed-infers-nothing"),
    pytest.param(S.DEALED, S.DEAL_CLOSED, False, [("order.closed", False)], id="closed-after-dealed"),
    pytest.param(S.OTHER, S.TO_BE_PAID, False, [("order.updated", False)], id="status-move-no-milestone"),
    pytest.param(S.PAID, S.PAID, True, [("order.updated", False)], id="lines-changed"),
    pytest.param(S.DEAL_CLOSED, S.DEAL_CLOSED, True, [("order.updated", False)], id="closed-content-changed"),
    pytest.param(S.PAID, S.PAID, False, [], id="no-op"),
    pytest.param(S.SHIPPED, S.PAID, False, [], id="regress-defensive-no-events"),
    pytest.param(S.DEAL_CLOSED, S.DEAL_CLOSED, False, [], id="closed-no-op"),
]


@pytest.mark.parametrize(("before", "after", "content_changed", "expected"), CASES)
def test_events_of_a_change(
    before: S | None, after: S, content_changed: bool, expected: list[tuple[str, bool]]
) -> None:
    records = order_events(change(before, after, content_changed=content_changed), at=AT)
    assert [(r.event_type, r.payload["inferred"]) for r in records] == expected


def test_regressing_change_with_content_is_an_update_only() -> None:
    """The consumer never sends a backward move; if it did, no milestone may be emitted twice."""
    records = order_events(change(S.SHIPPED, S.PAID, content_changed=True), at=AT)
    assert [r.event_type for r in records] == ["order.updated"]


def test_ids_are_stable_per_milestone_and_per_version() -> None:
    first = order_events(change(NEW, S.SHIPPED), at=AT)
    again = order_events(change(S.TO_BE_PAID, S.SHIPPED, version=5), at=AT.replace(year=2025))
    by_type = {r.event_type: r.event_id for r in first}
    assert {r.event_type: r.event_id for r in again}.items() <= by_type.items()
    assert len(set(by_type.values())) == 3

    update_v2 = order_events(change(S.PAID, S.PAID, content_changed=True, version=2), at=AT)[0]
    update_v2_again = order_events(change(S.PAID, S.PAID, content_changed=True, version=2), at=AT)[0]
    update_v3 = order_events(change(S.PAID, S.PAID, content_changed=True, version=3), at=AT)[0]
    assert update_v2.event_id == update_v2_again.event_id != update_v3.event_id


def test_ids_differ_between_tenants_and_orders() -> None:
    ids = {
        order_events(change(NEW, S.TO_BE_PAID, tenant_id=tenant, order_no=no), at=AT)[0].event_id
        for tenant in (TENANT, uuid.uuid4())
        for no in ("A1", "A2")
    }
    assert len(ids) == 4


def test_cloudevent_headers_key_and_data() -> None:
    import_id = uuid.uuid4()
    record = order_events(change(S.TO_BE_PAID, S.PAID, import_id=import_id), at=AT)[0]
    assert record.topic == "orders.events.v1"
    assert record.key == f"{TENANT}:E2024050100001"
    assert record.headers == {
        "ce_specversion": "1.0",
        "ce_id": record.event_id,
        "ce_source": "/orderinfo/orders",
        "ce_type": "order.paid",
        "ce_time": "2024-05-01T08:30:00Z",
        "ce_subject": "E2024050100001",
        "ce_tenantid": str(TENANT),
        "content-type": "application/json",
    }
    data = OrderEventV1.model_validate(record.payload)
    assert (data.status_before, data.status, data.inferred) == (S.TO_BE_PAID, S.PAID, False)
    assert (data.total_amount, data.paid_amount, data.lines[0].unit_price) == ("120.00", "99.50", "60.00")
    assert data.cause.import_id == import_id
    assert record.payload["order_time"].startswith("2024-05-01T08:00:00")


def test_customer_updated_is_keyed_by_customer_with_an_id_that_follows_the_data() -> None:
    record = customer_updated(customer(), at=AT)
    assert (record.topic, record.event_type) == ("customers.updated.v1", "customer.updated")
    assert record.key.endswith(str(record.payload["customer_id"]))
    assert record.headers["ce_subject"] == record.payload["customer_id"]
    assert CustomerUpdatedV1.model_validate(record.payload).created is True
    same = customer_updated(customer(), at=AT.replace(hour=9))
    changed = customer_updated(customer(persona={**PERSONA, "order_count": 2}), at=AT)
    assert record.event_id == same.event_id != changed.event_id


def test_a_stored_customer_change_is_named_by_its_revision_not_its_content() -> None:
    """A persona back to an earlier state (A -> B -> A) is a new change: a subscriber de-duplicating by id keeps it;
    the same change shaped again keeps its id."""
    first, back = customer(revision=1), customer(revision=3)
    assert first.persona == back.persona
    assert customer_updated(first, at=AT).event_id != customer_updated(back, at=AT).event_id
    assert customer_updated(back, at=AT).event_id == customer_updated(back, at=AT.replace(hour=9)).event_id
    assert customer_updated(back, at=AT).event_id == event_id(TENANT, CUSTOMER, "revision", 3)
