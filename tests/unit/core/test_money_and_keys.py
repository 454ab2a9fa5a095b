"""The shared core's small pieces: the one money formatter, the one key builder."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.core.keys import customer_key, order_key
from services.core.money import CENT, money_text
from services.ingest.contracts.orders_ingest_v1 import message_key


@pytest.mark.parametrize(
    ("value", "text"),
    [("1299", "1299.00"), ("0.5", "0.50"), ("1E+3", "1000.00"), ("2.005", "2.00"), ("-0", "-0.00"), ("0", "0.00")],
)
def test_amounts_are_written_with_two_places_in_plain_notation(value: str, text: str) -> None:
    assert money_text(Decimal(value)) == text


def test_keys_name_the_tenant_then_the_order_or_customer() -> None:
    tenant, customer = uuid.UUID(int=7), uuid.UUID(int=8)
    assert order_key(tenant, "E-1/2") == f"{tenant}:E-1/2"
    assert customer_key(tenant, customer) == f"{tenant}:{customer}"
    assert message_key(tenant, "E-1/2") == order_key(tenant, "E-1/2").encode()


@given(
    st.builds(lambda n, e: Decimal(n).scaleb(e), st.integers(-(10**16), 10**16), st.integers(-8, 8))
    | st.decimals(allow_nan=False, allow_infinity=False, min_value=-(10**12), max_value=10**12)
)
def test_the_fast_spelling_is_the_quantized_one(value: Decimal) -> None:
    # `str` serves the amounts with two places (every exponent from -8 to 8 is drawn): the same text as quantizing
    assert money_text(value) == f"{value.quantize(CENT):f}"
