"""What a scenario verifies afterwards, read back from PostgreSQL and from the topics themselves:
every order exactly once with its lines, status and persona; every expected event on `orders.events.v1`
(duplicates only with identical ids and content); the import job's counters adding up."""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from uuid import UUID

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from services.ingest.contracts.orders_ingest_v1 import DLQ_TOPIC
from services.platform.settings import ConnectionSettings
from services.rules_bridge.contracts import order_events_v1
from services.rules_bridge.domain.milestones import reached
from tools.verification.workload import Workload

Conn = Any
T = TypeVar("T")


class ScenarioTimeout(AssertionError):
    """A condition a scenario waits on did not hold before its deadline."""


async def eventually(
    probe: Callable[[], Awaitable[T]], done: Callable[[T], bool], within: float, what: str, interval: float = 0.1
) -> T:
    """Poll `probe` until `done(value)`; raise `ScenarioTimeout` naming `what` after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        value = await probe()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise ScenarioTimeout(f"{what}: not reached within {within:.0f} s (last value {value!r})")
        await asyncio.sleep(interval)


@dataclass
class Findings:
    orders_expected: int = 0
    orders_found: int = 0
    events_expected: int = 0
    events_found: int = 0
    duplicate_events: int = 0
    duplicates_identical: bool = True
    problems: list[str] = field(default_factory=list)


async def stored_orders(conn: Conn, tenant_id: UUID) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM orders WHERE tenant_id = $1", tenant_id))


async def import_job(conn: Conn, tenant_id: UUID, import_id: UUID) -> dict[str, Any]:
    row = await conn.fetchrow("SELECT * FROM imports WHERE tenant_id = $1 AND id = $2", tenant_id, import_id)
    return dict(row) if row else {}


async def unsent_events(conn: Conn, tenant_id: UUID) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM outbox WHERE tenant_id = $1 AND sent_at IS NULL", tenant_id))


async def pending_persona_deltas(conn: Conn, tenant_id: UUID) -> int:
    """Persona deltas not folded yet (the persona stage folds them shortly after their orders commit)."""
    return int(await conn.fetchval("SELECT count(*) FROM persona_deltas WHERE tenant_id = $1", tenant_id))


async def check_orders(conn: Conn, work: Workload, found: Findings) -> None:
    """Each expected order once, with exactly its lines and status; each customer's persona counting its orders."""
    found.orders_expected = len(work.orders)
    rows = await conn.fetch("SELECT order_no, status FROM orders WHERE tenant_id = $1", work.tenant_id)
    found.orders_found = len(rows)
    status = {r["order_no"]: r["status"] for r in rows}
    lines: dict[str, set[tuple[str, str, int]]] = defaultdict(set)
    for r in await conn.fetch(
        "SELECT order_no, product_id, sku, quantity FROM order_lines WHERE tenant_id = $1", work.tenant_id
    ):
        lines[r["order_no"]].add((r["product_id"], r["sku"], r["quantity"]))
    wrong = [
        o.order_no
        for o in work.orders
        if status.get(o.order_no) != o.status.value
        or lines.get(o.order_no) != {(x.product_id, x.sku, x.quantity) for x in o.lines}
    ]
    unexpected = set(status) - {o.order_no for o in work.orders}
    if wrong:
        found.problems.append(f"{len(wrong)} orders missing or wrong (first: {wrong[:3]})")
    if unexpected:
        found.problems.append(f"{len(unexpected)} unexpected orders")
    await _check_personas(conn, work, found)


async def _check_personas(conn: Conn, work: Workload, found: Findings) -> None:
    expected_status: dict[str, Counter[str]] = defaultdict(Counter)
    for order in work.orders:
        expected_status[order.buyer.mobile or ""][order.status.value] += 1
    rows = await conn.fetch("SELECT mobile, persona FROM customers WHERE tenant_id = $1", work.tenant_id)
    personas = {r["mobile"]: _json(r["persona"]) for r in rows}
    if set(personas) != set(expected_status):
        found.problems.append(f"customers: {len(personas)} found, {len(expected_status)} expected")
        return
    wrong = [
        mobile
        for mobile, counts in expected_status.items()
        if personas[mobile].get("order_count") != sum(counts.values())
        or personas[mobile].get("orders_by_status") != dict(counts)
    ]
    if wrong:
        found.problems.append(f"{len(wrong)} personas wrong (first: {wrong[:3]})")


