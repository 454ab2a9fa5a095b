"""Import jobs: the upload's record, its rows (for the result workbook) and counters that move as orders land.

Counting goes through `import_orders` (one row per import and order, inserted once): a redelivered batch finds its
rows already there and counts nothing twice. Only orders the import published count (its `queued` rows name
them): a record naming an import it does not belong to is applied but counts toward nothing.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

from services.ingest.adapters import sql

Conn = Any


@dataclass(frozen=True)
class NewImport:
    tenant_id: UUID
    import_id: UUID
    filename: str
    mode: str
    timezone: str
    rows_total: int
    rows_valid: int
    rows_invalid: int
    orders_total: int
    orders_held_back: int
    header: list[str]
    first_errors: list[dict[str, Any]]


@dataclass(frozen=True)
class ImportRow:
    row_no: int
    order_no: str | None
    cells: list[str]
    outcome: str  # invalid | held_back | queued | not_published (publishing failed)
    issues: str


def queued_rows(order_nos: Sequence[str], first_row: int = 2) -> list[ImportRow]:
    """One queued row per order no.: the rows of a job whose orders are published by another means (scenarios)."""
    return [ImportRow(i, n, [n], "queued", "") for i, n in enumerate(order_nos, start=first_row)]


@dataclass(frozen=True)
class RowColumns:
    """A job's rows as the columns of their insert, cells already JSON: encoded once, off the event loop."""

    row_nos: list[int]
    order_nos: list[str | None]
    cells: list[str]
    outcomes: list[str]
    issues: list[str]


def row_columns(rows: Sequence[ImportRow]) -> RowColumns:
    """Pure CPU work (a JSON document per row): callers with many rows run it on a worker thread."""
    return RowColumns(
        [r.row_no for r in rows],
        [r.order_no for r in rows],
        [json.dumps(r.cells, ensure_ascii=False) for r in rows],
        [r.outcome for r in rows],
        [r.issues for r in rows],
    )


async def record_import(conn: Conn, job: NewImport, rows: Sequence[ImportRow] | RowColumns) -> None:
    await conn.execute(
        sql.INSERT_IMPORT,
        job.tenant_id,
        job.import_id,
        job.filename,
        job.mode,
        job.timezone,
        "queued",
        job.rows_total,
        job.rows_valid,
        job.rows_invalid,
        job.orders_total,
        job.orders_held_back,
        job.header,
        job.first_errors,
    )
    await record_rows(conn, job.tenant_id, job.import_id, rows)
    if job.orders_total == 0:
        await conn.execute(sql.COMPLETE_EMPTY_IMPORT, job.tenant_id, job.import_id)


async def record_rows(conn: Conn, tenant_id: UUID, import_id: UUID, rows: Sequence[ImportRow] | RowColumns) -> None:
    columns = rows if isinstance(rows, RowColumns) else row_columns(rows)
    if columns.row_nos:
        await conn.execute(
            sql.INSERT_IMPORT_ROWS,
            tenant_id,
            import_id,
            columns.row_nos,
            columns.order_nos,
            columns.cells,
            columns.outcomes,
            columns.issues,
        )


async def mark_published(conn: Conn, tenant_id: UUID, import_id: UUID, published: int) -> None:
    await conn.execute(sql.MARK_IMPORT_PUBLISHED, tenant_id, import_id, published)


async def mark_failed(conn: Conn, tenant_id: UUID, import_id: UUID, reason: str) -> None:
    await conn.execute(sql.FAIL_IMPORT, tenant_id, import_id, reason)


async def mark_publish_failed(
    conn: Conn, tenant_id: UUID, import_id: UUID, published: int, unpublished: Sequence[str], reason: str
) -> None:
    """Fail an import whose publishing stopped short: `published` orders were acknowledged, `unpublished` not."""
    await conn.execute(sql.FAIL_IMPORT_PUBLISHING, tenant_id, import_id, reason, published)
    await conn.execute(sql.MARK_ROWS_NOT_PUBLISHED, tenant_id, import_id, list(unpublished))


async def fail_interrupted(conn: Conn, older_than: timedelta) -> int:
    """Mark failed the imports whose upload died before publishing all their orders (never answered 202)."""
    return len(await conn.fetch(sql.FAIL_INTERRUPTED_IMPORTS, older_than))


