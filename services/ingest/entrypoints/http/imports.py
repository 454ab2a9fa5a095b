"""`/v1/imports`: upload an import, follow it, download its result workbook and the template."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote
from uuid import UUID
from zoneinfo import available_timezones

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field

from services.ingest.adapters import import_jobs
from services.ingest.application.imports import (
    ImportReceipt,
    ImportRequest,
    PublishingFailed,
    StrictModeRejected,
    dry_run,
    storable_filename,
    submit_import,
)
from services.ingest.application.parsing import ImportFileError, ImportOptions, SheetRow
from services.ingest.application.workers import UPLOADS, run_in
from services.ingest.domain.language import Lang, file_message, issue_out, outcome_detail, outcome_label, state_label
from services.ingest.entrypoints.http.dependencies import (
    ImportOrReadTenant,
    ImportTenant,
    OrderPublish,
    Pool,
    RequestLang,
    Settings,
)
from services.ingest.entrypoints.http.downloads import WORKBOOKS
from services.ingest.entrypoints.http.limits import UploadSlot
from services.ingest.entrypoints.http.problems import ApiProblem, Problem, problem_response, problem_responses
from services.ingest.settings import IngestSettings

log = logging.getLogger("orderinfo.http.imports")
router = APIRouter(prefix="/v1/imports", tags=["imports"])
_FILE_ERROR_STATUS = {
    "file_too_large": 413,
    "archive_too_large": 413,
    "strict_mode_rejected": 422,
    "too_many_rows": 422,
    "unknown_timezone": 422,
    "order_too_large": 422,
}
PUBLISH_RETRY_AFTER_SECONDS = 30
LISTED_WARNINGS = 20  # per import in the list of imports; GET /v1/imports/{id} lists every one
# Final outcomes of the rows a user has to fix and upload again (the others are stored, or still on their way).
FAILED_OUTCOMES = frozenset({"invalid", "held_back", "not_published", "rejected", "dead_lettered"})
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


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
    state: Literal["queued", "processing", "completed", "completed_with_errors", "failed"]
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


def import_options(settings: IngestSettings) -> ImportOptions:
    return ImportOptions(
        max_rows=settings.max_rows,
        max_bytes=settings.max_upload_bytes,
        placeholder_mobiles=frozenset(settings.mobile_placeholders),
    )


@router.post(
    "",
    status_code=202,
    response_model=ImportAccepted | DryRunOut,
    responses=problem_responses(400, 401, 408, 413, 422, 429, 503),
    summary="Upload an import (.xlsx or .csv, at most 5,000 rows, one row per product line)",
)
async def post_import(
    request: Request,
    tenant: ImportTenant,
    pool: Pool,
    settings: Settings,
    publish: OrderPublish,
    _: UploadSlot,
    lang: RequestLang,
    file: Annotated[UploadFile, File(description="The filled-in import template (.xlsx or .csv).")],
    timezone: Annotated[str, Form(description="IANA zone of the file's times.")] = "Asia/Shanghai",
    mode: Annotated[Literal["partial", "strict"], Form()] = "partial",
    dry_run_: Annotated[bool, Form(alias="dry_run")] = False,
    sheet: Annotated[str | None, Form(description="Sheet to read (default: the first non-empty one).")] = None,
) -> Any:
    options = import_options(settings)
    data = await file.read(options.max_bytes + 1)
    if len(data) > options.max_bytes:
        raise ApiProblem(413, "File too large", f"uploads are limited to {options.max_bytes} bytes", "file_too_large")
    if timezone not in _zones():
        detail = file_message("unknown_timezone", f"{timezone!r} is not an IANA timezone name", lang)
        raise ApiProblem(422, "Unknown timezone", detail, "unknown_timezone")
    upload = ImportRequest(tenant.id, storable_filename(file.filename), data, timezone, mode, sheet)
    try:
        if dry_run_:
            report = await dry_run(pool, upload, options)
            body = await run_in(UPLOADS, _dry_run_json, report, lang)  # thousands of planned orders: off the loop
            return Response(body, status_code=202, media_type="application/json")
        receipt = await submit_import(pool, publish, upload, options)
    except StrictModeRejected as exc:
        raise _strict_refusal(exc, lang) from exc
    except ImportFileError as exc:
        raise file_refused(exc, lang) from exc
    except PublishingFailed as exc:
        return _publishing_failed(exc)
    observe_import(request, receipt)
    return accepted_out(receipt, lang)


def _issues_out(found: Sequence[dict[str, Any]], lang: Lang) -> list[RowIssueOut]:
    return [RowIssueOut.model_validate(issue_out(e, lang)) for e in found]


def file_refused(exc: ImportFileError, lang: Lang) -> ApiProblem:
    """The problem answering a refused file (its status by code); what the reader said goes to the log only."""
    if exc.__cause__ is not None:
        log.info("upload refused (%s): %r", exc.code, exc.__cause__)
    detail = file_message(exc.code, exc.message, lang)
    return ApiProblem(_FILE_ERROR_STATUS.get(exc.code, 400), "Import file rejected", detail, exc.code)


def observe_import(request: Request, receipt: ImportReceipt) -> None:
    metrics = getattr(request.app.state, "metrics", None)
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


def _dry_run_json(report: Any, lang: Lang) -> bytes:
    return dry_run_out(report, lang).model_dump_json().encode()


def _strict_refusal(exc: StrictModeRejected, lang: Lang) -> ApiProblem:
    """422 with every row error; the refused import is recorded as failed (not in a dry run): where to find it."""
    detail = file_message(exc.code, exc.message, lang)
    if exc.import_id is not None:
        base = f"/v1/imports/{exc.import_id}"
        files = f"{base}/result.xlsx, {base}/failed.xlsx"
        detail += (
            f"该导入已记录为失败：{files}。"
            if lang is Lang.ZH
            else f" Import {exc.import_id} is recorded as failed: {files}."
        )
    errors = [issue_out(e, lang) for e in exc.errors] if exc.errors else exc.errors
    return ApiProblem(422, "Import file rejected", detail, exc.code, errors=errors, import_id=exc.import_id)


def _publishing_failed(exc: PublishingFailed) -> Response:
    """503: the import is recorded as failed; its status and result workbook say which orders were published."""
    problem = Problem(
        type="https://orderinfo.dev/problems/publishing_failed",
        title="Import not fully published",
        status=503,
        detail=f"Import {exc.import_id}: {exc.reason}",
        code="publishing_failed",
        errors=[
            {
                "import_id": str(exc.import_id),
                "orders_published": exc.published,
                "orders": exc.total,
                "status_url": f"/v1/imports/{exc.import_id}",
            }
        ],
    )
    return problem_response(problem, {"Retry-After": str(PUBLISH_RETRY_AFTER_SECONDS)})


def _zones() -> set[str]:
    zones: set[str] = getattr(_zones, "cache", set())
    if not zones:
        zones = available_timezones() | {"UTC"}
        _zones.cache = zones  # type: ignore[attr-defined]
    return zones


@router.get(
    "", response_model=ImportList, responses=problem_responses(401), summary="The tenant's imports, newest first"
)
async def list_imports(tenant: ImportOrReadTenant, pool: Pool, lang: RequestLang, limit: int = 50) -> ImportList:
    limit = max(1, min(limit, 200))
    async with pool.acquire() as conn:
        rows = await import_jobs.list_imports(conn, tenant.id, limit)
    return ImportList(items=[import_status(r, lang, LISTED_WARNINGS) for r in rows])


@router.get(
    "/template.xlsx",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}}, **problem_responses(401, 503)},
    summary="The import template, in Chinese (default) or English: headers, drop-downs, hints and instructions",
)
async def template(tenant: ImportOrReadTenant, lang: RequestLang) -> Response:
    from services.ingest.adapters.spreadsheets import build_template

    content = await WORKBOOKS.get(("template", lang), build_template, lang)
    name = "订单导入模板.xlsx" if lang is Lang.ZH else "orderinfo-import-template.xlsx"
    headers = {"Content-Disposition": _attachment(name, "orderinfo-import-template.xlsx")}
    return Response(content, media_type=XLSX, headers=headers)


@router.get("/{import_id}", response_model=ImportStatus, responses=problem_responses(401, 404, 422))
async def get_import(import_id: UUID, tenant: ImportOrReadTenant, pool: Pool, lang: RequestLang) -> ImportStatus:
    async with pool.acquire() as conn:
        job = await import_jobs.get_import(conn, tenant.id, import_id)
    if job is None:
        raise ApiProblem(404, "Not Found", f"no import {import_id}", "import_not_found")
    return import_status(job, lang)


@router.get(
    "/{import_id}/result.xlsx",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}}, **problem_responses(401, 404, 422, 503)},
    summary="Every uploaded row with its final outcome, errors and warnings, in the request's language",
)
async def result_workbook(import_id: UUID, tenant: ImportOrReadTenant, pool: Pool, lang: RequestLang) -> Response:
    return await _workbook(import_id, tenant.id, pool, "result", _build_result, lang)


@router.get(
    "/{import_id}/failed.xlsx",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}}, **problem_responses(401, 404, 422, 503)},
    summary="Only the rows to fix (invalid, held back, not published, rejected, dead-lettered), ready to upload again",
)
async def failed_workbook(import_id: UUID, tenant: ImportOrReadTenant, pool: Pool, lang: RequestLang) -> Response:
    return await _workbook(import_id, tenant.id, pool, "failed", _build_failed, lang)


async def _workbook(
    import_id: UUID,
    tenant_id: UUID,
    pool: Any,
    kind: str,
    build: Callable[[list[str], list[Any], Lang], bytes],
    lang: Lang,
) -> Response:
    """An import's workbook built from its recorded rows on a download thread, cached once the import is final."""
    async with pool.acquire() as conn:
        job = await import_jobs.get_import(conn, tenant_id, import_id)
        if job is None:
            raise ApiProblem(404, "Not Found", f"no import {import_id}", "import_not_found")
        key = _result_key(kind, job, lang)
        content = WORKBOOKS.cached(key)
        if content is None:
            rows = await import_jobs.row_outcomes(conn, tenant_id, import_id)
    if content is None:
        content = await WORKBOOKS.get(key, build, list(job["header"]), rows, lang)
    headers = {"Content-Disposition": f'attachment; filename="import-{import_id}-{kind}.xlsx"'}
    return Response(content, media_type=XLSX, headers=headers)


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
    from services.ingest.adapters.spreadsheets import build_result_workbook

    sheet_rows = [SheetRow(r.row_no, tuple(r.cells)) for r in rows]
    outcomes = {r.row_no: (outcome_label(r.outcome, lang), _errors(r, lang), _warnings(r, lang)) for r in rows}
    return build_result_workbook((header, sheet_rows), outcomes, lang)


def _build_failed(header: list[str], rows: Sequence[import_jobs.RowOutcome], lang: Lang) -> bytes:
    from services.ingest.adapters.spreadsheets import FailedRow, build_failed_workbook

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
