"""The foundation works end to end: the real broker keeps committed offsets per group, PostgreSQL keeps rows."""

from __future__ import annotations

import uuid

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from services.platform.migrations import available, migrate
from services.platform.settings import ConnectionSettings
from services.platform.topics import TopicSpec, delete_topics_with_prefix, ensure_topics


async def _consume(bootstrap: str, topic: str, group: str, count: int) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        got: list[bytes] = []
        while len(got) < count:
            batch = await consumer.getmany(timeout_ms=10_000)
            assert batch, "no records arrived within 10 s"
            for records in batch.values():
                got.extend(r.value for r in records if r.value is not None)
        await consumer.commit()
        return got
    finally:
        await consumer.stop()


async def test_group_resumes_after_its_committed_offset(connection_settings: ConnectionSettings) -> None:
    topic = connection_settings.topic(f"smoke.{uuid.uuid4().hex[:6]}")
    bootstrap = connection_settings.kafka_bootstrap_servers
    created = await ensure_topics(bootstrap, [TopicSpec(topic, partitions=2)], default_partitions=1)
    assert created == [topic]
    assert await ensure_topics(bootstrap, [TopicSpec(topic, partitions=2)], default_partitions=1) == []

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        for i in range(4):
            await producer.send_and_wait(topic, f"first-{i}".encode(), key=f"k{i}".encode())
        group = f"smoke-{uuid.uuid4().hex[:6]}"
        assert sorted(await _consume(bootstrap, topic, group, 4)) == [f"first-{i}".encode() for i in range(4)]
        for i in range(2):
            await producer.send_and_wait(topic, f"second-{i}".encode(), key=f"k{i}".encode())
        # the same group starts after what it committed: only the new records
        assert sorted(await _consume(bootstrap, topic, group, 2)) == [b"second-0", b"second-1"]
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        committed = [await consumer.committed(TopicPartition(topic, p)) for p in (0, 1)]
    finally:
        await consumer.stop()
    assert sum(c or 0 for c in committed) == 6


async def test_rows_round_trip_and_migrations_are_idempotent(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        assert await migrate(conn) == []  # already applied by the fixture
        applied = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        assert applied == {m.version for m in available()}
        tenant = uuid.uuid4()
        await conn.execute(
            "INSERT INTO tenants (id, name, api_key_hash) VALUES ($1, $2, $3)", tenant, "smoke 测试 🚀", b"x" * 32
        )
        row = await conn.fetchrow("SELECT name FROM tenants WHERE id = $1", tenant)
    assert row is not None
    assert row["name"] == "smoke 测试 🚀"


async def test_topics_of_a_prefix_are_deleted_and_only_those(connection_settings: ConnectionSettings) -> None:
    bootstrap = connection_settings.kafka_bootstrap_servers
    prefix = connection_settings.topic(f"cleanup-{uuid.uuid4().hex[:6]}.")
    keep = connection_settings.topic(f"cleanup-keep-{uuid.uuid4().hex[:6]}")
    doomed = [f"{prefix}a", f"{prefix}b"]
    await ensure_topics(bootstrap, [TopicSpec(name, partitions=1) for name in [*doomed, keep]], default_partitions=1)
    assert await delete_topics_with_prefix(bootstrap, prefix) == doomed
    with pytest.raises(ValueError):
        await delete_topics_with_prefix(bootstrap, "")
    assert await delete_topics_with_prefix(bootstrap, keep) == [keep]
