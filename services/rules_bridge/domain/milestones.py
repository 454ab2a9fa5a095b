"""Which milestones an order reached with one change: a pure function of its status before and after.

Milestones follow the forward path To Be Paid < Paid < Shipped < Signed for < Dealed; Deal Closed is its own
milestone and implies no other. Each milestone is reached at most once per order (statuses never move backwards),
in stage order; milestones the order jumped over are `inferred`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from services.core.order import OrderStatus
from services.core.status import STAGES, rank
from services.rules_bridge.contracts import order_events_v1 as contract

STAGE_MILESTONES: dict[OrderStatus, str] = {
    OrderStatus.PAID: contract.ORDER_PAID,
    OrderStatus.SHIPPED: contract.ORDER_SHIPPED,
    OrderStatus.SIGNED_FOR: contract.ORDER_SIGNED,
    OrderStatus.DEALED: contract.ORDER_COMPLETED,
}


@dataclass(frozen=True)
class Milestone:
    event_type: str
    inferred: bool  # skipped over by a jump: the order was never seen in that status


def reached(before: OrderStatus | None, after: OrderStatus) -> list[Milestone]:
    """The milestones of a move from `before` (None: new order) to `after`, in order; [] when none."""
    return list(_reached(before, after))


@functools.cache  # a few dozen (before, after) pairs, asked for every order of every batch
def _reached(before: OrderStatus | None, after: OrderStatus) -> tuple[Milestone, ...]:
    created = [Milestone(contract.ORDER_CREATED, inferred=False)] if before is None else []
    if before is OrderStatus.DEAL_CLOSED:
        return tuple(created)
    if after is OrderStatus.DEAL_CLOSED:
        return (*created, Milestone(contract.ORDER_CLOSED, inferred=False))
    floor = rank(before) if before is not None else -1
    passed = [stage for stage in STAGES if floor < rank(stage) <= rank(after) and stage in STAGE_MILESTONES]
    return (*created, *(Milestone(STAGE_MILESTONES[stage], inferred=stage is not after) for stage in passed))
