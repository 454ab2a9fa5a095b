"""What `orders.ingest.v1` accepts is what its published schema says (probes 8, 9, 10, 12 after issue 10): JSON
integers only where it says integer, money as a number or a plain decimal string, times as strings, mobiles of ASCII
digits, placeholder mobiles counted as absent, keys compared after the value's strip; every refusal is a
`contract_violation` in words fit for an end user."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from services.ingest import errors
from services.ingest.application.ingestion import Incoming, Received, decode
from services.ingest.contracts.orders_ingest_v1 import message_key
from services.ingest.domain.spreadsheet.values import DEFAULT_PLACEHOLDER_MOBILES
from services.ingest.main import ingest_options
from services.ingest.settings import IngestSettings
from tests.support.orders import message

TENANT = uuid.uuid4()
KEY = message_key(TENANT, "T1")


def body(**changes: Any) -> dict[str, Any]:
    fields = message(TENANT, "T1").model_dump(mode="json")
    fields.update(changes)
    return fields


def with_line(**changes: Any) -> dict[str, Any]:
    fields = body()
    fields["lines"][0].update(changes)
    return fields


def decided(
    value: dict[str, Any] | bytes, key: bytes | None = KEY, placeholders: frozenset[str] = DEFAULT_PLACEHOLDER_MOBILES
) -> Incoming | tuple[str, str]:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    accepted, rejected = decode([Received(0, "t", 0, 0, key, raw)], placeholders)
    return accepted[0] if accepted else (rejected[0].reason, rejected[0].message)


def refused(value: dict[str, Any] | bytes, **kw: Any) -> str:
    result = decided(value, **kw)
    assert not isinstance(result, Incoming), f"accepted: {result.order}"
    reason, text = result
    assert reason == errors.CONTRACT_VIOLATION, (reason, text)
    return text


@pytest.mark.parametrize("value", [True, False, 1.0, "1", 2.5])
def test_quantity_is_a_json_integer(value: object) -> None:
    assert "lines.0.quantity" in refused(with_line(quantity=value))


@pytest.mark.parametrize("field", ["row_no", "schema_version"])
def test_other_integers_are_json_integers(field: str) -> None:
    fields = with_line(row_no=True) if field == "row_no" else body(schema_version=True)
    assert "not a boolean" in refused(fields)


@pytest.mark.parametrize("value", [1772326800, 1772326800.5])
def test_a_time_is_a_string_not_epoch_seconds(value: float) -> None:
    assert "order_time" in refused(body(order_time=value))


@pytest.mark.parametrize("value", ["1772326800", "1772326800000", "1.7723268e9", "-1", "+1772326800"])
def test_a_time_is_not_a_string_of_epoch_seconds_either(value: str) -> None:
    # pydantic reads a string of digits as epoch seconds (or milliseconds): "1772326800" was stored as 2026-03-01
    assert "order_time" in (text := refused(body(order_time=value))) and "not a date-time" in text
    assert "payment_time" in refused(body(payment_time=value))


ACCEPTED_MONEY = [
    ("1e2", "100.00"),
    ("0.1", "0.10"),
    ("-0", "0.00"),
    ('"12.5"', "12.50"),
    ("100.000", "100.00"),
    ('"999999999999.99"', "999999999999.99"),
    ("0", "0.00"),
]


@pytest.mark.parametrize(("written", "stored"), ACCEPTED_MONEY)
def test_money_as_a_number_or_a_plain_decimal_string(written: str, stored: str) -> None:
    raw = json.dumps(with_line()).replace('"unit_price": "10.00"', f'"unit_price": {written}').encode()
    result = decided(raw)
    assert isinstance(result, Incoming), result
    assert str(result.order.lines[0].unit_price) == stored


REFUSED_MONEY = [
    '"1E+2"',
    '"1e-2"',
    '"NaN"',
    "NaN",
    "Infinity",
    '"Infinity"',
    "-Infinity",
    "1e400",
    '"-0"',
    '"-1"',
    "-1",
    "true",
    '" 1.00 "',
    '"1,299.00"',
    '"0x10"',
    "1.005",
    '"1000000000000.00"',
]


@pytest.mark.parametrize("written", REFUSED_MONEY)
def test_other_money_is_refused(written: str) -> None:
    raw = json.dumps(with_line()).replace('"unit_price": "10.00"', f'"unit_price": {written}').encode()
    assert "lines.0.unit_price" in refused(raw)


@pytest.mark.parametrize("field", ["unit_price", "quantity", "row_no"])
def test_an_integer_of_thousands_of_digits_is_explained_not_a_python_error(field: str) -> None:
    old = {"unit_price": '"unit_price": "10.00"', "quantity": '"quantity": 1', "row_no": '"row_no": null'}[field]
    raw = json.dumps(with_line(row_no=None)).replace(old, f'"{field}": {"9" * 5000}').encode()
    _, rejected = decode([Received(0, "t", 0, 0, KEY, raw)])
    assert [r.reason for r in rejected] == [errors.CONTRACT_VIOLATION]
    text = rejected[0].message
    assert "too many digits" in text and "4300" not in text and "int_max_str_digits" not in text, text
    assert (rejected[0].tenant_id, rejected[0].order_no) == (TENANT, "T1"), "its import can still count it"


@pytest.mark.parametrize("digits", ["٠١٢٣٤٥٦٧٨٩", "０１２３４５６７８９", "०१२३४५६७८९"])
def test_a_mobile_of_other_scripts_digits_is_refused(digits: str) -> None:
    mobile = "1" + "".join(digits[int(d)] for d in "3900000001")
    assert "buyer.mobile" in refused(body(buyer={"mobile": mobile}))


@pytest.mark.parametrize("mobile", sorted(DEFAULT_PLACEHOLDER_MOBILES))
def test_a_placeholder_mobile_counts_as_absent(mobile: str) -> None:
    result = decided(body(buyer={"mobile": mobile, "unionid": "u-1"}))
    assert isinstance(result, Incoming), result
    assert (result.order.buyer.mobile, result.order.buyer.unionid) == (None, "u-1")


def test_a_configured_placeholder_counts_as_absent_and_a_real_mobile_is_kept() -> None:
    placeholders = DEFAULT_PLACEHOLDER_MOBILES | {"13911112222"}
    result = decided(body(buyer={"mobile": "13911112222", "nickname": "Ann"}), placeholders=placeholders)
    assert isinstance(result, Incoming) and result.order.buyer.mobile is None
    result = decided(body(buyer={"mobile": "13911112223", "nickname": "Ann"}), placeholders=placeholders)
    assert isinstance(result, Incoming) and result.order.buyer.mobile == "13911112223"


def test_a_buyer_named_only_by_a_placeholder_is_refused() -> None:
    text = refused(body(buyer={"mobile": "13800000000"}))
    assert "13800000000 is a placeholder" in text and "no other identifier" in text


@pytest.mark.parametrize("key_order_no", ["T1 ", " T1", "T1", "\tT1\u3000"])
def test_the_key_is_compared_after_the_values_strip(key_order_no: str) -> None:
    result = decided(body(order_no=" T1 "), key=f"{TENANT}:{key_order_no}".encode())
    assert isinstance(result, Incoming), result
    assert result.order.order_no == "T1"


@pytest.mark.parametrize(
    "key",
    [
        f"{TENANT}:T2".encode(),
        f"{TENANT}:T 1".encode(),
        b"\xff:T1",
        b"T1",
        f"{uuid.uuid4()}:T1".encode(),
        f"{str(TENANT).upper()}:T1".encode(),
    ],
)
def test_other_keys_are_still_a_mismatch(key: bytes) -> None:
    result = decided(body(), key=key)
    assert not isinstance(result, Incoming)
    assert result[0] == errors.KEY_MISMATCH


def test_money_is_stored_with_two_places() -> None:
    result = decided(with_line(unit_price=12.5, line_amount="25"))
    assert isinstance(result, Incoming)
    assert [str(result.order.lines[0].unit_price), str(result.order.lines[0].line_amount)] == ["12.50", "25.00"]


def test_the_consumer_takes_the_configured_placeholders_as_the_import_does() -> None:
    settings = IngestSettings(mobile_placeholders=["139 1111 2222", "+86 139-0000-0000"])
    placeholders = ingest_options(settings).placeholder_mobiles
    assert placeholders == DEFAULT_PLACEHOLDER_MOBILES | {"13911112222", "13900000000"}


@pytest.mark.parametrize(
    ("key", "shown"),
    [
        (f"{str(TENANT).upper()}:T1".encode(), repr(f"{str(TENANT).upper()}:T1")),
        (f"{TENANT}:T2".encode(), repr(f"{TENANT}:T2")),
        (b"\xff:T1", repr("\ufffd:T1")),
    ],
)
def test_a_mismatched_key_is_shown_beside_the_key_its_value_needs(key: bytes, shown: str) -> None:
    """The dead letter said only "the record key is not '<tenant_id>:<order_no>' of its value": a key with the
    tenant id in capitals looks the same to the eye; now it shows the key it got and the one expected."""
    result = decided(body(), key=key)
    assert not isinstance(result, Incoming)
    assert result[1] == f"the record key {shown} is not {f'{TENANT}:T1'!r}, the '<tenant_id>:<order_no>' of its value"
