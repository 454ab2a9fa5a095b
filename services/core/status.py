"""The order status state machine.

To Be Paid < Paid < Shipped < Signed for < Dealed. Deal Closed is reachable from any status and final.
Other never overrides a known status. A status that would move an order backwards is stale: the stored status stays.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.core.frozen import quick_init
from services.core.order import OrderStatus

STAGES: tuple[OrderStatus, ...] = (
    OrderStatus.TO_BE_PAID,
    OrderStatus.PAID,
    OrderStatus.SHIPPED,
    OrderStatus.SIGNED_FOR,
    OrderStatus.DEALED,
)


def rank(status: OrderStatus) -> int:
    """Position on the forward path; Other is below every stage, Deal Closed above every stage."""
    if status is OrderStatus.OTHER:
        return -1
    if status is OrderStatus.DEAL_CLOSED:
        return len(STAGES)
    return STAGES.index(status)


@quick_init
@dataclass(frozen=True)
class StatusDecision:
    status: OrderStatus
    stale: bool  # the incoming status would have moved the order backwards (or out of Deal Closed)


def next_status(current: OrderStatus | None, incoming: OrderStatus) -> StatusDecision:
    """The status to store when an order whose stored status is `current` (None: new order) reports `incoming`."""
    if current is None or current is incoming:
        return StatusDecision(incoming, stale=False)
    if incoming is OrderStatus.OTHER:
        return StatusDecision(current, stale=False)
    if current is OrderStatus.DEAL_CLOSED:
        return StatusDecision(current, stale=True)
    if incoming is OrderStatus.DEAL_CLOSED or rank(incoming) > rank(current):
        return StatusDecision(incoming, stale=False)
    return StatusDecision(current, stale=True)
