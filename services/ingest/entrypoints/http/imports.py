"""`/v1/imports`: upload an import, follow it, download its result workbook and the template."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID
from zoneinfo import available_timezones

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel

from services.ingest.adapters import import_jobs
from services.ingest.application.imports import (
    ImportRequest,
    OutgoingOrder,
    PublishingFailed,
    dry_run,
    storable_filename,
    submit_import,
)
from services.ingest.application.workers import UPLOADS, run_in
from services.ingest.contracts.orders_ingest_v1 import TOPIC
from services.ingest.domain.importing import ImportFileError, ImportOptions, SheetRow
from services.ingest.entrypoints.http.dependencies import CurrentTenant, Pool
from services.ingest.entrypoints.http.downloads import WORKBOOKS
from services.ingest.entrypoints.http.limits import UploadSlot
from services.ingest.entrypoints.http.problems import ApiProblem, Problem, problem_response, problem_responses

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
PUBLISH_YIELD_EVERY = 100
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class RowIssueOut(BaseModel):
    row: int | None
    column: str | None
    code: str
    message: str
    value: str | None = None


class ImportAccepted(BaseModel):
    import_id: UUID
    state: str
    rows: int
    valid_rows: int
    invalid_rows: int
    orders: int
    orders_held_back: int
    warnings: int
    first_errors: list[RowIssueOut]
    status_url: str
    result_url: str


class PlannedOrderOut(BaseModel):
    order_no: str
    outcome: str
    detail: str
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
    failure: str | None
    created_at: datetime
    completed_at: datetime | None


class ImportList(BaseModel):
    items: list[ImportStatus]


def _options(request: Request) -> ImportOptions:
    settings = request.app.state.settings
    return ImportOptions(
        max_rows=settings.max_rows,
        max_bytes=settings.max_upload_bytes,
        placeholder_mobiles=frozenset(settings.mobile_placeholders),
    )


async def publish_orders(broker: Any, topic: str, outgoing: Sequence[OutgoingOrder]) -> list[BaseException | None]:
    """Publish every order with its key (one order stays on one partition) without awaiting acks in turn; the
    outcome of each, in order: None when the broker acknowledged it, else the error (never raised)."""
    pending: list[Any] = []
    for number, item in enumerate(outgoing, 1):
        if number % PUBLISH_YIELD_EVERY == 0:
            await asyncio.sleep(0)  # a send rarely suspends: let other requests run between slices of a large file
        try:
            pending.append(
                await broker.publish(
                    item.value, topic, key=item.key, no_confirm=True, headers={"content-type": "application/json"}
                )
            )
        except Exception as exc:  # refused before it was sent (size, serialisation, producer closed)
            pending.append(exc)
    return [await _settled(p) for p in pending]


async def _settled(pending: Any) -> BaseException | None:
    if pending is None or isinstance(pending, BaseException):
        return pending
    try:
        await pending
    except Exception as exc:
        return exc
    return None


@router.post(
    "",
    status_code=202,
    response_model=ImportAccepted | DryRunOut,
    responses=problem_responses(400, 401, 408, 413, 422, 429, 503),
    summary="Upload an import (.xlsx or .csv, at most 5,000 rows, one row per product line)",
)
async def post_import(
    request: Request,
    tenant: CurrentTenant,
    pool: Pool,
    _: UploadSlot,
    file: Annotated[UploadFile, File(description="The filled-in import template (.xlsx or .csv).")],
    timezone: Annotated[str, Form(description="IANA zone of the file's times.")] = "Asia/Shanghai",
    mode: Annotated[Literal["partial", "strict"], Form()] = "partial",
    dry_run_: Annotated[bool, Form(alias="dry_run")] = False,
    sheet: Annotated[str | None, Form(description="Sheet to read (default: the first non-empty one).")] = None,
) -> Any:
    options = _options(request)
    data = await file.read(options.max_bytes + 1)
    if len(data) > options.max_bytes:
        raise ApiProblem(413, "File too large", f"uploads are limited to {options.max_bytes} bytes", "file_too_large")
    if timezone not in _zones():
        raise ApiProblem(422, "Unknown timezone", f"{timezone!r} is not an IANA timezone name", "unknown_timezone")
    upload = ImportRequest(tenant.id, storable_filename(file.filename), data, timezone, mode, sheet)
    broker, topic = request.app.state.broker, request.app.state.settings.topic(TOPIC.name)
    try:
        if dry_run_:
            report = await dry_run(pool, upload, options)
            body = await run_in(UPLOADS, _dry_run_json, report)  # thousands of planned orders: off the loop
            return Response(body, status_code=202, media_type="application/json")
        receipt = await submit_import(pool, lambda items: publish_orders(broker, topic, items), upload, options)
    except ImportFileError as exc:
        if exc.__cause__ is not None:  # what the reader said: for the log, not for the user
            log.info("upload refused (%s): %r", exc.code, exc.__cause__)
        raise ApiProblem(_FILE_ERROR_STATUS.get(exc.code, 400), "Import file rejected", exc.message, exc.code) from exc
    except PublishingFailed as exc:
        return _publishing_failed(exc)
    metrics = getattr(request.app.state, "metrics", None)
    if metrics is not None:
        metrics.observe_import(receipt.state, receipt.valid_rows, receipt.invalid_rows)
    base = f"/v1/imports/{receipt.import_id}"
    return ImportAccepted(
        **{k: v for k, v in vars(receipt).items() if k != "first_errors"},
        first_errors=[RowIssueOut(**e) for e in receipt.first_errors],
        status_url=base,
        result_url=f"{base}/result.xlsx",
    )


def _dry_run_json(report: Any) -> bytes:
    return DryRunOut.model_validate(report, from_attributes=True).model_dump_json().encode()


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
async def list_imports(tenant: CurrentTenant, pool: Pool, limit: int = 50) -> ImportList:
    limit = max(1, min(limit, 200))
    async with pool.acquire() as conn:
        rows = await import_jobs.list_imports(conn, tenant.id, limit)
    return ImportList(items=[import_status(r) for r in rows])


@router.get(
    "/template.xlsx",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}}, **problem_responses(401, 503)},
    summary="The import template",
)
async def template(tenant: CurrentTenant) -> Response:
    from services.ingest.adapters.spreadsheets import build_template

    content = await WORKBOOKS.get(("template",), build_template)
    headers = {"Content-Disposition": 'attachment; filename="orderinfo-import-template.xlsx"'}
    return Response(content, media_type=XLSX, headers=headers)


@router.get("/{import_id}", response_model=ImportStatus, responses=problem_responses(401, 404, 422))
async def get_import(import_id: UUID, tenant: CurrentTenant, pool: Pool) -> ImportStatus:
    async with pool.acquire() as conn:
        job = await import_jobs.get_import(conn, tenant.id, import_id)
    if job is None:
        raise ApiProblem(404, "Not Found", f"no import {import_id}", "import_not_found")
    return import_status(job)


@router.get(
    "/{import_id}/result.xlsx",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}}, **problem_responses(401, 404, 422, 503)},
    summary="Every uploaded row with its final outcome",
)
async def result_workbook(import_id: UUID, tenant: CurrentTenant, pool: Pool) -> Response:
    from services.ingest.adapters.spreadsheets import build_result_workbook

    async with pool.acquire() as conn:
        job = await import_jobs.get_import(conn, tenant.id, import_id)
        if job is None:
            raise ApiProblem(404, "Not Found", f"no import {import_id}", "import_not_found")
        key = _result_key(job)
        content = WORKBOOKS.cached(key)
        if content is None:
            rows = await import_jobs.row_outcomes(conn, tenant.id, import_id)
    if content is None:
        content = await WORKBOOKS.get(key, _build_result, build_result_workbook, list(job["header"]), rows)
    headers = {"Content-Disposition": f'attachment; filename="import-{import_id}-result.xlsx"'}
    return Response(content, media_type=XLSX, headers=headers)


def _result_key(job: dict[str, Any]) -> tuple[Any, ...] | None:
    """A finished import's result changes only with its state and counters; an unfinished one is not cached."""
    if job["completed_at"] is None:
        return None
    return (
        job["tenant_id"],
        job["id"],
        job["state"],
        job["updated_at"],
        job["orders_processed"],
        job["dead_lettered"],
        job["rejected"],
    )


def _build_result(build: Any, header: list[str], rows: Sequence[Any]) -> bytes:
    sheet_rows = [SheetRow(n, tuple(cells)) for n, cells, _, _ in rows]
    outcomes = {n: (outcome, issues) for n, _, outcome, issues in rows}
    content: bytes = build((header, sheet_rows), outcomes)
    return content


def import_status(job: dict[str, Any]) -> ImportStatus:
    """An `imports` row as the API (and the console) show it."""
    return ImportStatus(
        import_id=job["id"], filename=job["filename"], mode=job["mode"], timezone=job["timezone"], state=job["state"],
        rows=job["rows_total"], valid_rows=job["rows_valid"], invalid_rows=job["rows_invalid"],
        orders=job["orders_total"], orders_held_back=job["orders_held_back"],
        orders_published=job["orders_published"], orders_processed=job["orders_processed"], created=job["created"],
        updated=job["updated"], unchanged=job["unchanged"], stale_status=job["stale_status"],
        rejected=job["rejected"], dead_lettered=job["dead_lettered"],
        first_errors=[RowIssueOut(**e) for e in job["first_errors"]],
        failure=job["failure"], created_at=job["created_at"], completed_at=job["completed_at"],
    )  # fmt: skip
