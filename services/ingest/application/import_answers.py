"""What an import's callers are answered, by the API (`/v1/imports`) and the console alike: the receipt of a
submitted import, a dry run's report, a refused file's problem, an import's status and live counters, pages of the
import list, and an import's workbooks (every row with its outcome; only the rows to fix; the template), all in the
reader's language.

Workbooks are built on the download threads, at most `downloads.MAX_IN_FLIGHT` at once (past that a 503 problem),
and cached once an import is final (`application/downloads.py`).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote
from uuid import UUID

from pydantic import BaseModel, Field

from services.ingest.adapters import import_jobs, queries
from services.ingest.adapters.queries import ImportPosition
from services.ingest.application.downloads import WORKBOOKS
from services.ingest.application.imports import ImportReceipt, PublishingFailed, StrictModeRejected
from services.ingest.application.parsing import ImportFileError, SheetRow
from services.ingest.domain.erasure import MOBILE_COLUMNS, masked_cells, personal_positions
from services.ingest.domain.language import Lang, file_message, issue_out, outcome_detail, outcome_label, state_label
from services.ingest.domain.progress import ImportState
from services.ingest.errors import ApiProblem

log = logging.getLogger("orderinfo.imports")
Pool = Any
_FILE_ERROR_STATUS = {
    "file_too_large": 413,
    "archive_too_large": 413,
    "strict_mode_rejected": 422,
    "too_many_rows": 422,
    "unknown_timezone": 422,
    "order_too_large": 422,
    "workbook_too_complex": 422,
}
# Of a strict refusal's row errors (up to 25 a row, 5,000 rows): the first ones, in the API's 422 and on the
# console's page alike; the refused import's result.xlsx has them all (5,000 rows of 10 bad cells made a 13.6 MB 422)
ERRORS_LISTED = 200
LISTED_WARNINGS = 20  # per import in the list of imports; GET /v1/imports/{id} lists every one
# Final outcomes of the rows a user has to fix and upload again (the others are stored, or still on their way).
FAILED_OUTCOMES = frozenset({"invalid", "held_back", "not_published", "rejected", "dead_lettered"})
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PUBLISH_RETRY_AFTER_SECONDS = 30


@dataclass(frozen=True)
class Download:
    """A workbook to send: its bytes and its Content-Disposition (named in UTF-8, with an ASCII fallback)."""

    content: bytes
    disposition: str


class RowIssueOut(BaseModel):
    row: int | None
    column: str | None
    code: str = Field(description="Stable code of the problem (`domain/issues.py`): key scripts on it.")
    message: str = Field(description="What is wrong and what is expected, in the request's language.")
    value: str | None = None


class OutcomeCount(BaseModel):
    code: Literal["created", "updated", "unchanged", "stale_status", "rejected", "dead_lettered", "held_back"]
    label: str = Field(description="The outcome in the request's language (`stale_status`: 状态过旧（未采用）).")
    count: int


class ImportAccepted(BaseModel):
    import_id: UUID
    state: str
    rows: int
    valid_rows: int
    invalid_rows: int
    orders: int
    orders_held_back: int
    warnings: int  # as many as GET status_url lists in `warnings`
    first_errors: list[RowIssueOut]
    state_label: str = Field(description="`state` in the request's language.")
    status_url: str
    result_url: str
    failed_url: str


class PlannedOrderOut(BaseModel):
    order_no: str
    outcome: Literal["created", "updated", "unchanged", "stale_status", "rejected"]
    outcome_label: str = Field(description="`outcome` in the request's language.")
    detail: str = Field(description="What would change (lines added, updated), in the request's language.")
    customer_id: UUID | None
    customer_is_new: bool
    matched_by: str | None


class DryRunOut(BaseModel):
    dry_run: Literal[True] = True
    rows: int
    valid_rows: int
    invalid_rows: int
    orders_held_back: int
    first_errors: list[RowIssueOut]
    orders: list[PlannedOrderOut]


class ImportStatus(BaseModel):
    import_id: UUID
    filename: str
    mode: str
    timezone: str
    state: ImportState
    rows: int
    valid_rows: int
    invalid_rows: int
    orders: int
    orders_held_back: int
    orders_published: int
    orders_processed: int
    created: int
    updated: int
    unchanged: int
    stale_status: int
    rejected: int  # received but not applied as sent (why: in the result workbook)
    dead_lettered: int
    first_errors: list[RowIssueOut]
    warnings: list[RowIssueOut]  # every warning (the list of imports shows the first LISTED_WARNINGS)
    warning_count: int
    failure: str | None
    created_at: datetime
    completed_at: datetime | None
    state_label: str = Field(description="`state` in the request's language.")
    outcomes: list[OutcomeCount] = Field(
        description="The order counters above with their labels in the request's language (codes unchanged)."
    )
    result_url: str
    failed_url: str  # only the rows to fix, in the template's columns, ready to upload again


class ImportList(BaseModel):
    items: list[ImportStatus]
    next_cursor: str | None = Field(
        None, description="Pass it back as `cursor` for the next page (older imports); null on the last page."
    )


def _issues_out(found: Sequence[dict[str, Any]], lang: Lang) -> list[RowIssueOut]:
    return [RowIssueOut.model_validate(issue_out(e, lang)) for e in found]


def file_refused(exc: ImportFileError, lang: Lang) -> ApiProblem:
    """The problem answering a refused file (its status by code); what the reader said goes to the log only."""
    if exc.__cause__ is not None:
        log.info("upload refused (%s): %r", exc.code, exc.__cause__)
    detail = file_message(exc.code, exc.message, lang)
    return ApiProblem(_FILE_ERROR_STATUS.get(exc.code, 400), "Import file rejected", detail, exc.code)


def observe_import(metrics: Any, receipt: ImportReceipt) -> None:
    """Count a submitted import on the process's metrics (None: none kept)."""
    if metrics is not None:
        metrics.observe_import(receipt.state, receipt.valid_rows, receipt.invalid_rows)


