"""Import jobs: the upload's record, its rows (for the result workbook) and counters that move as orders land.

Counting goes through `import_orders` (one row per import and order, inserted once): a redelivered batch finds its
rows already there and counts nothing twice. Only orders the import published count (its `queued` rows name
them): a record naming an import it does not belong to is applied but counts toward nothing.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, NamedTuple
from uuid import UUID

import orjson

from services.ingest.adapters import sql
from services.ingest.domain.progress import (
    DEAD_LETTERED,
    ImportCounts,
    ImportState,
    RecordedOutcome,
    import_progress,
    import_state,
)

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
    warnings: list[dict[str, Any]] = field(default_factory=list)  # every warning, file-level ones with row None
    refused: bool = False  # a strict import refused (nothing published), recorded with its rows, failed
    failure: str | None = None

    @property
    def state(self) -> ImportState:
        if self.refused:
            return ImportState.FAILED
        return import_state(ImportCounts(ImportState.QUEUED, self.orders_total, 0, 0, 0, 0, self.rows_invalid))


class ImportRow(NamedTuple):
    """One uploaded row as recorded (a tuple: an upload makes up to 5,000 of them, a dataclass costs ten times as
    much to build)."""

    row_no: int
    order_no: str | None
    cells: list[str]
    outcome: str  # invalid | held_back | queued | not_published (publishing failed)
    issues: str  # the row's errors
    warnings: str = ""
    error_columns: tuple[str, ...] = ()  # headers (as the file spells them) of the cells in error


def queued_rows(order_nos: Sequence[str], first_row: int = 2) -> list[ImportRow]:
    """One queued row per order no.: the rows of a job whose orders are published by another means (scenarios)."""
    return [ImportRow(i, n, [n], "queued", "") for i, n in enumerate(order_nos, start=first_row)]


@dataclass(frozen=True)
class RowColumns:
    """A job's rows as the lines of their COPY (text format) without the tenant and import columns, cells already
    JSON: encoded once, off the event loop."""

    row_nos: list[int]
    lines: list[bytes]


# A row's cells as compact JSON, non-ASCII as is: orjson writes exactly what `json.dumps(cells, ensure_ascii=False,
# separators=(",", ":"))` writes for a list of texts (tested), in a tenth of the time; the json module stays the
# fallback for a text orjson refuses (a lone surrogate, which the UTF-8 encoding below refuses anyway).
_json_cells = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _encode_cells(cells: list[str]) -> str:
    try:
        return orjson.dumps(cells).decode()
    except TypeError:
        return _json_cells(cells)


ROW_COLUMNS = (
    *("tenant_id", "import_id", "row_no", "order_no", "cells"),
    *("outcome", "issues", "warnings", "error_columns"),
)
# COPY's text format: a backslash, tab, newline or carriage return inside a value is escaped; \N is NULL. A row's
# values are joined by NUL first (no stored text holds one: PostgreSQL refuses it), escaped only when a value needs
# it (four single-character searches per row, cheaper than one regular expression), then NUL becomes the tab that
# separates them.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_NULL = "\x00\\N\x00"


def _array_literal(items: Sequence[str]) -> str:
    """A text[] literal: every element quoted, its backslashes and quotes escaped."""
    if not items:
        return "{}"
    quoted = ('"' + item.replace("\\", "\\\\").replace('"', '\\"') + '"' for item in items)
    return "{" + ",".join(quoted) + "}"


def _copy_line(row: ImportRow) -> bytes:
    cells, columns = _encode_cells(row.cells), _array_literal(row.error_columns)
    values = (str(row.row_no), row.order_no or "", cells, row.outcome, row.issues, row.warnings, columns)
    line = "\x00".join(values)
    if line.count("\x00") != len(values) - 1:
        raise ValueError(f"row {row.row_no} holds a NUL character, which PostgreSQL cannot store")
    if "\\" in line or "\t" in line or "\n" in line or "\r" in line:
        line = line.translate(_COPY_ESCAPES)
    if row.order_no is None:  # the only nullable value, second in the line
        line = line.replace("\x00\x00", _NULL, 1)
    return line.replace("\x00", "\t").encode()


def row_columns(rows: Sequence[ImportRow]) -> RowColumns:
    """Pure CPU work (a JSON document and a COPY line per row): callers with many rows run it on a worker thread."""
    return RowColumns([r.row_no for r in rows], list(map(_copy_line, rows)))


async def record_import(conn: Conn, job: NewImport, rows: Sequence[ImportRow] | RowColumns) -> None:
    await conn.execute(
        sql.INSERT_IMPORT,
        job.tenant_id,
        job.import_id,
        job.filename,
        job.mode,
        job.timezone,
        job.state,
        job.rows_total,
        job.rows_valid,
        job.rows_invalid,
        job.orders_total,
        job.orders_held_back,
        job.header,
        job.first_errors,
        job.warnings,
        job.failure,
        job.state.terminal,
    )
    await record_rows(conn, job.tenant_id, job.import_id, rows)


async def record_rows(conn: Conn, tenant_id: UUID, import_id: UUID, rows: Sequence[ImportRow] | RowColumns) -> None:
    """One COPY of every row (the lines were encoded beforehand; here each only gets the job's two keys)."""
    columns = rows if isinstance(rows, RowColumns) else row_columns(rows)
    if columns.row_nos:
        keys = f"{tenant_id}\t{import_id}\t".encode()
        payload = keys + (b"\n" + keys).join(columns.lines) + b"\n"
        await conn.copy_to_table("import_rows", source=io.BytesIO(payload), columns=ROW_COLUMNS, format="text")


async def mark_published(conn: Conn, tenant_id: UUID, import_id: UUID, published: int) -> None:
    async with conn.transaction():
        await _store_states(conn, await conn.fetch(sql.MARK_IMPORT_PUBLISHED, tenant_id, import_id, published))


async def _store_states(conn: Conn, rows: Sequence[Any]) -> None:
    """Store the state `import_state` gives each import of `rows` (IMPORT_COUNTS, returned by the statement that
    moved its counters in this transaction) where it differs from the stored one."""
    moved = []
    for r in rows:
        stored = ImportState(r["state"])
        counts = ImportCounts(
            stored,
            r["orders_total"],
            r["orders_published"],
            r["orders_processed"],
            r["dead_lettered"],
            r["rejected"],
            r["rows_invalid"],
        )
        state = import_state(counts)
        if state is not stored:
            moved.append((r["tenant_id"], r["id"], state))
    if moved:
        await conn.execute(
            sql.SET_IMPORT_STATES,
            [m[0] for m in moved],
            [m[1] for m in moved],
            [m[2].value for m in moved],
            [m[2].terminal for m in moved],
        )


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


# ADVANCE_IMPORTS's parameters after the keys, in order
PROGRESS_COUNTERS = ("processed", "created", "updated", "unchanged", "stale_status", "dead_lettered", "rejected")


@dataclass(frozen=True)
class OrderResult:
    tenant_id: UUID
    import_id: UUID
    order_no: str
    outcome: str  # created | updated | unchanged | stale_status | rejected | dead_lettered
    detail: str = ""


async def count_results(conn: Conn, results: Sequence[OrderResult]) -> None:
    """Record each order's outcome once per import, for the orders each import published, and advance the
    imports' counters and states. An applied outcome supersedes a recorded dead letter (counted once, as applied).
    Within `results` too, an order's first outcome is kept, unless it is a dead letter and another is applied: one
    record of an import sent twice (on two partitions) and both in one batch is `created`, then `unchanged`."""
    unique: dict[tuple[UUID, UUID, str], OrderResult] = {}
    for r in results:
        key = (r.tenant_id, r.import_id, r.order_no)
        kept = unique.get(key)
        if kept is None or (kept.outcome == DEAD_LETTERED and r.outcome != DEAD_LETTERED):
            unique[key] = r
    if not unique:
        return
    rows = sorted(unique.values(), key=lambda r: (r.tenant_id, r.import_id, r.order_no))
    inserted = await conn.fetch(
        sql.RECORD_IMPORT_ORDERS,
        [r.tenant_id for r in rows],
        [r.import_id for r in rows],
        [r.order_no for r in rows],
        [r.outcome for r in rows],
        [r.detail for r in rows],
    )
    recorded = [RecordedOutcome(r["tenant_id"], r["import_id"], r["outcome"], r["superseded"]) for r in inserted]
    progress = import_progress(recorded)
    if not progress:
        return
    columns = ("tenant_id", "import_id", *PROGRESS_COUNTERS)
    await _store_states(
        conn, await conn.fetch(sql.ADVANCE_IMPORTS, *([getattr(p, c) for p in progress] for c in columns))
    )


async def get_import(conn: Conn, tenant_id: UUID, import_id: UUID) -> dict[str, Any] | None:
    row = await conn.fetchrow(sql.IMPORT_BY_ID, tenant_id, import_id)
    return dict(row) if row else None


@dataclass(frozen=True, slots=True)
class RowOutcome:
    """One uploaded row as the result workbooks show it: its cells, final outcome, errors and warnings (translated
    at the edge), the cells in error, and the order's outcome detail."""

    row_no: int
    cells: list[str]
    outcome: str
    issues: list[dict[str, Any]]  # row, column, code, message, value (translated at the edge)
    legacy_issues: str  # rows recorded before issues were stored as JSON: their text as it was
    detail: str
    warnings: list[dict[str, Any]]
    error_columns: list[str]


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
        RowOutcome(
            r["row_no"],
            r["cells"],
            r["outcome"],
            *decode_issues(r["issues"] or ""),
            r["detail"],
            decode_issues(r["warnings"] or "")[0],
            list(r["error_columns"] or []),
        )
        for r in rows
    ]
