"""A reference subscriber of `orders.events.v1`: a tiny rule engine that turns order facts into tasks.

Run it against the local stack: `python -m services.rules_bridge.examples.rule_engine` (Ctrl-C stops it).
In code: `engine = RuleEngine(settings, group="my-rules"); await engine.run(stop)`, then read `engine.tasks`.

What every subscriber should copy from it:
- a consumer group of its own, starting from the earliest offset, committing only after handling (at least once);
- parse the CloudEvent from the headers (binary content mode) and the JSON value;
- dedupe on `ce_id` (here in memory; a real engine keeps seen ids in its own table, in the transaction of its
  side effects): a redelivered or republished event has the same id and must trigger nothing twice;
- events of one order arrive in order (one key, one partition); inferred milestones were skipped by the order,
  so customer-facing messages for them are usually wrong (a "thanks for paying" after the parcel arrived);
- conditions read the event's data (amounts are decimal strings: compare them as `Decimal`, never as floats),
  e.g. "paid and more than 500 -> a follow-up task for a sales rep".
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from aiokafka import AIOKafkaConsumer

from services.core.bounds import MAX_MESSAGE_BYTES
from services.platform.settings import ConnectionSettings
from services.rules_bridge.contracts import order_events_v1 as contract

BIG_ORDER = Decimal("500.00")


def always(data: Mapping[str, Any]) -> bool:
    return True


def paid_more_than(amount: Decimal) -> Callable[[Mapping[str, Any]], bool]:
    """A condition on the event's data: the amount paid (else the order total) is above `amount`."""

    def condition(data: Mapping[str, Any]) -> bool:
        paid = data.get("paid_amount") or data.get("total_amount") or "0"
        return Decimal(paid) > amount

    return condition


@dataclass(frozen=True)
class Rule:
    """When an event of `event_type` arrives (not an inferred milestone) and `condition(data)` holds: `action`."""

    event_type: str
    action: str
    condition: Callable[[Mapping[str, Any]], bool] = always


RULES: tuple[Rule, ...] = (
    Rule(contract.ORDER_CREATED, "tag customer as prospect"),
    Rule(contract.ORDER_PAID, "send payment thank-you"),
    Rule(contract.ORDER_PAID, "create a follow-up task for a sales rep", paid_more_than(BIG_ORDER)),
    Rule(contract.ORDER_SHIPPED, "send shipping notice"),
    Rule(contract.ORDER_SIGNED, "ask for a review"),
    Rule(contract.ORDER_COMPLETED, "add loyalty points"),
    Rule(contract.ORDER_CLOSED, "start win-back journey"),
)


@dataclass(frozen=True)
class OrderEvent:
    """One received CloudEvent, with where it was read from."""

    id: str
    type: str
    tenant_id: str
    subject: str
    key: str
    inferred: bool
    data: dict[str, Any]
    partition: int
    offset: int


@dataclass(frozen=True)
class Task:
    event_id: str
    tenant_id: str
    order_no: str
    action: str


@dataclass
class RuleEngine:
    """Consumes order events with a consumer group; `received` keeps every delivery, `events` each id once."""

    settings: ConnectionSettings
    group: str = "orderinfo-rule-engine-example"
    received: list[OrderEvent] = field(default_factory=list)
    events: list[OrderEvent] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)
    on_task: Callable[[Task], None] | None = None
    _seen: set[str] = field(default_factory=set)

    def handle(self, event: OrderEvent) -> list[Task]:
        """Apply the rules to one event; a duplicate id or an inferred milestone triggers nothing."""
        self.received.append(event)
        if event.id in self._seen:
            return []
        self._seen.add(event.id)
        self.events.append(event)
        if event.inferred:
            return []
        tasks = [
            Task(event.id, event.tenant_id, event.subject, rule.action)
            for rule in RULES
            if rule.event_type == event.type and rule.condition(event.data)
        ]
        for task in tasks:
            self.tasks.append(task)
            if self.on_task is not None:
                self.on_task(task)
        return tasks

    async def run(self, stop: asyncio.Event, ready: asyncio.Event | None = None) -> None:
        """Consume until `stop` is set; `ready` is set once the group has its partitions."""
        consumer = AIOKafkaConsumer(
            self.settings.topic(contract.TOPIC.name),
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            group_id=self.settings.topic(self.group),
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=MAX_MESSAGE_BYTES,  # the largest event fits in one fetch
        )
        await consumer.start()
        try:
            while not stop.is_set():
                batch = await consumer.getmany(timeout_ms=200, max_records=500)
                if ready is not None and consumer.assignment():
                    ready.set()
                for records in batch.values():
                    for record in records:
                        self.handle(parse(record))
                if batch:
                    await consumer.commit()
        finally:
            await consumer.stop()


def parse(record: Any) -> OrderEvent:
    """A Kafka record in CloudEvents binary content mode -> `OrderEvent` (raises on a record that is not one)."""
    headers = ce_headers(record.headers)
    data = json.loads(record.value)
    return OrderEvent(
        id=headers["ce_id"],
        type=headers["ce_type"],
        tenant_id=headers["ce_tenantid"],
        subject=headers.get("ce_subject", ""),
        key=record.key.decode() if record.key else "",
        inferred=bool(data.get("inferred", False)),
        data=data,
        partition=record.partition,
        offset=record.offset,
    )


def ce_headers(headers: Sequence[tuple[str, bytes]]) -> dict[str, str]:
    return {name.lower(): value.decode() for name, value in headers}


async def _main() -> None:
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    engine = RuleEngine(ConnectionSettings(), on_task=lambda t: print(f"{t.tenant_id} {t.order_no}: {t.action}"))
    await engine.run(stop)


if __name__ == "__main__":
    asyncio.run(_main())
