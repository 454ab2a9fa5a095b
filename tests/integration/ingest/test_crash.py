"""A consumer process killed with SIGKILL mid-import loses nothing and doubles nothing after a restart."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from uuid import UUID

import asyncpg
from aiokafka import AIOKafkaProducer

from services.ingest.adapters.import_jobs import NewImport, queued_rows, record_import
from services.ingest.contracts.orders_ingest_v1 import TOPIC, message_key
from services.ingest.main import ensure_ingest_topics
from services.ingest.settings import IngestSettings
from services.platform.settings import ConnectionSettings
from tests.support.orders import line, message
from tests.support.waiting import eventually

ORDERS = 4000


def consumer_process(settings: IngestSettings) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "ORDERINFO_DATABASE_URL": settings.database_url,
        "ORDERINFO_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "ORDERINFO_TOPIC_PREFIX": settings.topic_prefix,
        "ORDERINFO_CONSUMER_MAX_RECORDS": "100",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "services.cli", "consume"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


async def test_sigkill_mid_import_then_restart(
    connection_settings: ConnectionSettings, pool: asyncpg.Pool, tenant_id: UUID
) -> None:
    settings = IngestSettings(
        kafka_bootstrap_servers=connection_settings.kafka_bootstrap_servers,
        database_url=connection_settings.database_url,
        topic_prefix=f"{connection_settings.topic_prefix}{uuid.uuid4().hex[:6]}.",
        topic_partitions=3,
    )
    await ensure_ingest_topics(settings)
    import_id = uuid.uuid4()
    async with pool.acquire() as conn:
        job = NewImport(
            tenant_id, import_id, "crash.xlsx", "partial", "Asia/Shanghai", ORDERS * 2, ORDERS * 2, 0, ORDERS, 0, [], []
        )
        await record_import(conn, job, queued_rows([f"K{i:05d}" for i in range(ORDERS)]))
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers, enable_idempotence=True, linger_ms=5
    )
    await producer.start()
    try:
        sends = []
        for i in range(ORDERS):
            m = message(
                tenant_id,
                f"K{i:05d}",
                import_id=import_id,
                buyer={"mobile": f"139{i % 500:08d}"},
                lines=[line("A", quantity=1 + i % 3), line("B", "blue")],
            )
            sends.append(
                await producer.send(
                    settings.topic(TOPIC.name), m.model_dump_json().encode(), key=message_key(tenant_id, m.order_no)
                )
            )
        await asyncio.gather(*sends)
    finally:
        await producer.stop()

    async def stored() -> int:
        return int(await pool.fetchval("SELECT count(*) FROM orders WHERE tenant_id = $1", tenant_id))

    first = consumer_process(settings)
    try:
        at_kill = await eventually(stored, lambda n: n >= 200, within=60, interval=0.02)
        os.kill(first.pid, signal.SIGKILL)
    finally:
        first.wait(timeout=10)
    assert at_kill < ORDERS, "the consumer finished before it could be killed: raise ORDERS"

    second = consumer_process(settings)
    try:
        await eventually(stored, lambda n: n == ORDERS, within=120)
        job_row = await eventually(
            lambda: pool.fetchrow("SELECT * FROM imports WHERE tenant_id = $1 AND id = $2", tenant_id, import_id),
            lambda r: r is not None and r["state"] == "completed",
            within=60,
        )
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)
    assert (job_row["orders_processed"], job_row["created"], job_row["dead_lettered"]) == (ORDERS, ORDERS, 0)
    lines = await pool.fetchval("SELECT count(*) FROM order_lines WHERE tenant_id = $1", tenant_id)
    assert lines == 2 * ORDERS
    created_events = await pool.fetch(
        "SELECT key, count(*) AS n FROM outbox WHERE tenant_id = $1 AND event_type = 'order.created' GROUP BY key",
        tenant_id,
    )
    assert len(created_events) == ORDERS and all(r["n"] == 1 for r in created_events)
    customers = await pool.fetchval("SELECT count(*) FROM customers WHERE tenant_id = $1", tenant_id)
    assert customers == 500
    order_counts = await pool.fetchval(
        "SELECT sum((persona->>'order_count')::int) FROM customers WHERE tenant_id = $1", tenant_id
    )
    assert order_counts == ORDERS
