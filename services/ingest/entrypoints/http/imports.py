"""`/v1/imports`: upload an import, follow it, download its result workbook and the template (the answers:
`application/import_answers.py`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import Response
from starlette.datastructures import FormData

from services.ingest.application import import_answers as answers
from services.ingest.application.import_answers import XLSX, DryRunOut, ImportAccepted, ImportList, ImportStatus
from services.ingest.application.imports import (
    ImportRequest,
    PublishingFailed,
    StrictModeRejected,
    dry_run,
    storable_filename,
    submit_import,
)
from services.ingest.application.parsing import ImportFileError
from services.ingest.application.uploads import import_options
from services.ingest.application.workers import UPLOADS, run_in
from services.ingest.application.zones import named_zones
from services.ingest.domain.language import file_message
from services.ingest.domain.spreadsheet import issues
from services.ingest.domain.spreadsheet.issues import file_too_large
from services.ingest.entrypoints.http.dependencies import (
    ImportOrReadTenant,
    ImportTenant,
    OrderPublish,
    Pool,
    RequestLang,
    Settings,
)
from services.ingest.entrypoints.http.limits import UploadSlot
from services.ingest.entrypoints.http.masking import MaskUploadedMobiles
from services.ingest.entrypoints.http.problems import problem_responses
from services.ingest.errors import ApiProblem

router = APIRouter(prefix="/v1/imports", tags=["imports"])


@router.post(
    "",
    status_code=202,
    response_model=ImportAccepted | DryRunOut,
    responses=problem_responses(400, 401, 408, 413, 422, 429, 503),
    summary="Upload an import (.xlsx, .xls, .csv or tab-separated .txt, at most 5,000 rows, one row per product line)",
)
async def post_import(
    request: Request,
    tenant: ImportTenant,
    pool: Pool,
    settings: Settings,
    publish: OrderPublish,
    _: UploadSlot,
    lang: RequestLang,
    file: Annotated[
        UploadFile, File(description="The filled-in import template (.xlsx, .xls, .csv or tab-separated .txt).")
    ],
    timezone: Annotated[str, Form(description="IANA zone of the file's times.")] = "Asia/Shanghai",
    mode: Annotated[Literal["partial", "strict"], Form()] = "partial",
    dry_run_: Annotated[bool, Form(alias="dry_run")] = False,
    sheet: Annotated[
        str | None,
        Form(description="Sheet to read (default: the first naming the Order No., else the first non-empty one)."),
    ] = None,
) -> Any:
    _check_single_fields(await request.form())
    options = import_options(settings)
    data = await file.read(options.max_bytes + 1)
    if len(data) > options.max_bytes:  # the size spooled, when known: only max_bytes + 1 bytes were read
        size = file.size if file.size is not None and file.size > options.max_bytes else None
        detail = file_message(issues.FILE_TOO_LARGE, file_too_large(size, options.max_bytes), lang)
        raise ApiProblem(413, "Import file rejected", detail, issues.FILE_TOO_LARGE)
    if timezone not in named_zones():
        detail = file_message("unknown_timezone", f"{timezone!r} is not an IANA timezone name", lang)
        raise ApiProblem(422, "Unknown timezone", detail, "unknown_timezone")
    upload = ImportRequest(tenant.id, storable_filename(file.filename), data, timezone, mode, sheet)
    try:
        if dry_run_:
            report = await dry_run(pool, upload, options)
            # thousands of planned orders: encoded off the loop
            body = await run_in(UPLOADS, answers.dry_run_json, report, lang)
            return Response(body, status_code=202, media_type="application/json")
        receipt = await submit_import(pool, publish, upload, options)
    except StrictModeRejected as exc:
        raise answers.strict_refusal(exc, lang) from exc
    except ImportFileError as exc:
        raise answers.file_refused(exc, lang) from exc
    except PublishingFailed as exc:
        raise answers.publishing_refused(exc) from exc
    answers.observe_import(getattr(request.app.state, "metrics", None), receipt)
    return answers.accepted_out(receipt, lang)


UPLOAD_FIELDS = ("file", "timezone", "mode", "dry_run", "sheet")


def _check_single_fields(form: FormData) -> None:
    """Each of the upload's fields at most once: never one of two picked (a second `dry_run=false` made a dry run
    an import; of two files, one was imported without a word); and no other field (a misspelt `dryrun=true` was
    ignored: the file was imported for real)."""
    unknown = [name for name in dict.fromkeys(form.keys()) if name not in UPLOAD_FIELDS]
    if unknown:
        names = ", ".join(map(repr, unknown[:5]))
        taken = ", ".join(UPLOAD_FIELDS)
        detail = f"the form field(s) {names} are not taken here (misspelt?); an upload takes: {taken}"
        if "lang" in unknown:
            detail += " (the answer's language is asked in the address, ?lang=en, or by Accept-Language)"
        raise ApiProblem(422, "Unknown form field", detail, "unknown_field")
    for name in UPLOAD_FIELDS:
        given = len(form.getlist(name))
        if given > 1:
            detail = f"the form field {name!r} is given {given} times: send it once (one file per upload)"
            raise ApiProblem(422, "Repeated form field", detail, "repeated_field")


@router.get(
    "",
    response_model=ImportList,
    responses=problem_responses(401, 422),
    summary="The tenant's imports, newest first (created time, then id, descending), in keyset pages",
)
async def list_imports(
    tenant: ImportOrReadTenant,
    pool: Pool,
    lang: RequestLang,
    cursor: Annotated[str | None, Query(max_length=512, description="next_cursor of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=200, description="1 to 200 (0, -1 or 10^9 were taken as 1 or 200).")] = 50,
) -> ImportList:
    return await answers.imports_listing(pool, tenant.id, lang, cursor, limit)


@router.get(
    "/template.xlsx",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}}, **problem_responses(401, 503)},
    summary="The import template, in Chinese (default) or English: headers, drop-downs, hints and instructions",
)
async def template(tenant: ImportOrReadTenant, lang: RequestLang) -> Response:
    return workbook_response(await answers.template_workbook(lang))


@router.get("/{import_id}", response_model=ImportStatus, responses=problem_responses(401, 404, 422))
async def get_import(import_id: UUID, tenant: ImportOrReadTenant, pool: Pool, lang: RequestLang) -> ImportStatus:
    return await answers.import_of(pool, tenant.id, import_id, lang)


@router.get(
    "/{import_id}/result.xlsx",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}}, **problem_responses(401, 404, 422, 503)},
    summary="Every uploaded row with its final outcome, errors and warnings, in the request's language",
)
async def result_workbook(
    import_id: UUID, tenant: ImportOrReadTenant, pool: Pool, lang: RequestLang, mask: MaskUploadedMobiles
) -> Response:
    return workbook_response(await answers.result_workbook(pool, tenant.id, import_id, lang, mask))


@router.get(
    "/{import_id}/failed.xlsx",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}}, **problem_responses(401, 404, 422, 503)},
    summary="Only the rows to fix (invalid, held back, not published, rejected, dead-lettered), ready to upload again",
)
async def failed_workbook(
    import_id: UUID, tenant: ImportOrReadTenant, pool: Pool, lang: RequestLang, mask: MaskUploadedMobiles
) -> Response:
    return workbook_response(await answers.failed_workbook(pool, tenant.id, import_id, lang, mask))


def workbook_response(download: answers.Download) -> Response:
    return Response(download.content, media_type=XLSX, headers={"Content-Disposition": download.disposition})