def _json(value: Any) -> dict[str, Any]:
    import json

    parsed = json.loads(value) if isinstance(value, str) else value
    return dict(parsed)


async def check_import(conn: Conn, work: Workload, found: Findings) -> None:
    """The job's counters add up: every order processed or dead-lettered once, nothing counted twice."""
    job = await import_job(conn, work.tenant_id, work.import_id)
    total = len(work.orders) + work.poison_counted
    got = (job.get("orders_processed"), job.get("created"), job.get("dead_lettered"))
    if got != (len(work.orders), len(work.orders), work.poison_counted):
        found.problems.append(
            f"import counters processed/created/dead = {got}, expected "
            f"{(len(work.orders), len(work.orders), work.poison_counted)} of {total}"
        )
    want_state = "completed_with_errors" if work.poison_counted else "completed"
    if job.get("state") != want_state:
        found.problems.append(f"import state {job.get('state')!r}, expected {want_state!r}")


def expected_events(work: Workload) -> set[tuple[str, str]]:
    """(order no., event type) of every milestone the workload's new orders reach."""
    return {(o.order_no, m.event_type) for o in work.orders for m in reached(None, o.status)}


@dataclass(frozen=True)
class TopicRecord:
    key: bytes | None
    value: bytes | None
    headers: dict[str, bytes]


async def read_topic(settings: ConnectionSettings, topic: str, within: float = 30.0) -> list[TopicRecord]:
    """Every record on `topic` from the beginning up to its current end, across all partitions."""
    partitions = await _partitions(settings, topic)
    if not partitions:
        return []
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        assigned = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        ends = await consumer.end_offsets(assigned)
        records: list[TopicRecord] = []
        deadline = time.monotonic() + within
        while [tp for tp in assigned if await consumer.position(tp) < ends[tp]]:
            if time.monotonic() > deadline:
                raise ScenarioTimeout(f"reading {topic}: not at its end within {within:.0f} s")
            batches = await consumer.getmany(timeout_ms=500, max_records=5000)
            records += [
                TopicRecord(m.key, m.value, {k: v for k, v in (m.headers or ())})
                for batch in batches.values()
                for m in batch
            ]
        return records
    finally:
        await consumer.stop()


async def _partitions(settings: ConnectionSettings, topic: str) -> list[int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return sorted(p["partition"] for t in described if t["topic"] == topic for p in t["partitions"])


async def check_events(settings: ConnectionSettings, work: Workload, found: Findings) -> None:
    """Every expected event on the topic at least once; copies of one id must be identical."""
    expected = expected_events(work)
    found.events_expected = len(expected)
    tenant = str(work.tenant_id).encode()
    records = [
        r
        for r in await read_topic(settings, settings.topic(order_events_v1.TOPIC.name))
        if r.headers.get("ce_tenantid") == tenant
    ]
    by_id: dict[bytes, list[TopicRecord]] = defaultdict(list)
    for record in records:
        by_id[record.headers.get("ce_id", b"")].append(record)
    seen = {(r.headers["ce_subject"].decode(), r.headers["ce_type"].decode()) for r in records}
    found.events_found = len(expected & seen)
    found.duplicate_events = len(records) - len(by_id)
    found.duplicates_identical = all(
        len({(r.key, r.value, r.headers.get("ce_type"), r.headers.get("ce_subject")) for r in copies}) == 1
        for copies in by_id.values()
    )
    if expected - seen:
        found.problems.append(f"{len(expected - seen)} events missing (first: {sorted(expected - seen)[:3]})")
    if seen - expected:
        found.problems.append(f"{len(seen - expected)} unexpected events")
    if not found.duplicates_identical:
        found.problems.append("copies of one event id differ")
    ids: dict[tuple[bytes, bytes], set[bytes]] = defaultdict(set)
    for record in records:
        ids[(record.headers["ce_subject"], record.headers["ce_type"])].add(record.headers.get("ce_id", b""))
    if any(len(v) > 1 for v in ids.values()):
        found.problems.append("one milestone published under several ids")


async def dead_letters(settings: ConnectionSettings) -> list[TopicRecord]:
    return await read_topic(settings, settings.topic(DLQ_TOPIC.name))