def accepted_out(receipt: ImportReceipt, lang: Lang) -> ImportAccepted:
    """The 202's answer for a submitted import, in `lang`."""
    base = f"/v1/imports/{receipt.import_id}"
    return ImportAccepted(
        **{k: v for k, v in vars(receipt).items() if k != "first_errors"},
        first_errors=_issues_out(receipt.first_errors, lang),
        state_label=state_label(receipt.state, lang),
        status_url=base,
        result_url=f"{base}/result.xlsx",
        failed_url=f"{base}/failed.xlsx",
    )


def dry_run_out(report: Any, lang: Lang) -> DryRunOut:
    """The dry run's answer, in `lang`."""
    return DryRunOut(
        rows=report.rows,
        valid_rows=report.valid_rows,
        invalid_rows=report.invalid_rows,
        orders_held_back=report.orders_held_back,
        first_errors=_issues_out(report.first_errors, lang),
        orders=[
            PlannedOrderOut(
                **{**vars(o), "detail": outcome_detail(o.detail, lang)}, outcome_label=outcome_label(o.outcome, lang)
            )
            for o in report.orders
        ],
    )


def dry_run_json(report: Any, lang: Lang) -> bytes:
    return dry_run_out(report, lang).model_dump_json().encode()


def strict_refusal(exc: StrictModeRejected, lang: Lang) -> ApiProblem:
    """422 with the first `ERRORS_LISTED` row errors and their total; the refused import is recorded as failed (not
    in a dry run): where to find it, and in it every error (the result workbook)."""
    detail = file_message(exc.code, exc.message, lang)
    total, cut = len(exc.errors), len(exc.errors) > ERRORS_LISTED
    if cut:
        detail += (
            f"共 {total:,} 个错误，此处列出前 {ERRORS_LISTED} 个。"
            if lang is Lang.ZH
            else f" {total:,} errors in all; the first {ERRORS_LISTED} are listed."
        )
    if exc.import_id is not None:
        base = f"/v1/imports/{exc.import_id}"
        files = f"{base}/result.xlsx, {base}/failed.xlsx"
        detail += (
            f"该导入已记录为失败：{files}。"
            if lang is Lang.ZH
            else f" Import {exc.import_id} is recorded as failed: {files}."
        )
        if cut:
            detail += "结果工作簿列出全部错误。" if lang is Lang.ZH else " Its result workbook lists every error."
    elif cut:  # a dry run records nothing: the full list is the refused upload's result workbook
        detail += (
            "试运行不记录导入：以严格模式正式上传（不会导入任何订单），该导入会记录为失败，其结果工作簿列出全部错误。"
            if lang is Lang.ZH
            else " A dry run records nothing: uploaded for real in strict mode (nothing is imported), the file is "
            "recorded as a failed import whose result workbook lists every error."
        )
    errors = [issue_out(e, lang) for e in exc.errors[:ERRORS_LISTED]]
    return ApiProblem(
        422,
        "Import file rejected",
        detail,
        exc.code,
        errors=errors,
        import_id=exc.import_id,
        errors_total=total,
        errors_truncated=cut,
    )


def publishing_refused(exc: PublishingFailed) -> ApiProblem:
    """503 with Retry-After: the import is recorded as failed; its status and result workbook say which orders
    were published."""
    return ApiProblem(
        503,
        "Import not fully published",
        f"Import {exc.import_id}: {exc.reason}",
        "publishing_failed",
        errors=[
            {
                "import_id": str(exc.import_id),
                "orders_published": exc.published,
                "orders": exc.total,
                "status_url": f"/v1/imports/{exc.import_id}",
            }
        ],
        headers={"Retry-After": str(PUBLISH_RETRY_AFTER_SECONDS)},
    )


