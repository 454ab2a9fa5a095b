"""The hot-path payload builders produce exactly what the published contract models produce."""

from __future__ import annotations

import uuid
from datetime import timedelta, timezone

import pytest

from services.ingest.domain.order import OrderStatus as S
from services.rules_bridge.contracts.customer_updated_v1 import CustomerUpdatedV1
from services.rules_bridge.contracts.order_events_v1 import OrderEventV1
from services.rules_bridge.domain.changes import CustomerSnapshot
from services.rules_bridge.domain.events import customer_payload, order_data, order_events, order_payload
from tests.unit.rules_bridge.factories import CUSTOMER, PERSONA, TENANT, change


@pytest.mark.parametrize(
    "item",
    [
        change(None, S.SIGNED_FOR, import_id=uuid.UUID(int=5)),
        change(S.PAID, S.SHIPPED, content_changed=True),
        change(S.TO_BE_PAID, S.DEAL_CLOSED),
    ],
)
def test_order_payload_matches_the_contract_model(item) -> None:  # type: ignore[no-untyped-def]
    for inferred in (False, True):
        payload = {**order_payload(item), "inferred": inferred}
        assert OrderEventV1.model_validate(payload) == order_data(item, inferred)
    for record in order_events(item):
        assert OrderEventV1.model_validate(record.payload).order_no == item.after.order_no


def test_times_keep_their_instant_in_any_zone() -> None:
    from dataclasses import replace

    item = change(None, S.PAID)
    shifted = replace(
        item, after=replace(item.after, order_time=item.after.order_time.astimezone(timezone(timedelta(hours=8))))
    )
    assert (
        OrderEventV1.model_validate({**order_payload(shifted), "inferred": False}).order_time == item.after.order_time
    )


def test_customer_payload_matches_the_contract_model() -> None:
    snapshot = CustomerSnapshot(TENANT, CUSTOMER, None, "13900000000", "u", "nick", PERSONA, created=True)
    assert customer_payload(snapshot) == CustomerUpdatedV1(
        customer_id=CUSTOMER, sobot_customer_id=None, mobile="13900000000", unionid="u", nickname="nick",
        persona=PERSONA, created=True,
    ).model_dump(mode="json")  # fmt: skip


def test_event_times_are_utc_with_z_whatever_the_zone_of_the_order() -> None:
    """docs/rule-engines.md: every time of an event (payload and `ce_time`) is RFC 3339 in UTC with `Z`."""
    from dataclasses import replace

    east = timezone(timedelta(hours=8))
    item = change(None, S.PAID)
    shifted = replace(
        item,
        after=replace(
            item.after,
            order_time=item.after.order_time.astimezone(east),
            payment_time=item.after.payment_time.astimezone(east) if item.after.payment_time else None,
        ),
    )
    assert order_payload(shifted)["order_time"] == "2024-05-01T08:00:00Z"
    assert order_payload(shifted)["payment_time"] == "2024-05-01T08:05:00Z"
    dumped = order_data(shifted, False).model_dump(mode="json")
    assert (dumped["order_time"], dumped["payment_time"]) == ("2024-05-01T08:00:00Z", "2024-05-01T08:05:00Z")
    for record in order_events(shifted):
        assert record.payload["order_time"].endswith("Z") and record.headers["ce_time"].endswith("Z")
