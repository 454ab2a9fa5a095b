"""Line merging is idempotent: whatever lines an order holds, a message merged once and then merged again changes
nothing the second time and is never rejected the second time (a redelivery must be `unchanged`, never dead-lettered).
Hypothesis over small alphabets of products and SKUs, so the ambiguous cases of docs/merging.md rule 3 come up."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from services.core.order import OrderLine
from services.ingest.domain.planning import LineRow, MergedLines, merge_lines

_products = st.sampled_from(["P1", "P2"])
_skus = st.sampled_from(["", "A", "B"])
_stored_line = st.builds(
    lambda p, s, q: LineRow(p, s, None, q, Decimal("1.00"), None), _products, _skus, st.integers(1, 3)
)
_message_line = st.builds(
    lambda p, s, q: OrderLine(product_id=p, sku=s, quantity=q, unit_price=Decimal("1.00")),
    _products,
    _skus,
    st.integers(1, 3),
)


@settings(max_examples=1500, deadline=None)
@given(st.lists(_stored_line, max_size=4), st.lists(_message_line, min_size=1, max_size=4))
def test_a_message_merged_again_changes_nothing(stored_lines: list[LineRow], lines: list[OrderLine]) -> None:
    stored = {line.key: line for line in stored_lines}
    first = merge_lines(lines, stored)
    if isinstance(first, str):
        return  # rejected: nothing was applied, so there is nothing to redeliver onto
    after = {key: row for key, row in stored.items() if key not in first.replaced.values()}
    after.update({row.key: row for row in first.rows})
    again = merge_lines(lines, after)
    assert isinstance(again, MergedLines), again
    assert not again.replaced
    assert all(after[row.key] == row for row in again.rows)
