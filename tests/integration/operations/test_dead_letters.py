"""Dead letters on the real broker: listed by reason, tenant and time; replayed once after their cause is fixed,
with the headers their producer sent; the admin API shows a tenant only its own letters; reads are bounded and
return at once on an empty topic."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
import httpx

from services.core import bounds
from services.ingest.adapters import dead_letter_topic
from services.ingest.adapters.tenants import create_tenant
from services.ingest.application import dead_letters
from services.ingest.contracts.orders_ingest_v1 import DEAD_LETTER_BYTES, DLQ_TOPIC, TOPIC, message_key
from services.ingest.domain.dead_letters import HEADERS_DROPPED, DeadLetter, LetterFilter, headers_bytes
from services.ingest.main import create_app, ensure_ingest_topics
from services.ingest.settings import IngestSettings
from services.platform.settings import ConnectionSettings
from services.platform.topics import partitions_of
from tests.integration.ingest.live import fresh_settings, running_consumer, send_batched, send_raw
from tests.support.orders import message
from tests.support.waiting import eventually


def order_record(tenant: UUID, order_no: str) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    value = message(tenant, order_no).model_dump_json().encode()
    return message_key(tenant, order_no), value, [("traceparent", b"00-abc-def-01")]


async def letters(settings: IngestSettings, pool: asyncpg.Pool, where: LetterFilter) -> dead_letters.Listing:
    return await dead_letters.list_letters(settings, pool, where, 1000)


async def stored(pool: asyncpg.Pool, tenant: UUID) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        return await conn.fetch("SELECT order_no, version FROM orders WHERE tenant_id = $1", tenant)


async def test_a_dead_letter_replayed_after_its_cause_is_fixed_lands_once(
    connection_settings: ConnectionSettings, pool: asyncpg.Pool, tenant_id: UUID
) -> None:
    settings = fresh_settings(connection_settings)
    late = uuid.uuid4()  # a tenant provisioned after its first orders arrived: the cause an operator fixes
    async with running_consumer(settings, pool):
        await send_raw(settings, [order_record(late, "LATE-1"), (message_key(tenant_id, "BAD"), b"{nope", [])])
        everything = LetterFilter()
        await eventually(lambda: letters(settings, pool, everything), lambda found: len(found.letters) == 2)

        unknown = LetterFilter(reason="unknown_tenant")
        listing = await letters(settings, pool, unknown)
        assert [x.tenant_id for x in listing.letters] == [late] and listing.by_reason == {"unknown_tenant": 1}
        assert (await letters(settings, pool, everything)).by_reason == {"invalid_json": 1, "unknown_tenant": 1}
        assert [x.reason for x in (await letters(settings, pool, LetterFilter(tenant_id=tenant_id))).letters] == [
            "invalid_json"
        ]

        dry = await dead_letters.replay(settings, pool, unknown, 1000, by="test", dry_run=True)
        assert len(dry.replayed) == 1 and dry.skipped == []
        async with pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO tenants (id, name, api_key_hash) VALUES ($1, 'late', $2)", late, secrets.token_bytes(32)
            )
        done = await dead_letters.replay(settings, pool, unknown, 1000, by="test")
        assert len(done.replayed) == 1
        await eventually(lambda: stored(pool, late), lambda rows: len(rows) == 1)

        again = await dead_letters.replay(settings, pool, unknown, 1000, by="test")
        assert again.replayed == [] and len(again.skipped) == 1
        forced = await dead_letters.replay(settings, pool, unknown, 1000, by="test", force=True)
        assert len(forced.replayed) == 1
        await eventually(lambda: ingest_end(settings), lambda end: end == 4)  # 2 sent, 2 replays: no third
        async with pool.acquire() as conn:
            replays = await conn.fetchval("SELECT replays FROM dead_letter_replays WHERE tenant_id = $1", late)
        assert replays == 2
    assert [tuple(r) for r in await stored(pool, late)] == [("LATE-1", 1)]  # the forced copy changed nothing
    assert len((await letters(settings, pool, everything)).letters) == 2  # nothing dead-lettered again


async def ingest_records(settings: IngestSettings, key: bytes) -> list[DeadLetter]:
    """The records of `key` on the ingest topic, with every header (duplicates and null values too)."""
    topic = settings.topic(TOPIC.name)
    bootstrap = settings.kafka_bootstrap_servers
    scan = await dead_letter_topic.read_letters(bootstrap, topic, 100, keep=lambda x: x.key == key)
    return sorted(scan.letters, key=lambda x: x.offset)


async def test_a_letter_keeps_the_records_headers_and_a_replay_sends_them_as_they_were_sent(
    connection_settings: ConnectionSettings, pool: asyncpg.Pool
) -> None:
    settings = fresh_settings(connection_settings)
    late = uuid.uuid4()
    key, value, _ = order_record(late, "H-1")
    sent: list[tuple[str, bytes | None]] = [
        ("traceparent", b"00-abc-def-01"),
        ("x-reason-code", b"forged"),  # a producer's header named as a dead-letter one
        ("x-original-topic", b"elsewhere"),
        ("x-producer-id", b"mall-7"),
        ("traceparent", b"00-abc-def-02"),  # the same name twice
        ("empty", None),  # a null value
        ("binary", bytes(range(256))),
    ]
    mine = LetterFilter(tenant_id=late)
    async with running_consumer(settings, pool):
        await send_raw(settings, [(key, value, sent)])  # type: ignore[list-item]  # aiokafka takes null values
        (letter,) = (await eventually(lambda: letters(settings, pool, mine), lambda x: len(x.letters) == 1)).letters
        assert letter.reason == "unknown_tenant" and letter.header("x-original-topic") == settings.topic(TOPIC.name)
        assert letter.header("x-producer-x-reason-code") == "forged"  # kept, under a name that passes for nothing
        assert letter.replay_headers() == tuple(sent)
        async with pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO tenants (id, name, api_key_hash) VALUES ($1, 'late', $2)", late, secrets.token_bytes(32)
            )
        assert len((await dead_letters.replay(settings, pool, mine, 10, by="test")).replayed) == 1
        await eventually(lambda: stored(pool, late), lambda rows: len(rows) == 1)
    first, replayed = await ingest_records(settings, key)
    assert first.headers == replayed.headers == tuple(sent) and replayed.value == value


async def test_headers_too_large_for_the_letter_are_dropped_and_the_letter_still_goes_out(
    connection_settings: ConnectionSettings, pool: asyncpg.Pool
) -> None:
    """A record that fits its topic whose headers, renamed in its letter (`x-producer-...` gains the prefix once
    more), would take the letter past `DEAD_LETTER_BYTES`: the letter goes out without them, saying so, and the
    consumer moves on (kept, the letter could never be published: the batch would be redelivered for ever)."""
    settings = fresh_settings(connection_settings, partitions=1)
    tenant = uuid.uuid4()
    headers: list[tuple[str, bytes | None]] = [(f"x-producer-{n:05d}", None) for n in range(8000)]
    value = b"x" * (bounds.MAX_MESSAGE_BYTES - 8000 * 18 - 4096)  # not JSON; the record just fits its topic
    assert len(value) + 8000 * (18 + 11) > DEAD_LETTER_BYTES
    key, after_value, _ = order_record(tenant, "H-2")
    async with running_consumer(settings, pool):
        await send_raw(settings, [(message_key(tenant, "H-1"), value, headers), (key, after_value, [])])  # type: ignore[list-item]
        found = await eventually(
            lambda: letters(settings, pool, LetterFilter(tenant_id=tenant)), lambda x: len(x.letters) == 2, within=60
        )
    big, after = found.letters
    assert big.reason == "invalid_json" and big.value == value and after.reason == "unknown_tenant"
    assert big.header(HEADERS_DROPPED) == f"too_large: 8000 headers of {headers_bytes(tuple(headers))} bytes"
    assert big.replay_headers() == () and not any(k.startswith("x-producer-") for k, _ in big.headers)


async def ingest_end(settings: IngestSettings) -> int:
    """Records on the ingest topic (the sum of its partitions' end offsets)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    topic = settings.topic(TOPIC.name)
    partitions = [TopicPartition(topic, p) for p in await partitions_of(settings.kafka_bootstrap_servers, topic)]
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await consumer.start()
    try:
        return sum((await consumer.end_offsets(partitions)).values())
    finally:
        await consumer.stop()


async def put_letter(settings: IngestSettings, tenant: UUID, order_no: str, reason: str) -> None:
    """A letter as the consumer writes it (straight onto the dead-letter topic)."""
    headers = [("x-reason-code", reason.encode()), ("x-reason", b"why"), ("x-original-offset", b"7")]
    key, value, _ = order_record(tenant, order_no)
    await send_batched(settings, DLQ_TOPIC.name, [(key, value, headers)])


async def test_the_admin_api_shows_and_replays_only_the_callers_letters(
    connection_settings: ConnectionSettings, pool: asyncpg.Pool
) -> None:
    settings = fresh_settings(connection_settings)
    await ensure_ingest_topics(settings)
    async with pool.acquire() as conn:
        (a, key_a), (b, _) = await create_tenant(conn, "a"), await create_tenant(conn, "b")
    before = datetime.now(UTC) - timedelta(seconds=5)
    for tenant, order_no, reason in (
        (a.id, "A1", "ambiguous_sku"),
        (a.id, "A2", "too_many_lines"),
        (b.id, "B1", "ambiguous_sku"),
    ):
        await put_letter(settings, tenant, order_no, reason)
    app = create_app(settings)
    app.state.pool = pool
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api", headers={"X-API-Key": key_a}) as api:
        listed = (await api.get("/v1/admin/dead-letters")).json()
        assert listed["matching"] == 2 and listed["by_reason"] == {"ambiguous_sku": 1, "too_many_lines": 1}
        assert {x["key"] for x in listed["letters"]} == {f"{a.id}:A1", f"{a.id}:A2"}
        later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        assert (await api.get("/v1/admin/dead-letters", params={"since": later})).json()["matching"] == 0
        assert (await api.get("/v1/admin/dead-letters", params={"since": before.isoformat()})).json()["matching"] == 2
        naive = await api.get("/v1/admin/dead-letters", params={"since": "2026-12-01T08:00:00"})
        assert naive.status_code == 422 and naive.json()["code"] == "time_without_offset"

        body = {"reason": "ambiguous_sku"}
        dry = (await api.post("/v1/admin/dead-letters:replay", json=body | {"dry_run": True})).json()
        assert len(dry["replayed"]) == 1 and dry["dry_run"]
        done = (await api.post("/v1/admin/dead-letters:replay", json=body)).json()
        assert len(done["replayed"]) == 1 and done["skipped"] == []
        again = (await api.post("/v1/admin/dead-letters:replay", json=body)).json()
        assert again["replayed"] == [] and len(again["skipped"]) == 1
        relisted = (await api.get("/v1/admin/dead-letters", params={"reason": "ambiguous_sku"})).json()
        assert [x["replayed"] for x in relisted["letters"]] == [True]
        assert (await api.get("/v1/admin/dead-letters", headers={"X-API-Key": "oik_wrong"})).status_code == 401
    assert await ingest_end(settings) == 1  # A1 only: B's letter of the same reason was not A's to replay


async def test_reads_are_bounded_and_return_at_once_when_there_is_nothing(
    connection_settings: ConnectionSettings, pool: asyncpg.Pool
) -> None:
    settings = fresh_settings(connection_settings)
    started = time.process_time(), time.monotonic()
    missing = await letters(settings, pool, LetterFilter())  # the topic does not even exist yet
    await ensure_ingest_topics(settings)
    empty = await letters(settings, pool, LetterFilter())
    assert missing.letters == empty.letters == [] and missing.complete and empty.complete
    assert time.monotonic() - started[1] < dead_letter_topic.READ_WITHIN_S  # no wait for the deadline
    tenant = uuid.uuid4()
    for n in range(5):
        await put_letter(settings, tenant, f"O{n}", "ambiguous_sku")
    some = await dead_letters.list_letters(settings, pool, LetterFilter(), 2)
    assert some.scanned == 2 and not some.complete
    every = await dead_letters.list_letters(settings, pool, LetterFilter(), 50)
    assert every.scanned == 5 and every.complete
    topic = settings.topic(DLQ_TOPIC.name)
    latest = await dead_letter_topic.read_letters(settings.kafka_bootstrap_servers, topic, 1, newest=True)
    last = {}
    for x in every.letters:
        last[x.partition] = max(last.get(x.partition, -1), x.offset)
    assert {(x.partition, x.offset) for x in latest.letters} == set(last.items())  # the last of each partition


async def test_the_cli_lists_and_replays_letters(connection_settings: ConnectionSettings) -> None:
    """`orderinfo dlq list|replay --json` as a process, on this session's database and a prefix of its own."""
    settings = fresh_settings(connection_settings)
    await ensure_ingest_topics(settings)
    tenant = uuid.uuid4()
    for order_no in ("C1", "C2"):
        await put_letter(settings, tenant, order_no, "unknown_tenant")
    env = os.environ | {
        "DATABASE_URL": settings.database_url,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "ORDERINFO_TOPIC_PREFIX": settings.topic_prefix,
    }

    async def dlq(*args: str) -> tuple[int, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services.cli", "dlq", *args, env=env, stdout=subprocess.PIPE
        )
        out, _ = await asyncio.wait_for(process.communicate(), 60)
        return process.returncode or 0, out.decode()

    code, out = await dlq("list", "--json", "--tenant", str(tenant))
    assert code == 0 and json.loads(out)["by_reason"] == {"unknown_tenant": 2}
    code, out = await dlq("replay", "--json", "--dry-run", "--reason", "unknown_tenant")
    assert code == 0 and len(json.loads(out)["replayed"]) == 2 and json.loads(out)["dry_run"]
    code, out = await dlq("replay", "--json", "--reason", "unknown_tenant")
    assert code == 0 and len(json.loads(out)["replayed"]) == 2
    code, out = await dlq("replay", "--reason", "unknown_tenant")
    assert code == 0 and "replayed 0; skipped 2 replayed before" in out
    code, out = await dlq("replay", "--dry-run", "--since", "yesterday")
    assert code == 2 and "--since: 'yesterday' is not an ISO 8601 time" in out
    assert await ingest_end(settings) == 2


async def test_a_broker_that_does_not_answer_is_a_503_not_a_500(
    connection_settings: ConnectionSettings, pool: asyncpg.Pool
) -> None:
    settings = fresh_settings(connection_settings, kafka_bootstrap_servers="127.0.0.1:1")  # nothing listens there
    async with pool.acquire() as conn:
        _, key = await create_tenant(conn, "no broker")
    app = create_app(settings)
    app.state.pool = pool
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api", headers={"X-API-Key": key}) as api:
        for answer in (
            await api.get("/v1/admin/dead-letters"),
            await api.post("/v1/admin/dead-letters:replay", json={}),
        ):
            assert answer.status_code == 503 and answer.json()["code"] == "broker_unavailable", answer.text
            assert answer.headers["retry-after"] == "5"


async def test_dead_letter_reads_are_bounded_per_tenant_and_in_all_with_a_localised_refusal(
    connection_settings: ConnectionSettings, pool: asyncpg.Pool
) -> None:
    """Each listing or replay reads the topic (64 MiB, 20 s): past a tenant's share a 429, past the server's slots a
    503, both with Retry-After and before anything is read; a slot is given back when the read ends."""
    settings = fresh_settings(connection_settings, max_letter_reads_in_flight=2)
    await ensure_ingest_topics(settings)
    async with pool.acquire() as conn:
        (a, key_a), (_, key_b) = await create_tenant(conn, "a"), await create_tenant(conn, "b")
    app = create_app(settings)
    app.state.pool = pool
    slots = app.state.letter_slots
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as api:
        assert (await api.get("/v1/admin/dead-letters", headers={"X-API-Key": key_a})).status_code == 200
        assert slots.in_flight == 0  # given back
        slots.take(a.id)  # a read of tenant a running: its share (1 of 2)
        for answer in (
            await api.get("/v1/admin/dead-letters", headers={"X-API-Key": key_a}),
            await api.post("/v1/admin/dead-letters:replay", json={"dry_run": True}, headers={"X-API-Key": key_a}),
        ):
            assert answer.status_code == 429 and answer.headers["retry-after"] == "5", answer.text
            assert answer.json()["code"] == "too_many_tenant_dead_letter_reads"
            assert answer.json()["detail"] == "本租户已有 1 个死信查询或重放正在进行：请在 5 秒后重试。"
        english = await api.get("/v1/admin/dead-letters", params={"lang": "en"}, headers={"X-API-Key": key_a})
        assert english.json()["detail"] == (
            "this tenant already has 1 dead-letter listings or replays running: try again in 5 s"
        )
        assert (await api.get("/v1/admin/dead-letters", headers={"X-API-Key": key_b})).status_code == 200
        slots.take(uuid.uuid4())  # a third tenant's: every slot taken
        full = await api.get("/v1/admin/dead-letters", headers={"X-API-Key": key_b, "Accept-Language": "en"})
        assert full.status_code == 503 and full.headers["retry-after"] == "5"
        assert full.json()["code"] == "too_many_dead_letter_reads"
        assert full.json()["detail"] == "2 dead-letter listings or replays are running on this server: try again in 5 s"
    assert slots.in_flight == 2  # only the two taken by hand
