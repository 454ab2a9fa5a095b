"""Per-row verdicts of the relay's publisher, with a fake producer that records what it was asked to send."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import errors as kafka_errors

from services.rules_bridge.adapters.outbox_publisher import Publisher, judge, record_size
from services.rules_bridge.adapters.outbox_store import PendingRow, ShardBacklog
from services.rules_bridge.domain.delivery import Outcome, ParkReason, before_sending
from services.rules_bridge.relay import RelayMetrics

TOPICS = {"orders.events.v1"}
LIMIT = 10_000


def row(ident: int, size: int = 100, key: str = "t:o", topic: str = "orders.events.v1") -> PendingRow:
    return PendingRow(ident, topic, key, f"e{ident}", [("ce_id", b"x")], b"v" * size, datetime(2026, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    ("topic", "size", "expected"),
    [
        ("orders.events.v1", LIMIT, None),
        ("orders.events.v1", LIMIT + 1, ParkReason.TOO_LARGE),
        ("orders.evnets.v1", 10, ParkReason.UNKNOWN_TOPIC),
    ],
)
def test_rows_that_must_never_be_sent(topic: str, size: int, expected: ParkReason | None) -> None:
    verdict = before_sending(topic, size, TOPICS, LIMIT)
    assert (verdict.reason if verdict else None) is expected
    if verdict is not None:
        assert verdict.outcome is Outcome.PARKED and verdict.detail


@pytest.mark.parametrize(
    ("error", "alone", "outcome", "reason"),
    [
        (kafka_errors.MessageSizeTooLargeError(), True, Outcome.PARKED, ParkReason.TOO_LARGE),
        (kafka_errors.RecordTooLargeError(), True, Outcome.PARKED, ParkReason.TOO_LARGE),
        (kafka_errors.InvalidTopicError(), True, Outcome.PARKED, ParkReason.INVALID_TOPIC),
        (kafka_errors.CorruptRecordException(), True, Outcome.PARKED, ParkReason.REJECTED),
        (kafka_errors.MessageSizeTooLargeError(), False, None, None),  # rejected in company: judged again alone
        (kafka_errors.OutOfOrderSequenceNumber(), False, None, None),
        (kafka_errors.OutOfOrderSequenceNumber(), True, Outcome.RETRY, None),
        (kafka_errors.KafkaTimeoutError(), False, Outcome.RETRY, None),
        (kafka_errors.NotLeaderForPartitionError(), True, Outcome.RETRY, None),
        (kafka_errors.TopicAuthorizationFailedError(), True, Outcome.RETRY, None),  # the relay's problem
        (RuntimeError("unknown"), True, Outcome.RETRY, None),  # never parked on a guess
    ],
)
def test_errors_are_classified(
    error: Exception, alone: bool, outcome: Outcome | None, reason: ParkReason | None
) -> None:
    verdict = judge(error, alone=alone)
    assert (verdict.outcome if verdict else None, verdict.reason if verdict else None) == (outcome, reason)


class FakeProducer:
    """Records every send. `queue_error(row_id)` raises while queueing; `broker_error(row_id, alone)` fails the ack."""

    def __init__(self, log: list[tuple[int, int]], generation: int, rules: dict[str, Callable[..., Any]]) -> None:
        self.log, self.generation, self.rules = log, generation, rules
        self.pending: list[tuple[int, asyncio.Future[object]]] = []

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def send(self, topic: str, value: bytes, key: bytes, headers: Any) -> asyncio.Future[object]:
        ident = int(dict(headers)["row"].decode())
        if (error := self.rules["queue_error"](ident)) is not None:
            raise error
        self.log.append((self.generation, ident))
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        error = self.rules["broker_error"](ident, self.generation)
        future.set_exception(error) if error else future.set_result(ident)
        return future


def publisher(log: list[tuple[int, int]], **rules: Callable[..., Any]) -> tuple[Publisher, list[int]]:
    rules = {"queue_error": lambda i: None, "broker_error": lambda i, g: None} | rules
    generations: list[int] = []

    def new() -> Any:
        generations.append(len(generations))
        return FakeProducer(log, generations[-1], rules)

    return Publisher(new, lambda t: f"p.{t}", TOPICS, LIMIT), generations


def rows(n: int, big: int | None = None) -> list[PendingRow]:
    made = [row(i, size=LIMIT + 1 if i == big else 100) for i in range(n)]
    return [
        PendingRow(r.id, r.topic, r.key, r.event_id, [("row", str(r.id).encode())], r.value, r.created_at) for r in made
    ]


async def test_an_oversized_row_is_parked_without_being_sent_and_the_others_go() -> None:
    log: list[tuple[int, int]] = []
    pub, _ = publisher(log)
    await pub.start()
    got = await pub.publish(rows(5, big=2))
    assert [d.outcome for d in got] == [Outcome.SENT, Outcome.SENT, Outcome.PARKED, Outcome.SENT, Outcome.SENT]
    assert got[2].verdict.reason is ParkReason.TOO_LARGE
    assert [i for _, i in log] == [0, 1, 3, 4]


async def test_a_transient_error_while_queueing_sends_nothing_after_it() -> None:
    log: list[tuple[int, int]] = []
    pub, _ = publisher(log, queue_error=lambda i: kafka_errors.KafkaTimeoutError() if i == 2 else None)
    await pub.start()
    got = await pub.publish(rows(5))
    assert [d.outcome for d in got] == [Outcome.SENT, Outcome.SENT] + [Outcome.RETRY] * 3
    assert [i for _, i in log] == [0, 1]  # nothing of the same keys overtakes the row to retry


async def test_a_batch_rejection_is_judged_again_row_by_row_with_fresh_producers() -> None:
    """The broker rejects row 2's batch (rows 1-3) and then the partition's later rows (sequence broken)."""

    def broker_error(ident: int, generation: int) -> Exception | None:
        if generation == 0 and ident in (1, 2, 3):
            return kafka_errors.MessageSizeTooLargeError()
        if generation == 0 and ident > 3:
            return kafka_errors.OutOfOrderSequenceNumber()
        return kafka_errors.MessageSizeTooLargeError() if ident == 2 else None

    log: list[tuple[int, int]] = []
    pub, generations = publisher(log, broker_error=broker_error)
    await pub.start()
    got = await pub.publish(rows(6))
    assert [d.outcome for d in got] == [
        Outcome.SENT,
        Outcome.SENT,
        Outcome.PARKED,
        Outcome.SENT,
        Outcome.SENT,
        Outcome.SENT,
    ]
    assert log[6:] == [(1, 1), (1, 2), (2, 3), (2, 4), (2, 5)]  # alone, in id order; a new producer after row 2
    assert generations == [0, 1, 2]


def test_metrics_show_a_stuck_or_failing_relay() -> None:
    metrics = RelayMetrics()
    metrics.refresh({3: ShardBacklog(5, 200.0), 4: ShardBacklog(1, 10.0)}, owned={4}, parked_rows=2)
    assert metrics.backlog == 6 and metrics.parked_rows == 2
    assert (metrics.oldest_unsent_age_s() or 0) >= 200.0
    assert metrics.problems(stuck_after_s=120) == []  # shard 3 is another relay's
    metrics.refresh({3: ShardBacklog(5, 200.0)}, owned={3}, parked_rows=2)
    metrics.failing_sessions, metrics.last_error = 2, "KafkaConnectionError: down"
    problems = metrics.problems(stuck_after_s=120)
    assert "2 relay session(s) failed in a row" in problems[0] and "down" in problems[0]
    assert "oldest unsent event" in problems[1]


def test_record_size_is_what_the_producer_measures() -> None:
    assert record_size(row(1, size=1000)) > 1000
