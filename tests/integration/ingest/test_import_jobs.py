"""Import jobs whose upload died mid-publish are failed with a reason, never left 'queued' forever."""

from __future__ import annotations

import uuid
from datetime import timedelta
from uuid import UUID

import asyncpg
import pytest

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
    assert states == {interrupted: "failed", recent: "queued", published: "processing"}  # recent: none published
    assert "upload the file again" in failure


# COPY's text format and the text[] literal each escape their own characters: every one of them round-trips.
AWKWARD = "a\\b\t\"c\"\n\r{x},y 'z' \\N NULL 中 \x1f"


async def test_rows_are_stored_exactly_as_given(pool: asyncpg.Pool, tenant_id: UUID) -> None:
    rows = [
        import_jobs.ImportRow(2, AWKWARD, [AWKWARD, "", "1"], "invalid", AWKWARD, AWKWARD, (AWKWARD, "Order No.", "")),
        import_jobs.ImportRow(3, None, ["x"], "queued", "", "", ()),
    ]
    assert await _recorded_and_read_back(pool, tenant_id, rows, valid=1) == rows


async def _recorded_and_read_back(
    pool: asyncpg.Pool, tenant_id: UUID, rows: list[import_jobs.ImportRow], valid: int
) -> list[import_jobs.ImportRow]:
    """Record an import of `rows` (with `valid` of them valid) and read its rows back as stored."""
    job_id = uuid.uuid4()
    async with pool.acquire() as conn, conn.transaction():
        job = NewImport(tenant_id, job_id, "f.xlsx", "partial", "UTC", len(rows), 1, valid, 1, 0, ["A"], [])
        await import_jobs.record_import(conn, job, import_jobs.row_columns(rows))
        stored = await conn.fetch(
            "SELECT row_no, order_no, cells, outcome, issues, warnings, error_columns FROM import_rows"
            " WHERE tenant_id = $1 AND import_id = $2 ORDER BY row_no",
            tenant_id,
            job_id,
        )
    return [
        import_jobs.ImportRow(
            r["row_no"], r["order_no"], r["cells"], r["outcome"], r["issues"], r["warnings"], tuple(r["error_columns"])
        )
        for r in stored
    ]


HOSTILE_CELLS = ["\\", "\\N", "\\.", "\\\\N", "\r\n", "\t", "\n\\.\n", "\u2028\ufeff\u0085", "NULL", "", "\\t" * 3]
HOSTILE_CELLS.append("x" * 200_000)


async def test_hostile_cells_round_trip(pool: asyncpg.Pool, tenant_id: UUID) -> None:
    """Every value of a row, one hostile text at a time (order no. empty, NULL-like or absent), stored as given."""
    rows = [
        import_jobs.ImportRow(n, text, [text, text], "invalid", text, text, (text, '"', "{", ",", "NULL"))
        for n, text in enumerate(HOSTILE_CELLS, start=2)
    ] + [import_jobs.ImportRow(len(HOSTILE_CELLS) + 2, None, ["\\N"], "queued", "\\N", "", ())]
    assert await _recorded_and_read_back(pool, tenant_id, rows, valid=len(rows) - 1) == rows


def test_a_nul_is_refused_before_the_copy() -> None:
    for row in (
        import_jobs.ImportRow(2, "A\x00", ["x"], "invalid", "", "", ()),
        import_jobs.ImportRow(2, "A", ["x"], "invalid", "bad \x00", "", ()),
        import_jobs.ImportRow(2, "A", ["x"], "invalid", "", "", ("col\x00",)),
    ):
        with pytest.raises(ValueError, match="NUL"):
            import_jobs.row_columns([row])
