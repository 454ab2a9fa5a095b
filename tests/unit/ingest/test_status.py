from __future__ import annotations

import pytest

from services.core.order import OrderStatus as S
from services.core.status import next_status

CASES = [
    # current, incoming, stored, stale
    (None, S.SHIPPED, S.SHIPPED, False),
    (None, S.OTHER, S.OTHER, False),
    (S.TO_BE_PAID, S.PAID, S.PAID, False),
    (S.TO_BE_PAID, S.SIGNED_FOR, S.SIGNED_FOR, False),
    (S.PAID, S.PAID, S.PAID, False),
    (S.SHIPPED, S.PAID, S.SHIPPED, True),
    (S.DEALED, S.TO_BE_PAID, S.DEALED, True),
    (S.SHIPPED, S.OTHER, S.SHIPPED, False),
    (S.OTHER, S.TO_BE_PAID, S.TO_BE_PAID, False),
    (S.TO_BE_PAID, S.DEAL_CLOSED, S.DEAL_CLOSED, False),
    (S.DEALED, S.DEAL_CLOSED, S.DEAL_CLOSED, False),
    (S.DEAL_CLOSED, S.DEALED, S.DEAL_CLOSED, True),
    (S.DEAL_CLOSED, S.OTHER, S.DEAL_CLOSED, False),
    (S.DEAL_CLOSED, S.DEAL_CLOSED, S.DEAL_CLOSED, False),
]


@pytest.mark.parametrize(("current", "incoming", "stored", "stale"), CASES)
def test_next_status(current: S | None, incoming: S, stored: S, stale: bool) -> None:
    decision = next_status(current, incoming)
    assert (decision.status, decision.stale) == (stored, stale)
