"""A committed batch delivered again (`domain.deliveries`): random logs of a few orders (re-sends of the same bytes
at new offsets among them), cut into random batches, with crashes before a batch's commit and between its commit
and its offset commit; the consumer resumes at the last committed offset with batches cut anew. Whatever the
crashes, every order ends as applying each record once, in log order, leaves it, and the changes (the events)
committed are exactly that run's: each version once. Seed printed; replay one with ORDERINFO_REDELIVERY_SEED."""

from __future__ import annotations

import copy
import os
import random
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from services.core.changes import OrderChange
from services.ingest.application.ingestion import Received, decode
from services.ingest.contracts.orders_ingest_v1 import OrderIngestV1, message_key
from services.ingest.domain import deliveries
from services.ingest.domain.identity import CustomerIndex
from services.ingest.domain.planning import Incoming, RoundPlan, StoredOrder, plan_round
from tests.support.orders import line, message

T = UUID(int=7)
Key = tuple[UUID, str]
VARIANTS: list[dict[str, Any]] = [
    {"remark": "first"},
    {"remark": "second", "lines": [line("P1", quantity=2)]},
    {"lines": [line("P2", "SKU-A")], "buyer": {"mobile": "13912345678", "unionid": "U1"}},
    {"status": "shipped", "lines": [line("P1"), line("P1", "SKU-C")]},
    {"store": {"store_no": "S2", "name": "Second"}, "order_amount": Decimal("50.00")},
    {"buyer": {"mobile": "13900000001"}, "remark": "moved"},
    {"status": "to_be_paid", "remark": "stale once shipped"},
]


@dataclass
class Database:
    """What the rounds committed: orders, customers, the changes they emitted, ids handed out."""

    stored: dict[Key, StoredOrder] = field(default_factory=dict)
    index: CustomerIndex = field(default_factory=CustomerIndex)
    changes: list[OrderChange] = field(default_factory=list)
    ids: int = 0

    def apply(self, items: list[Incoming]) -> None:
        """One batch, committed (`plan_round` over the stored orders, its writes applied)."""

        def new_id() -> UUID:
            self.ids += 1
            return UUID(int=self.ids)

        keys = {(i.tenant_id, i.order.order_no) for i in items}
        plan = plan_round(items, {k: s for k, s in self.stored.items() if k in keys}, {T: self.index}, new_id)
        _write(self.stored, plan)
        self.changes += plan.changes


def _write(stored: dict[Key, StoredOrder], plan: RoundPlan) -> None:
    for row, _, _ in plan.orders:
        before = stored.get((row.tenant_id, row.order_no))
        lines = dict(before.lines) if before else {}
        for tenant, order_no, key in plan.dropped_lines:
            if (tenant, order_no) == (row.tenant_id, row.order_no):
                del lines[key]
        lines.update({x.key: x for t, no, x in plan.lines if (t, no) == (row.tenant_id, row.order_no)})
        stored[(row.tenant_id, row.order_no)] = StoredOrder(row, lines)
    for tenant, order_no, digest in plan.noted:
        noted = stored[(tenant, order_no)]
        stored[(tenant, order_no)] = replace(noted, row=replace(noted.row, digest=digest))


def _log(rng: random.Random) -> list[Received]:
    """A partition's records: a few orders, each message one of `VARIANTS` (so the same bytes come again)."""
    messages: list[OrderIngestV1] = []
    for _ in range(rng.randrange(2, 25)):
        order_no = rng.choice(["O1", "O2", "O3"])
        messages.append(message(T, order_no, **VARIANTS[rng.randrange(len(VARIANTS))]))
    return [
        Received(0, "orders.ingest.v1", 3, 100 + n, message_key(T, m.order_no), m.model_dump_json().encode(), True)
        for n, m in enumerate(messages)
    ]


def _decoded(records: list[Received]) -> list[Incoming]:
    items, rejected = decode(records)
    assert not rejected
    return items


def _state(db: Database) -> dict[Key, tuple[Any, ...]]:
    return {k: (s.row.content(), s.row.version, s.lines) for k, s in db.stored.items()}


def _seeds() -> list[int]:
    given = os.environ.get("ORDERINFO_REDELIVERY_SEED")
    return [int(given)] if given else list(range(300))


