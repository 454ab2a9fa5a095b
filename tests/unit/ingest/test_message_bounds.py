"""The `orders.ingest.v1` contract refuses what cannot be stored (issue 10, finding 6 on Kafka): each such message
is a `contract_violation` dead letter with a message fit for an end user, never a `processing_error` later; and
undecodable bytes are refused with their own reason, whatever they are."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from services.core import bounds
from services.ingest import errors
from services.ingest.application.ingestion import Received, decode
from services.ingest.contracts.orders_ingest_v1 import message_key
from tests.support.orders import line, message

TENANT = uuid.uuid4()


def body(**changes: Any) -> dict[str, Any]:
    fields = message(TENANT, "B1").model_dump(mode="json")
    fields.update(changes)
    return fields


def decided(fields: dict[str, Any] | bytes, key: bytes | None = message_key(TENANT, "B1")) -> tuple[str, str]:
    value = fields if isinstance(fields, bytes) else json.dumps(fields).encode()
    accepted, rejected = decode([Received(0, "t", 0, 0, key, value)])
    if accepted:
        return "accepted", ""
    return rejected[0].reason, rejected[0].message


def test_a_valid_message_is_accepted() -> None:
    assert decided(body()) == ("accepted", "")


OUT_OF_RANGE = ["0001-01-01T00:00:00Z", "0001-01-01T00:00:00+08:00", "9999-12-31T23:00:00-08:00"]
OUT_OF_RANGE += ["1999-12-31T23:59:59Z", "2100-01-01T00:00:00Z", "2100-01-01T09:00:00+08:00"]


@pytest.mark.parametrize("when", OUT_OF_RANGE)
def test_times_outside_the_stored_range_in_any_zone_are_refused(when: str) -> None:
    for field in ("order_time", "payment_time"):
        reason, text = decided(body(**{field: when}))
        assert reason == errors.CONTRACT_VIOLATION
        assert field in text and bounds.TIME_RANGE_TEXT in text


def test_the_edges_of_the_time_range_are_accepted() -> None:
    edges = body(order_time="2000-01-01T08:00:00+08:00", payment_time="2099-12-31T23:59:59.999999Z")
    assert decided(edges)[0] == "accepted"


TEXT_FIELDS = ["remark", "status_raw", "producer", "store.name", "buyer.nickname", "lines.0.product_name"]


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\x01", "\ufffe", "\uffff"])
@pytest.mark.parametrize("where", [*TEXT_FIELDS, "lines.0.product_id", "order_no"])
def test_unstorable_characters_in_any_text_field_are_refused(char: str, where: str) -> None:
    fields = body()
    target: Any = fields
    *path, last = where.split(".")
    for part in path:
        target = target[int(part)] if part.isdigit() else target[part]
    target[last] = f"ab{char}c"
    reason, text = decided(fields)
    assert reason == errors.CONTRACT_VIOLATION
    assert f"U+{ord(char):04X}" in text and "position 3" in text


def test_a_lone_surrogate_escape_is_refused_as_a_contract_violation() -> None:
    value = json.dumps(body(remark="SURROGATE")).encode().replace(b"SURROGATE", b"\\ud800 lone")
    reason, text = decided(value)
    assert reason == errors.CONTRACT_VIOLATION and "surrogate" in text


def test_computed_line_totals_must_fit_the_money_columns() -> None:
    reason, text = decided(body(lines=[line_json(quantity=1_000_000, price="999999999999.99")]))
    assert reason == errors.CONTRACT_VIOLATION and str(bounds.MAX_MONEY) in text
    assert "quantity x unit_price" in text


def test_the_sum_of_the_lines_must_fit_the_money_columns() -> None:
    lines = [line_json(f"P{i}", quantity=1, price="600000000000.00") for i in range(2)]
    reason, text = decided(body(lines=lines))
    assert reason == errors.CONTRACT_VIOLATION and "add up to" in text


def test_at_most_the_bounded_number_of_lines() -> None:
    lines = [line_json(f"P{i}") for i in range(bounds.MAX_LINES_PER_ORDER + 1)]
    assert decided(body(lines=lines))[0] == errors.CONTRACT_VIOLATION
    assert decided(body(lines=lines[:-1]))[0] == "accepted"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"", errors.INVALID_JSON),
        (b"{not json", errors.INVALID_JSON),
        (b"\xff\xfe\x00", errors.INVALID_ENCODING),
        (b"[" * 5000 + b"]" * 5000, errors.INVALID_JSON),
        (b'{"a":' * 5000 + b"1" + b"}" * 5000, errors.INVALID_JSON),
        (b"[]", errors.CONTRACT_VIOLATION),
    ],
)
def test_undecodable_values_are_refused_with_their_reason(value: bytes, reason: str) -> None:
    assert decided(value)[0] == reason


def test_a_record_without_a_key_is_refused_with_its_claims() -> None:
    accepted, (rejected,) = decode([Received(0, "t", 0, 0, None, json.dumps(body()).encode())])
    assert not accepted and rejected.reason == errors.MISSING_KEY
    assert (rejected.tenant_id, rejected.order_no) == (TENANT, "B1")


def line_json(product_id: str = "P1", quantity: int = 1, price: str = "10.00") -> dict[str, Any]:
    fields = line(product_id, quantity=quantity, price=price)
    return fields | {"unit_price": str(fields["unit_price"])}


VALID = json.dumps(body()).encode()


@pytest.mark.parametrize(
    ("value", "seen"),
    [
        (b"\xef\xbb\xbf" + VALID, "UTF-8 with a byte-order mark"),
        (VALID.decode().encode("utf-16"), "UTF-16 (little-endian, with a byte-order mark)"),
        (b"\xfe\xff" + VALID.decode().encode("utf-16-be"), "UTF-16 (big-endian, with a byte-order mark)"),
        (VALID.decode().encode("utf-16-le"), "UTF-16 (little-endian)"),
        (b" \n" + VALID.decode().encode("utf-16-be"), None),  # UTF-8 whitespace, then UTF-16: not UTF-8 JSON
        (("  " + VALID.decode()).encode("utf-16-be"), "UTF-16 (big-endian)"),
        (VALID.decode().encode("utf-32"), "UTF-32 (little-endian, with a byte-order mark)"),
        (VALID.decode().encode("utf-32-be"), "UTF-32 (big-endian)"),
        (VALID.decode().encode("utf-32-le"), "UTF-32 (little-endian)"),
    ],
)
def test_a_value_in_another_encoding_than_utf8_is_refused_naming_the_encoding(value: bytes, seen: str | None) -> None:
    reason, text = decided(value)
    if seen is None:
        assert reason != "accepted"
        return
    expected = f"the value is {seen}: JSON must be UTF-8, without a byte-order mark"
    assert (reason, text) == (errors.INVALID_ENCODING, expected)


@pytest.mark.parametrize("blank", ["", "   ", "\t"])
def test_a_blank_buyer_mobile_counts_as_absent(blank: str) -> None:
    """docs/merging.md: blank optional text is absent on every path, the buyer's mobile too (not a bad mobile)."""
    value = json.dumps(body(buyer={"mobile": blank, "nickname": "Lily"})).encode()
    accepted, rejected = decode([Received(0, "t", 0, 0, message_key(TENANT, "B1"), value)])
    assert rejected == [] and accepted[0].order.buyer.mobile is None
    reason, text = decided(body(buyer={"mobile": blank}))  # nothing else identifies the buyer: as if missing
    assert reason == errors.CONTRACT_VIOLATION and "buyer has no identifier" in text


