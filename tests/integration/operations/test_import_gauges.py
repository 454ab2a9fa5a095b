"""The API's imports gauges: active imports by state, and the ones without progress for too long (stuck)."""

from __future__ import annotations

import asyncio
import uuid
from uuid import UUID

import asyncpg

from services.ingest.adapters import import_jobs
from services.ingest.adapters.import_jobs import NewImport
from services.ingest.entrypoints.http.health import count_imports
from services.platform.observability import Metrics, Process
from tests.support.waiting import eventually


def gauge(metrics: Metrics, sample: str) -> float:
    lines = [line for line in metrics.exposition().decode().splitlines() if line.startswith(sample + " ")]
    return float(lines[0].split()[-1]) if lines else -1.0


async def test_an_import_without_progress_counts_as_stuck(pool: asyncpg.Pool, tenant_id: UUID) -> None:
    metrics, stop = Metrics(process=Process.API), asyncio.Event()
    # stuck after an hour: no other test's import of this session gets there while this one runs
    counting = asyncio.create_task(count_imports(pool, metrics, 3600, 0.1, stop))

    async def stuck_now() -> float:
        return gauge(metrics, "orderinfo_imports_stuck")

    try:
        stuck = await eventually(stuck_now, lambda n: n >= 0)
        fresh, old = uuid.uuid4(), uuid.uuid4()
        async with pool.acquire() as conn:
            for import_id in (fresh, old):
                job = NewImport(tenant_id, import_id, "x.xlsx", "partial", "UTC", 1, 1, 0, 1, 0, [], [])
                await import_jobs.record_import(conn, job, import_jobs.queued_rows(["A1"]))
            await conn.execute(
                "UPDATE imports SET state = 'processing', updated_at = now() - interval '1 day' WHERE id = $1", old
            )
        await eventually(lambda: asyncio.sleep(0, gauge(metrics, "orderinfo_imports_stuck")), lambda n: n == stuck + 1)
        assert gauge(metrics, 'orderinfo_imports_active{state="processing"}') >= 1
        assert gauge(metrics, 'orderinfo_imports_active{state="queued"}') >= 1
    finally:
        stop.set()
        await counting