async def import_of(pool: Pool, tenant_id: UUID, import_id: UUID, lang: Lang) -> ImportStatus:
    """The tenant's import with its live counters, or a 404 problem."""
    async with pool.acquire() as conn:
        job = await import_jobs.get_import(conn, tenant_id, import_id)
    if job is None:
        raise ApiProblem(404, "Not Found", f"no import {import_id}", "import_not_found")
    return import_status(job, lang)


async def imports_listing(pool: Pool, tenant_id: UUID, lang: Lang, cursor: str | None, limit: int) -> ImportList:
    """A page of the tenant's imports, newest first (created time, then id), after `cursor` (a previous
    `next_cursor`); a garbled or forged cursor is a 422 problem."""
    after = decode_position(cursor) if cursor else None
    if cursor and after is None:
        detail = "cursor: pass back a next_cursor exactly as received"
        raise ApiProblem(422, "Invalid cursor", detail, "invalid_cursor")
    jobs, more = await import_page(pool, tenant_id, lang, None, after, limit)
    return ImportList(items=jobs, next_cursor=encode_position(more) if more is not None else None)


async def import_page(
    pool: Pool, tenant_id: UUID, lang: Lang, state: str | None, after: ImportPosition | None, limit: int
) -> tuple[list[ImportStatus], ImportPosition | None]:
    """A page of the tenant's imports (in `state`, if given), newest first, strictly after `after`, each with its
    first `LISTED_WARNINGS`; and where the next page starts (None: this is the last)."""
    async with pool.acquire() as conn:
        rows = await queries.list_imports(conn, tenant_id, state, after, limit + 1)
    jobs = [import_status(r, lang, LISTED_WARNINGS) for r in rows[:limit]]
    more = ImportPosition(jobs[-1].created_at, jobs[-1].import_id) if len(rows) > limit else None
    return jobs, more