@pytest.mark.parametrize("blank", ["", "  "])
def test_a_blank_optional_time_or_amount_counts_as_absent(blank: str) -> None:
    """As a blank cell in a file (docs/merging.md): a mall integration's "" for "not paid yet" is no value, not a
    refusal of the order."""
    lines = [line_json() | {"line_amount": blank}]
    fields = body(payment_time=blank, order_amount=blank, paid_amount=blank, lines=lines)
    accepted, rejected = decode([Received(0, "t", 0, 0, message_key(TENANT, "B1"), json.dumps(fields).encode())])
    assert rejected == []
    order = accepted[0].order
    assert (order.payment_time, order.order_amount, order.paid_amount, order.lines[0].line_amount) == (None,) * 4


@pytest.mark.parametrize(
    ("value", "said"),
    [
        (None, "the record has no value (null, as a tombstone)"),
        (b"", "the record's value is empty"),
        (b"  \r\n", "the record's value is empty"),
    ],
)
def test_a_record_without_a_value_says_so(value: bytes | None, said: str) -> None:
    """A null value (a producer's tombstone, to delete an order) was 'the value is not JSON: EOF while parsing a
    value at line 1 column 0'."""
    _, rejected = decode([Received(0, "t", 0, 0, message_key(TENANT, "B1"), value)])
    assert rejected[0].reason == errors.INVALID_JSON and rejected[0].message.startswith(said), rejected[0].message
    assert rejected[0].tenant_id is None


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({"order_no": "A" * 65}, "order_no: String should have at most 64 characters, not 65"),
        ({"remark": "x" * 1001}, "remark: String should have at most 1000 characters, not 1001"),
    ],
)
def test_a_text_too_long_is_counted_in_characters(changes: dict[str, Any], said: str) -> None:
    """It said 'Value should have at most 64 items after validation, not 65' (the bound sits behind the text's
    own check, where pydantic does not know it is text)."""
    assert decided(body(**changes)) == (errors.CONTRACT_VIOLATION, said)