@pytest.mark.parametrize("seed", _seeds())
def test_a_log_consumed_through_crashes_is_applied_once(seed: int) -> None:
    print(f"seed {seed} (ORDERINFO_REDELIVERY_SEED={seed} replays it)")
    rng = random.Random(seed)
    log = _log(rng)
    once = Database()
    for item in _decoded(log):
        once.apply([item])

    db, position = Database(), 0
    while position < len(log):
        batch = log[position : position + rng.randrange(1, 7)]
        crash = rng.random()
        if crash < 0.2:  # before the commit: nothing of the batch stays
            copy.deepcopy(db).apply(_decoded(batch))
            continue
        db.apply(_decoded(batch))
        if crash < 0.55:  # between the commit and the offset commit: delivered again from `position`
            continue
        position += len(batch)
    assert _state(db) == _state(once)
    assert db.changes == once.changes


def test_a_record_of_no_log_is_planned_in_full_every_time() -> None:
    """The push API numbers its records per call: the same bytes at the same number in a later call are a re-send."""
    a, b = message(T, "O1", remark="a"), message(T, "O1", remark="b")
    db = Database()
    push = [Received(0, "push", 0, 0, message_key(T, "O1"), m.model_dump_json().encode()) for m in (a, b)]
    db.apply(_decoded([push[0]]))
    db.apply(_decoded([push[1]]))
    db.apply(_decoded([push[0]]))
    assert db.stored[(T, "O1")].row.remark == "a" and db.stored[(T, "O1")].row.version == 3


def test_an_older_record_planned_in_full_restarts_the_window() -> None:
    """The group reset to an earlier offset: a record before the window is planned in full, and so is every record
    after it (they no longer describe the state), as the log is consumed again."""
    values = [message(T, "O1", remark=r).model_dump_json().encode() for r in "abc"]
    records = [Received(0, "orders.ingest.v1", 0, n, message_key(T, "O1"), v, True) for n, v in enumerate(values)]
    db = Database()
    db.apply(_decoded(records[:1]))
    db.apply(_decoded(records[1:]))
    assert len(deliveries.applied(db.stored[(T, "O1")].row.digest)) == 3
    db.apply(_decoded(records[:1]))  # "a" again at its own offset: the window has it, so it is skipped
    assert db.stored[(T, "O1")].row.version == 3
    stored = db.stored[(T, "O1")]
    db.stored[(T, "O1")] = replace(stored, row=replace(stored.row, digest=b"x" * 16))  # the window lost
    db.apply(_decoded(records))  # all three planned in full, in turn, as before
    assert db.stored[(T, "O1")].row.remark == "c"
    assert len(deliveries.applied(db.stored[(T, "O1")].row.digest)) == 3


def test_the_window_keeps_the_newest_deliveries() -> None:
    entries = [deliveries.delivery("t", 0, n, bytes(16)) for n in range(40)]
    window: list[bytes] = []
    for entry in entries:
        window = deliveries.after(window, entry)
    assert window == entries[-deliveries.WINDOW :]
    assert deliveries.after(window, deliveries.delivery("t", 1, 99, bytes(16))) == [
        deliveries.delivery("t", 1, 99, bytes(16))
    ]
    assert deliveries.after(window, entries[0]) == [entries[0]]  # an older record starts it again
    assert deliveries.after(window, None) == []
    stored = deliveries.stored_digest(b"w" * 16, window)
    assert deliveries.writer(stored) == b"w" * 16 and deliveries.applied(stored) == window


def test_a_round_of_more_records_of_one_order_than_the_window_is_recognised_when_delivered_again() -> None:
    """The window keeps every record of the round that wrote it, however many: the round delivered again (whole
    or in parts) finds its first record in it and plans nothing (a window of the last `WINDOW` planned the first
    records in full over the state the last one left: a version and a change per record)."""
    count = deliveries.WINDOW + 5
    values = [message(T, "O1", remark=f"r{n}").model_dump_json().encode() for n in range(count)]
    records = [Received(0, "orders.ingest.v1", 0, n, message_key(T, "O1"), v, True) for n, v in enumerate(values)]
    db = Database()
    db.apply(_decoded(records))
    applied, changes = _state(db), list(db.changes)
    assert len(deliveries.applied(db.stored[(T, "O1")].row.digest)) == count
    db.apply(_decoded(records))
    db.apply(_decoded(records[:10]))
    db.apply(_decoded(records[10:]))
    assert _state(db) == applied and db.changes == changes
    db.apply(_decoded([replace(records[0], offset=count)]))  # a new record: the window is `WINDOW` again
    assert len(deliveries.applied(db.stored[(T, "O1")].row.digest)) == deliveries.WINDOW