def encode_position(last: ImportPosition) -> str:
    raw = json.dumps({"t": last.created_at.isoformat(), "i": str(last.import_id)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_position(cursor: str) -> ImportPosition | None:
    """The position a cursor of `encode_position` names; None for anything else (garbled or forged: an id that is
    no text, a time without an offset or outside the years 1..9999 in UTC, which PostgreSQL's driver cannot send)."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not (isinstance(raw, dict) and isinstance(raw.get("t"), str) and isinstance(raw.get("i"), str)):
            return None
        at = datetime.fromisoformat(raw["t"])
        return ImportPosition(at.astimezone(UTC), UUID(raw["i"])) if at.tzinfo is not None else None
    except (ValueError, TypeError, OverflowError, binascii.Error):
        return None


async def result_workbook(pool: Pool, tenant_id: UUID, import_id: UUID, lang: Lang, mask: bool = False) -> Download:
    """Every uploaded row of the import with its final outcome, errors and warnings, in `lang` (the buyer's and
    the receiver's mobiles masked if `mask`)."""
    return await _workbook(import_id, tenant_id, pool, "result", _build_result, lang, mask)


async def failed_workbook(pool: Pool, tenant_id: UUID, import_id: UUID, lang: Lang, mask: bool = False) -> Download:
    """Only the rows to fix, in the template's columns, ready to upload again (mobiles masked if `mask`: then
    they must be given again before uploading)."""
    return await _workbook(import_id, tenant_id, pool, "failed", _build_failed, lang, mask)


async def template_workbook(lang: Lang) -> Download:
    """The import template in `lang` (built once per language)."""
    from services.ingest.adapters.spreadsheet_writer import build_template

    content = await WORKBOOKS.get(("template", lang), build_template, lang)
    name = "订单导入模板.xlsx" if lang is Lang.ZH else "orderinfo-import-template.xlsx"
    return Download(content, _attachment(name, "orderinfo-import-template.xlsx"))


async def _workbook(
    import_id: UUID,
    tenant_id: UUID,
    pool: Pool,
    kind: str,
    build: Callable[[list[str], list[Any], Lang], bytes],
    lang: Lang,
    mask: bool,
) -> Download:
    """An import's workbook built from its recorded rows on a download thread, cached once the import is final."""
    async with pool.acquire() as conn:
        job = await import_jobs.get_import(conn, tenant_id, import_id)
        if job is None:
            raise ApiProblem(404, "Not Found", f"no import {import_id}", "import_not_found")
        key = _result_key(kind, job, lang)
        key = key and (*key, mask)
        content = WORKBOOKS.cached(key)
        if content is None:
            rows = await import_jobs.row_outcomes(conn, tenant_id, import_id)
    if content is None:
        header = list(job["header"])
        if mask:
            mobiles = personal_positions(header, MOBILE_COLUMNS)
            rows = [replace(r, cells=masked_cells(r.cells, mobiles)) for r in rows]
        content = await WORKBOOKS.get(key, build, header, rows, lang, tenant=tenant_id)
    return Download(content, f'attachment; filename="import-{import_id}-{kind}.xlsx"')


def _result_key(kind: str, job: dict[str, Any], lang: Lang) -> tuple[Any, ...] | None:
    """A finished import's result changes only with its state and counters; an unfinished one is not cached."""
    if job["completed_at"] is None:
        return None
    return (
        kind,
        job["tenant_id"],
        job["id"],
        job["state"],
        job["updated_at"],
        job["orders_processed"],
        job["dead_lettered"],
        job["rejected"],
        lang,
    )


def _build_result(header: list[str], rows: Sequence[import_jobs.RowOutcome], lang: Lang) -> bytes:
    from services.ingest.adapters.spreadsheet_writer import build_result_workbook

    sheet_rows = [SheetRow(r.row_no, tuple(r.cells)) for r in rows]
    outcomes = {r.row_no: (outcome_label(r.outcome, lang), _errors(r, lang), _warnings(r, lang)) for r in rows}
    return build_result_workbook((header, sheet_rows), outcomes, lang)


def _build_failed(header: list[str], rows: Sequence[import_jobs.RowOutcome], lang: Lang) -> bytes:
    from services.ingest.adapters.spreadsheet_writer import FailedRow, build_failed_workbook

    failed = [FailedRow(r.cells, _errors(r, lang), r.error_columns) for r in rows if r.outcome in FAILED_OUTCOMES]
    return build_failed_workbook(header, failed, lang)


def _texts(found: Sequence[dict[str, Any]], lang: Lang) -> list[str]:
    """Issues as a cell shows them: `column: message` in English; a Chinese message names its column itself."""
    if lang is Lang.ZH:
        return [str(issue_out(i, lang)["message"]) for i in found]
    return [f"{i.get('column') or 'row'}: {i.get('message')}" for i in found]


def _joined(texts: Sequence[str], lang: Lang) -> str:
    return ("；" if lang is Lang.ZH else "; ").join(t for t in texts if t)


def _errors(row: import_jobs.RowOutcome, lang: Lang) -> str:
    """A row's own errors, then the consumer's detail of a rejected or dead-lettered order, in `lang`."""
    detail = [outcome_detail(row.detail, lang)] if row.detail and row.outcome in ("rejected", "dead_lettered") else []
    return _joined([*_texts(row.issues, lang), row.legacy_issues, *detail], lang)


def _warnings(row: import_jobs.RowOutcome, lang: Lang) -> str:
    """A row's warnings, then why a stale status was not applied, in `lang`."""
    detail = [outcome_detail(row.detail, lang)] if row.detail and row.outcome == "stale_status" else []
    return _joined([*_texts(row.warnings, lang), *detail], lang)


def _attachment(name: str, ascii_name: str) -> str:
    """Content-Disposition naming the file in UTF-8 (RFC 6266), with an ASCII fallback."""
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


_COUNTED = ("created", "updated", "unchanged", "stale_status", "rejected", "dead_lettered")


def import_status(job: dict[str, Any], lang: Lang, listed_warnings: int | None = None) -> ImportStatus:
    """An `imports` row as the API (and the console) show it, in `lang`."""
    counts = {code: job[code] for code in _COUNTED} | {"held_back": job["orders_held_back"]}
    base = f"/v1/imports/{job['id']}"
    return ImportStatus(
        import_id=job["id"],
        filename=job["filename"],
        mode=job["mode"],
        timezone=job["timezone"],
        state=job["state"],
        rows=job["rows_total"],
        valid_rows=job["rows_valid"],
        invalid_rows=job["rows_invalid"],
        orders=job["orders_total"],
        orders_held_back=job["orders_held_back"],
        orders_published=job["orders_published"],
        orders_processed=job["orders_processed"],
        created=job["created"],
        updated=job["updated"],
        unchanged=job["unchanged"],
        stale_status=job["stale_status"],
        rejected=job["rejected"],
        dead_lettered=job["dead_lettered"],
        first_errors=_issues_out(job["first_errors"], lang),
        warnings=_issues_out(job["warnings"][:listed_warnings], lang),
        warning_count=len(job["warnings"]),
        failure=job["failure"],
        created_at=job["created_at"],
        completed_at=job["completed_at"],
        state_label=state_label(job["state"], lang),
        outcomes=[OutcomeCount(code=c, label=outcome_label(c, lang), count=n) for c, n in counts.items()],
        result_url=f"{base}/result.xlsx",
        failed_url=f"{base}/failed.xlsx",
    )