async def import_owners(conn: Conn, import_ids: Sequence[UUID]) -> dict[UUID, UUID]:
    """import id -> owning tenant, for the given ids that exist."""
    if not import_ids:
        return {}
    return {r["id"]: r["tenant_id"] for r in await conn.fetch(sql.IMPORT_OWNERS, sorted(set(import_ids)))}


@dataclass(frozen=True)
class OrderResult:
    tenant_id: UUID
    import_id: UUID
    order_no: str
    outcome: str  # created | updated | unchanged | stale_status | rejected | dead_lettered
    detail: str = ""


async def count_results(conn: Conn, results: Sequence[OrderResult]) -> None:
    """Record each order's outcome once per import, for the orders each import published, and advance the
    imports' counters and states. An applied outcome supersedes a recorded dead letter (counted once, as applied)."""
    unique = {(r.tenant_id, r.import_id, r.order_no): r for r in results}
    if not unique:
        return
    rows = sorted(unique.values(), key=lambda r: (r.tenant_id, r.import_id, r.order_no))
    inserted = await conn.fetch(
        sql.RECORD_IMPORT_ORDERS,
        [r.tenant_id for r in rows], [r.import_id for r in rows], [r.order_no for r in rows],
        [r.outcome for r in rows], [r.detail for r in rows],
    )  # fmt: skip
    counts: Counter[tuple[UUID, UUID, str]] = Counter((r["tenant_id"], r["import_id"], r["outcome"]) for r in inserted)
    jobs = sorted({(t, i) for t, i, _ in counts})
    if not jobs:
        return

    def column(outcome: str) -> list[int]:
        return [counts[(t, i, outcome)] for t, i in jobs]

    superseded = Counter((r["tenant_id"], r["import_id"]) for r in inserted if r["superseded"])
    dead = [n - superseded[job] for n, job in zip(column("dead_lettered"), jobs, strict=True)]
    applied = ("created", "updated", "unchanged", "stale_status", "rejected")  # processed by the consumer
    processed = [sum(counts[(t, i, o)] for o in applied) for t, i in jobs]
    await conn.execute(
        sql.ADVANCE_IMPORTS, [t for t, _ in jobs], [i for _, i in jobs], processed, column("created"),
        column("updated"), column("unchanged"), column("stale_status"), dead, column("rejected"),
    )  # fmt: skip


async def get_import(conn: Conn, tenant_id: UUID, import_id: UUID) -> dict[str, Any] | None:
    row = await conn.fetchrow(sql.IMPORT_BY_ID, tenant_id, import_id)
    return dict(row) if row else None


async def list_imports(conn: Conn, tenant_id: UUID, limit: int) -> list[dict[str, Any]]:
    return [dict(r) for r in await conn.fetch(sql.LIST_IMPORTS, tenant_id, limit)]


@dataclass(frozen=True)
class RowOutcome:
    """One uploaded row as the result workbook shows it: its cells, final outcome, issues and the order's detail."""

    row_no: int
    cells: list[str]
    outcome: str
    issues: list[dict[str, Any]]  # row, column, code, message, value (translated at the edge)
    legacy_issues: str  # rows recorded before issues were stored as JSON: their text as it was
    detail: str


def encode_issues(found: Sequence[Any]) -> str:
    """A row's issues as stored (JSON, so the edge can word them in the reader's language); "" for none."""
    if not found:
        return ""
    return json.dumps(
        [{"row": i.row, "column": i.column, "code": i.code, "message": i.message, "value": i.value} for i in found],
        ensure_ascii=False,
    )


def decode_issues(text: str) -> tuple[list[dict[str, Any]], str]:
    """Stored issues: (JSON issues, "") or, for rows recorded as plain text, ([], the text)."""
    if text.startswith("[{"):
        try:
            decoded = json.loads(text)
        except ValueError:
            return [], text
        if isinstance(decoded, list) and all(isinstance(i, dict) for i in decoded):
            return decoded, ""
    return [], text


async def row_outcomes(conn: Conn, tenant_id: UUID, import_id: UUID) -> list[RowOutcome]:
    rows = await conn.fetch(sql.IMPORT_ROW_OUTCOMES, tenant_id, import_id)
    return [
        RowOutcome(r["row_no"], r["cells"], r["outcome"], *decode_issues(r["issues"] or ""), r["detail"]) for r in rows
    ]
