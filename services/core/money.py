"""Money as text: the one formatter of every amount Order Info writes out (personas, events)."""

from __future__ import annotations

from decimal import Decimal

CENT = Decimal("0.01")


def money_text(value: Decimal) -> str:
    """Two decimal places in plain notation, as the contracts carry amounts: `Decimal("1299")` -> `"1299.00"`.

    An amount with two places already (exponent -2: what decoding keeps, and every sum of such amounts) is its
    `str`, which writes it plainly with its two places; only then is `.` its third character from the end (a
    scientific `str` ends in an exponent: `E+5`). The rest (averages, other exponents) is quantized. Written for
    every amount of every event and persona: `str` costs a fifth of quantizing and formatting."""
    text = str(value)
    if text[-3:-2] == ".":
        return text
    return f"{value.quantize(CENT):f}"
