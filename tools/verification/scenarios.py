"""Fault scenarios: each starts real consumer/relay processes, injects one fault while they work, waits (with
deadlines) until the system settled, then checks the end state against what was fed in.

Each `run_*` returns a `ScenarioReport` whose verdict is PASS only when every order is present exactly once with
its lines, status and persona, every expected event is on `orders.events.v1` (duplicates only as identical copies
of one id), and the import job's counters add up. Every process a scenario starts is stopped before it returns,
also when it fails or times out.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from services.core.bounds import MAX_MESSAGE_BYTES
from services.core.changes import LineSnapshot, OrderChange, OrderSnapshot
from services.core.order import OrderStatus
from services.ingest import errors
from services.ingest.adapters import import_jobs
from services.ingest.contracts.orders_ingest_v1 import message_key
from services.ingest.entrypoints.consumer import PROCESSING_ERROR
from services.platform.database import create_pool
from services.platform.settings import ConnectionSettings
from services.rules_bridge.adapters.outbox_store import enqueue
from services.rules_bridge.contracts import order_events_v1
from services.rules_bridge.outbox_writer import OutboxRecord, order_events
from tools.verification import checks
from tools.verification.checks import Findings, eventually
from tools.verification.env import VerifyEnv, ensure_all_topics, scoped
from tools.verification.processes import ProcessGroup
from tools.verification.workload import RawRecord, Workload, new_tenant, order_message, prepare, publish

PASS = "PASS"
SETTLE_S = 120.0
Pool = Any


@dataclass(frozen=True)
class ScenarioReport:
    name: str
    injected: str
    orders_expected: int
    orders_found: int
    events_expected: int
    events_found: int
    duplicate_events: int
    duplicates_identical: bool
    verdict: str
    problems: tuple[str, ...] = ()
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.verdict == PASS


@dataclass
class Stage:
    """One scenario's settings (topic prefix of its own), pool and processes."""

    env: VerifyEnv
    settings: ConnectionSettings
    pool: Pool
    group: ProcessGroup
    injected: list[str] = field(default_factory=list)

    async def stored(self, work: Workload) -> int:
        async with self.pool.acquire() as conn:
            return await checks.stored_orders(conn, work.tenant_id)


@contextlib.asynccontextmanager
async def _stage(env: VerifyEnv, base: ConnectionSettings, name: str) -> AsyncIterator[Stage]:
    settings = scoped(base, name)
    await ensure_all_topics(settings)
    pool = await create_pool(settings.database_url, min_size=1, max_size=4)
    group = env.processes()
    try:
        yield Stage(env, settings, pool, group)
    finally:
        await asyncio.to_thread(group.close)
        await pool.close()


async def _settle(stage: Stage, work: Workload, within: float = SETTLE_S) -> None:
    """Wait until every order is stored, the import counted everything, the personas are folded and the outbox is
    drained."""

    async def state() -> tuple[int, int, int, int]:
        async with stage.pool.acquire() as conn:
            job = await checks.import_job(conn, work.tenant_id, work.import_id)
            counted = job.get("orders_processed", 0) + job.get("dead_lettered", 0)
            return (
                await checks.stored_orders(conn, work.tenant_id),
                counted,
                await checks.pending_persona_deltas(conn, work.tenant_id),
                await checks.unsent_events(conn, work.tenant_id),
            )

    target = (len(work.orders), len(work.orders) + work.poison_counted, 0, 0)
    done = "orders stored, import counted, personas folded, outbox drained"
    await eventually(state, lambda s: s == target, within, done, 0.2)


async def _verify(stage: Stage, work: Workload) -> Findings:
    found = Findings()
    async with stage.pool.acquire() as conn:
        await checks.check_orders(conn, work, found)
        await checks.check_import(conn, work, found)
    await checks.check_events(stage.settings, work, found)
    return found


