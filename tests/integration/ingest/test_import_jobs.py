"""Import jobs whose upload died mid-publish are failed with a reason, never left 'queued' forever."""

from __future__ import annotations

import uuid
from datetime import timedelta
from uuid import UUID

import asyncpg

from services.ingest.adapters import import_jobs
from services.ingest.adapters.import_jobs import NewImport


async def new_job(pool: asyncpg.Pool, tenant_id: UUID, published: int, age_minutes: int) -> UUID:
    job_id = uuid.uuid4()
    async with pool.acquire() as conn:
        await import_jobs.record_import(
            conn, NewImport(tenant_id, job_id, "f.xlsx", "partial", "UTC", 10, 10, 0, 5, 0, [], []), []
        )
        await import_jobs.mark_published(conn, tenant_id, job_id, published)
        await conn.execute(
            "UPDATE imports SET created_at = now() - make_interval(mins => $2) WHERE id = $1", job_id, age_minutes
        )
    return job_id


async def test_only_old_jobs_short_of_their_orders_are_failed(pool: asyncpg.Pool, tenant_id: UUID) -> None:
    interrupted = await new_job(pool, tenant_id, published=2, age_minutes=30)
    recent = await new_job(pool, tenant_id, published=0, age_minutes=1)
    published = await new_job(pool, tenant_id, published=5, age_minutes=30)
    async with pool.acquire() as conn:
        await import_jobs.fail_interrupted(conn, timedelta(minutes=15))
        states = {
            j: (await import_jobs.get_import(conn, tenant_id, j) or {})["state"]
            for j in (interrupted, recent, published)
        }
        failure = (await import_jobs.get_import(conn, tenant_id, interrupted) or {})["failure"]
    assert states == {interrupted: "failed", recent: "processing", published: "processing"}
    assert "upload the file again" in failure
