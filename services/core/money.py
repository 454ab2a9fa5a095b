"""Money as text: the one formatter of every amount Order Info writes out (personas, events)."""

from __future__ import annotations

from decimal import Decimal

CENT = Decimal("0.01")


def money_text(value: Decimal) -> str:
    """Two decimal places in plain notation, as the contracts carry amounts: `Decimal("1299")` -> `"1299.00"`."""
    return f"{value.quantize(CENT):f}"