def _report(name: str, injected: list[str], found: Findings, started: float) -> ScenarioReport:
    return ScenarioReport(
        name,
        "; ".join(injected),
        found.orders_expected,
        found.orders_found,
        found.events_expected,
        found.events_found,
        found.duplicate_events,
        found.duplicates_identical,
        PASS if not found.problems else "FAIL",
        tuple(found.problems),
        time.monotonic() - started,
    )


Body = Callable[[Stage], Awaitable[Findings]]


async def _scenario(env: VerifyEnv, base: ConnectionSettings | None, name: str, body: Body) -> ScenarioReport:
    """Run `body` in a stage of its own, bounded by the env's timeout; any failure becomes a FAIL verdict."""
    started = time.monotonic()
    if base is None:
        return ScenarioReport(name, "(needs the private stack)", 0, 0, 0, 0, 0, True, "SKIPPED")
    injected: list[str] = []
    try:
        async with _stage(env, base, name) as stage:
            stage.injected = injected
            found = await asyncio.wait_for(body(stage), env.scenario_timeout_s)
    except Exception as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
        found = Findings(problems=[reason[:500]])
    return _report(name, injected, found, started)


# --- the scenarios -------------------------------------------------------------------------------------------------


async def run_consumer_crash(env: VerifyEnv, orders: int = 2000) -> ScenarioReport:
    """SIGKILL of the consumer mid-batch, then a new consumer: its uncommitted batches are redelivered."""

    async def body(stage: Stage) -> Findings:
        async with stage.pool.acquire() as conn:
            work = await prepare(conn, "verify consumer crash", orders, customers=orders // 5, tag="C")
        await publish(stage.settings, work.orders)
        env.relay(stage.group, stage.settings)
        first = env.consumer(stage.group, stage.settings)
        at_kill = await eventually(lambda: stage.stored(work), lambda n: n >= orders // 10, 60, "first orders", 0.02)
        first.kill()
        stage.injected.append(f"SIGKILL consumer at {at_kill}/{orders} orders")
        env.consumer(stage.group, stage.settings)
        await _settle(stage, work)
        found = await _verify(stage, work)
        if at_kill >= orders:
            found.problems.append("the consumer finished before the kill: raise the order count")
        return found

    return await _scenario(env, env.shared, "consumer SIGKILL", body)


async def run_relay_crash(env: VerifyEnv, orders: int = 1000) -> ScenarioReport:
    """SIGKILL of the relay between publishing a batch and marking it sent, with a backlog; a new relay
    republishes the unmarked batch: every event at least once, copies identical (same ids)."""

    async def body(stage: Stage) -> Findings:
        async with stage.pool.acquire() as conn:
            work = await prepare(conn, "verify relay crash", orders, customers=orders // 5, tag="R")
        await publish(stage.settings, work.orders)
        env.consumer(stage.group, stage.settings)
        await eventually(lambda: stage.stored(work), lambda n: n == orders, SETTLE_S, "orders stored")
        hold = stage.env.workdir / f"relay-hold-{uuid.uuid4().hex[:6]}"
        held = env.relay(stage.group, stage.settings, hold_file=hold)
        await eventually(_exists(hold), bool, 60, "the relay holding a published batch", 0.02)
        async with stage.pool.acquire() as conn:
            backlog = await checks.unsent_events(conn, work.tenant_id)
        held.kill()
        stage.injected.append(f"SIGKILL relay after publishing, before marking ({backlog} events unsent)")
        env.relay(stage.group, stage.settings)
        await _settle(stage, work)
        found = await _verify(stage, work)
        if found.duplicate_events == 0:
            found.problems.append("no event was republished: the kill did not land between publish and mark")
        return found

    return await _scenario(env, env.shared, "relay SIGKILL", body)


def _exists(path: Any) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        return bool(path.exists())

    return probe


async def run_broker_restart(env: VerifyEnv, orders: int = 2000) -> ScenarioReport:
    """The Kafka broker stopped and started again while the consumer and the relay work through an import."""

    async def body(stage: Stage) -> Findings:
        assert env.private is not None
        async with stage.pool.acquire() as conn:
            work = await prepare(conn, "verify broker restart", orders, customers=orders // 5, tag="K")
        await publish(stage.settings, work.orders[: orders // 2])
        env.consumer(stage.group, stage.settings)
        env.relay(stage.group, stage.settings)
        at_stop = await eventually(lambda: stage.stored(work), lambda n: n >= orders // 10, 60, "first orders", 0.02)
        await env.private.stop_kafka()
        during = await stage.stored(work)
        await env.private.start_kafka()
        stage.injected.append(f"Kafka stopped at {at_stop}/{orders} orders ({during} when down), restarted")
        await publish(stage.settings, work.orders[orders // 2 :])
        await _settle(stage, work, within=180)
        return await _verify(stage, work)

    return await _scenario(env, env.private.connection if env.private else None, "Kafka restart", body)


async def run_postgres_restart(env: VerifyEnv, orders: int = 2000) -> ScenarioReport:
    """PostgreSQL stopped (fast: open transactions aborted) and started again while batches are being applied."""

    async def body(stage: Stage) -> Findings:
        assert env.private is not None
        async with stage.pool.acquire() as conn:
            work = await prepare(conn, "verify postgres restart", orders, customers=orders // 5, tag="P")
        await publish(stage.settings, work.orders)
        env.consumer(stage.group, stage.settings)
        env.relay(stage.group, stage.settings)
        at_stop = await eventually(lambda: stage.stored(work), lambda n: n >= orders // 10, 60, "first orders", 0.02)
        stage.pool.terminate()
        await env.private.stop_postgres()
        await env.private.start_postgres()
        stage.pool = await create_pool(stage.settings.database_url, min_size=1, max_size=4)
        stage.injected.append(f"PostgreSQL stopped at {at_stop}/{orders} orders, restarted")
        await _settle(stage, work, within=180)
        return await _verify(stage, work)

    return await _scenario(env, env.private.connection if env.private else None, "PostgreSQL restart", body)


async def run_poison_messages(env: VerifyEnv, orders: int = 600) -> ScenarioReport:
    """Poison records among good ones: each is dead-lettered with its reason, its neighbours land, another tenant's
    import is refused, and the import counts the dead letters that name it."""

    async def body(stage: Stage) -> Findings:
        async with stage.pool.acquire() as conn:
            work = await prepare(conn, "verify poison", orders, customers=orders // 5, tag="G")
            intruder = await new_tenant(conn, "verify poison intruder")
        work.poison = poison_records(work, intruder)
        async with stage.pool.acquire() as conn:
            await expect_poison(conn, work, COUNTED_ORDER_NOS)
        half = orders // 2
        await publish(stage.settings, work.orders[:half], work.poison)
        await publish(stage.settings, work.orders[half:])
        reasons = ", ".join(sorted({p.reason for p in work.poison}))
        stage.injected.append(f"{len(work.poison)} poison records among {orders} good ({reasons})")
        env.consumer(stage.group, stage.settings)
        env.relay(stage.group, stage.settings)
        await _settle(stage, work)
        found = await _verify(stage, work)
        await _check_dead_letters(stage, work, found)
        async with stage.pool.acquire() as conn:
            if await checks.stored_orders(conn, intruder):
                found.problems.append("the intruding tenant got orders")
        return found

    return await _scenario(env, env.shared, "poison messages", body)


# Poison records whose value names the scenario's import and an order no. of it: the import counts them.
COUNTED_ORDER_NOS = ("XBADQTY", "XKEY", "XNUL")


async def expect_poison(conn: Any, work: Workload, order_nos: Sequence[str]) -> None:
    """Make the import expect `order_nos` too (as if its file had those orders), so it counts their dead letters."""
    work.poison_counted = len(order_nos)
    await import_jobs.record_rows(
        conn, work.tenant_id, work.import_id, import_jobs.queued_rows(order_nos, first_row=len(work.orders) + 2)
    )
    more = "UPDATE imports SET orders_total = orders_total + $3 WHERE tenant_id = $1 AND id = $2"
    await conn.execute(more, work.tenant_id, work.import_id, len(order_nos))


def poison_records(work: Workload, intruder: uuid.UUID) -> list[RawRecord]:
    """One record per way a message can be bad. `nul_in_text` is valid JSON whose text PostgreSQL cannot store."""
    tenant, import_id = work.tenant_id, work.import_id
    good = order_message(tenant, import_id, 999_001, 10, tag="X")
    bad_quantity = good.model_dump(mode="json") | {"order_no": "XBADQTY"}
    bad_quantity["lines"][0]["quantity"] = -1
    nul = good.model_dump(mode="json") | {"order_no": "XNUL"}
    nul["buyer"] = {"mobile": good.buyer.mobile, "nickname": "nul\u0000byte"}
    import json

    def raw(order_no: str, value: bytes, reason: str, owner: uuid.UUID = tenant) -> RawRecord:
        return RawRecord(message_key(owner, order_no), value, reason)

    foreign = order_message(uuid.uuid4(), None, 999_002, 10, tag="X")
    claim = order_message(intruder, import_id, 999_003, 10, tag="X")
    return [
        raw("XJSON", b"{not json", errors.INVALID_JSON),
        raw("XUTF8", b'{"order_no": "\xc3\x28"}', errors.INVALID_ENCODING),
        raw("XBADQTY", json.dumps(bad_quantity).encode(), errors.CONTRACT_VIOLATION),
        raw("XWRONGKEY", good.model_copy(update={"order_no": "XKEY"}).model_dump_json().encode(), errors.KEY_MISMATCH),
        raw(foreign.order_no, foreign.model_dump_json().encode(), errors.UNKNOWN_TENANT, foreign.tenant_id),
        raw(claim.order_no, claim.model_dump_json().encode(), errors.IMPORT_OF_ANOTHER_TENANT, intruder),
        raw("XNUL", json.dumps(nul).encode(), "nul_in_text"),
    ]


NUL_REASONS = {errors.CONTRACT_VIOLATION, PROCESSING_ERROR}


async def _check_dead_letters(stage: Stage, work: Workload, found: Findings) -> None:
    """Each poison record dead-lettered with its reason. A record is told apart by where it came from (its
    original partition and offset): a rebalance between publishing a dead letter and committing the offset
    redelivers the batch, and its new owner dead-letters the record again (at least once, as every delivery)."""
    letters = await checks.dead_letters(stage.settings)
    originals = {(r.headers.get("x-original-partition"), r.headers.get("x-original-offset")): r for r in letters}
    got = Counter(r.headers.get("x-reason-code", b"").decode() for r in originals.values())
    want = Counter(p.reason for p in work.poison if p.reason != "nul_in_text")
    nul = sum(got[r] for r in NUL_REASONS) - sum(want[r] for r in NUL_REASONS)
    for reason, n in want.items():
        if got[reason] < n:
            found.problems.append(f"dead letters {reason}: {got[reason]}, expected {n}")
    if nul < 1:
        found.problems.append(f"the NUL-byte message was not dead-lettered (dead letters: {dict(got)})")
    if sum(got.values()) != len(work.poison):
        found.problems.append(f"{sum(got.values())} dead letters for {len(work.poison)} poison records: {dict(got)}")


async def run_rebalance(env: VerifyEnv, orders: int = 3000) -> ScenarioReport:
    """A second consumer joins the group mid-import: partitions move between members while batches are applied."""

    async def body(stage: Stage) -> Findings:
        async with stage.pool.acquire() as conn:
            work = await prepare(conn, "verify rebalance", orders, customers=orders // 5, tag="B")
        await publish(stage.settings, work.orders)
        env.relay(stage.group, stage.settings)
        env.consumer(stage.group, stage.settings)
        at_join = await eventually(lambda: stage.stored(work), lambda n: n >= orders // 10, 60, "first orders", 0.02)
        second = env.consumer(stage.group, stage.settings)
        stage.injected.append(f"second consumer joined at {at_join}/{orders} orders")
        await _settle(stage, work)
        found = await _verify(stage, work)
        if not second.running:
            found.problems.append(f"the second consumer exited:\n{second.log_tail()}")
        return found

    return await _scenario(env, env.shared, "rebalance", body)


async def run_oversized_event(env: VerifyEnv, orders: int = 600) -> ScenarioReport:
    """Events over the message bound in the outbox (as a writer without the lines-per-order limit could make them),
    among the events of another tenant's import: they are parked with their reason, never published, and every
    other event keeps flowing, on every shard."""

    async def body(stage: Stage) -> Findings:
        async with stage.pool.acquire() as conn:
            work = await prepare(conn, "verify oversized", orders, customers=orders // 5, tag="O")
            big = await new_tenant(conn, "verify oversized big")
        await publish(stage.settings, work.orders[: orders // 2])
        env.consumer(stage.group, stage.settings)
        env.relay(stage.group, stage.settings)
        at = await eventually(lambda: stage.stored(work), lambda n: n >= orders // 10, 60, "first orders", 0.02)
        oversized = large_order_events(big, "XBIG", MAX_MESSAGE_BYTES)
        async with stage.pool.acquire() as conn, conn.transaction():
            await enqueue(conn, oversized)
        size = min(payload_bytes(r) for r in oversized)
        stage.injected.append(f"{len(oversized)} events of another tenant over {size:,} bytes at {at}/{orders} orders")
        await publish(stage.settings, work.orders[orders // 2 :])
        await _settle(stage, work)
        found = await _verify(stage, work)
        await _check_parked(stage, big, len(oversized), found)
        return found

    return await _scenario(env, env.shared, "oversized event", body)


def large_order_events(tenant_id: uuid.UUID, order_no: str, min_bytes: int) -> list[OutboxRecord]:
    """The events (created, paid) of one new order whose lines make each event's payload over `min_bytes`."""
    name = "长名称" * 60  # 540 bytes of UTF-8 per line: a long but plausible product name
    count = min_bytes // 600 + 1
    lines = tuple(
        LineSnapshot(f"P{i:06d}", f"SKU-{i:06d}", name, 1, Decimal("1.00"), Decimal("1.00")) for i in range(count)
    )
    at, total = datetime(2026, 3, 1, 10, 0, tzinfo=UTC), Decimal(count)
    after = OrderSnapshot(
        order_no=order_no,
        source="youzan",
        status=OrderStatus.PAID,
        status_raw="paid",
        order_time=at,
        payment_time=at,
        order_amount=total,
        paid_amount=total,
        total_amount=total,
        store_no="S1",
        store_id=None,
        store_name="Store",
        customer_id=uuid.uuid4(),
        matched_by="new",
        version=1,
        lines=lines,
    )
    return order_events(OrderChange(tenant_id, None, after, True, None, "verify"))


def payload_bytes(record: OutboxRecord) -> int:
    return len(json.dumps(record.payload, ensure_ascii=False).encode())


async def _check_parked(stage: Stage, tenant: uuid.UUID, expected: int, found: Findings) -> None:
    """Every oversized event parked as `too_large` and none of them on the events topic."""

    async def parked() -> list[Any]:
        async with stage.pool.acquire() as conn:
            return list(await conn.fetch("SELECT failure, sent_at FROM outbox WHERE tenant_id = $1", tenant))

    rows = await eventually(parked, lambda rs: all(r["failure"] for r in rs), 60, "the oversized events parked")
    if [(r["failure"], r["sent_at"]) for r in rows] != [("too_large", None)] * expected:
        found.problems.append(f"oversized events: {[(r['failure'], r['sent_at']) for r in rows]}")
    topic = stage.settings.topic(order_events_v1.TOPIC.name)
    published = [
        r
        for r in await checks.read_topic(stage.settings, topic)
        if r.headers.get("ce_tenantid") == str(tenant).encode()
    ]
    if published:
        found.problems.append(f"{len(published)} oversized events were published")


JSON_HEADER = (("content-type", b"application/json"),)


def header_poison(work: Workload, every: int) -> list[tuple[int, RawRecord]]:
    """Records FastStream would have decoded by their headers before any handler ran (and lost with their batch),
    each placed after the `every`-th good order of a chunk, under that order's key (its partition)."""
    deep = b'{"a":' * 5000 + b"1" + b"}" * 5000
    values = [
        (b"{not json, but labelled JSON", JSON_HEADER, errors.INVALID_JSON),
        (b"\xff\xfe not UTF-8 \xc3\x28", (("content-type", b"text/plain"),), errors.INVALID_ENCODING),
        (deep, (), errors.INVALID_JSON),
        (b'{"lines": "nested"}', JSON_HEADER, errors.CONTRACT_VIOLATION),
    ]
    placed = []
    for n, (value, headers, reason) in enumerate(values, start=1):
        neighbour = work.orders[n * every]
        key = message_key(neighbour.tenant_id, neighbour.order_no)
        placed.append((n * every, RawRecord(key, value, reason, headers)))
    return placed


async def publish_interleaved(
    settings: ConnectionSettings, work: Workload, placed: Sequence[tuple[int, RawRecord]]
) -> None:
    """The good orders (all under a JSON content-type) in order, each poison record right after its neighbour."""
    start = 0
    for at, record in placed:
        await publish(settings, work.orders[start : at + 1], [record], headers=JSON_HEADER)
        start = at + 1
    await publish(settings, work.orders[start:], headers=JSON_HEADER)


async def run_json_header_poison(env: VerifyEnv, orders: int = 600) -> ScenarioReport:
    """A poison record with a JSON content-type (and other undecodable ones) among good ones on their partitions:
    each poison record is dead-lettered with its reason, every good order lands exactly once."""

    async def body(stage: Stage) -> Findings:
        async with stage.pool.acquire() as conn:
            work = await prepare(conn, "verify json header poison", orders, customers=orders // 5, tag="J")
        placed = header_poison(work, every=orders // 5)
        work.poison = [r for _, r in placed]
        await publish_interleaved(stage.settings, work, placed)
        stage.injected.append(f"{len(placed)} undecodable records (JSON/text content-type, deep JSON) among {orders}")
        env.consumer(stage.group, stage.settings)
        env.relay(stage.group, stage.settings)
        await _settle(stage, work)
        found = await _verify(stage, work)
        await _check_exact_dead_letters(stage, work, found)
        return found

    return await _scenario(env, env.shared, "JSON-header poison", body)


async def _check_exact_dead_letters(stage: Stage, work: Workload, found: Findings) -> None:
    got = Counter(r.headers.get("x-reason-code", b"").decode() for r in await checks.dead_letters(stage.settings))
    want = Counter(p.reason for p in work.poison)
    if got != want:
        found.problems.append(f"dead letters {dict(got)}, expected {dict(want)}")


SPLIT_POISON = "XSPLIT"
# A database-side fault for one order only: the batch holding it fails as a whole and is split, record by record.
_SPLIT_TRAP = f"""
CREATE OR REPLACE FUNCTION verify_split_trap() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_sleep(0.5);
    RAISE EXCEPTION 'verify: order % refused by a trap', NEW.order_no;
END $$;
CREATE OR REPLACE TRIGGER verify_split_trap BEFORE INSERT OR UPDATE ON orders FOR EACH ROW
    WHEN (NEW.order_no = '{SPLIT_POISON}') EXECUTE FUNCTION verify_split_trap();
"""
SPLITTING = "applying its records one by one"


async def run_kill_during_split(env: VerifyEnv, orders: int = 1200) -> ScenarioReport:
    """SIGKILL of the consumer while it applies a failed batch record by record to isolate a poison record (one
    the database refuses); a new consumer redoes the batch: every good order once, the poison dead-lettered."""

    async def body(stage: Stage) -> Findings:
        async with stage.pool.acquire() as conn:
            work = await prepare(conn, "verify kill during split", orders, customers=orders // 5, tag="Z")
            await conn.execute(_SPLIT_TRAP)
            await expect_poison(conn, work, [SPLIT_POISON])
        poison = order_message(work.tenant_id, work.import_id, 999_100, 10, tag="X").model_copy(
            update={"order_no": SPLIT_POISON}
        )
        value = poison.model_dump_json().encode()
        work.poison = [RawRecord(message_key(work.tenant_id, SPLIT_POISON), value, PROCESSING_ERROR)]
        await publish(stage.settings, work.orders[: orders // 2], work.poison)
        await publish(stage.settings, work.orders[orders // 2 :])
        env.relay(stage.group, stage.settings)
        members = [env.consumer(stage.group, stage.settings), *env.partners.get(id(stage.group), [])]
        splitting = await eventually(
            _which_logged(members, SPLITTING), bool, 90, "the consumer splitting the poisoned batch", 0.02
        )
        first = splitting[0]  # with partners: the member that holds the poisoned partition
        at_kill = await stage.stored(work)
        first.kill()
        stage.injected.append(f"SIGKILL consumer while splitting a batch ({at_kill}/{orders} orders stored)")
        late = await _logged(first, "dead-lettering")()
        env.consumer(stage.group, stage.settings)
        try:
            await _settle(stage, work)
        finally:
            async with stage.pool.acquire() as conn:
                await conn.execute("DROP TRIGGER IF EXISTS verify_split_trap ON orders")
        found = await _verify(stage, work)
        await _check_poison_dead_lettered(stage, found)
        if late:
            found.problems.append("the kill landed after the split had finished: it proved nothing")
        return found

    return await _scenario(env, env.shared, "SIGKILL during split", body)


def _which_logged(processes: Sequence[Any], text: str) -> Callable[[], Awaitable[list[Any]]]:
    async def probe() -> list[Any]:
        return [p for p in processes if await _logged(p, text)()]

    return probe


def _logged(process: Any, text: str) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        return process.log.exists() and text in process.log.read_text(errors="replace")

    return probe


async def _check_poison_dead_lettered(stage: Stage, found: Findings) -> None:
    letters = await checks.dead_letters(stage.settings)
    reasons = Counter(r.headers.get("x-reason-code", b"").decode() for r in letters)
    offsets = {r.headers.get("x-original-offset") for r in letters}
    if reasons.get(PROCESSING_ERROR, 0) < 1 or set(reasons) != {PROCESSING_ERROR} or len(offsets) != 1:
        found.problems.append(f"dead letters {dict(reasons)} (original offsets {sorted(map(str, offsets))})")
    if any(b"trap" in r.headers.get("x-reason", b"") for r in letters):
        found.problems.append("the database's text reached x-reason (it belongs in x-exception)")
    if not all(b"trap" in r.headers.get("x-exception", b"") for r in letters):
        found.problems.append("a processing_error dead letter lacks the database's text in x-exception")


SHARED_SCENARIOS = (
    run_consumer_crash,
    run_relay_crash,
    run_poison_messages,
    run_json_header_poison,
    run_kill_during_split,
    run_rebalance,
    run_oversized_event,
)
RESTART_SCENARIOS = (run_broker_restart, run_postgres_restart)
