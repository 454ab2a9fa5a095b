"""Console imports: the template, upload -> dry-run preview -> confirm, live progress, result workbook, the list.

Uploads call the import use cases the API calls (`application.imports`: the same limits, validation, dry run and
publishing) and show the same answers (`application.import_answers`), refusals included. Between the
preview and the confirmation the file waits in this process's memory (`PendingUploads`: the latest 8 files, one hour),
under a random token bound to the tenant, so confirming imports exactly the file that was previewed; a tenant's
uploads push out only its own previews while it holds the most.
"""

from __future__ import annotations

import secrets
import time
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import UploadFile as FormFile

from services.ingest.application import import_answers as answers
from services.ingest.application.imports import (
    ImportRequest,
    PublishingFailed,
    StrictModeRejected,
    storable_filename,
    submit_import,
)
from services.ingest.application.imports import dry_run as dry_run_import
from services.ingest.application.uploads import Slots, import_options, order_publishing
from services.ingest.domain.api_keys import Scope
from services.ingest.domain.language import Lang
from services.ingest.domain.progress import ImportState
from services.ingest.domain.spreadsheet.issues import ImportFileError
from services.ingest.entrypoints.console import messages
from services.ingest.entrypoints.console.routes import SignedIn
from services.ingest.entrypoints.console.web import (
    PREFIX,
    SECURITY_HEADERS,
    PageNotFound,
    check_csrf,
    language,
    redirect,
    render,
)
from services.ingest.errors import ApiProblem

router = APIRouter(prefix=f"{PREFIX}/imports", include_in_schema=False)
PENDING_KEPT = 8  # files of up to max_upload_bytes each: bounded memory
PENDING_TTL_S = 3600
IMPORTS_PER_PAGE = 20
IMPORT_STATES = tuple(ImportState)
TIMEZONES = ("Asia/Shanghai", "Asia/Hong_Kong", "Asia/Taipei", "Asia/Singapore", "Asia/Tokyo", "UTC")


@dataclass(frozen=True)
class PendingUpload:
    tenant_id: UUID
    filename: str
    data: bytes
    timezone: str
    mode: Literal["partial", "strict"]
    created: float


class PendingUploads:
    def __init__(self) -> None:
        self._items: OrderedDict[str, PendingUpload] = OrderedDict()

    def keep(self, upload: PendingUpload) -> str:
        """A token for `upload`; beyond PENDING_KEPT files the oldest of the tenant holding the most goes, so one
        tenant's uploads never push another tenant's preview out while it holds fewer."""
        token = secrets.token_urlsafe(16)
        self._items[token] = upload
        while len(self._items) > PENDING_KEPT:
            held = Counter(kept.tenant_id for kept in self._items.values())
            most = max(held.values())
            del self._items[next(t for t, kept in self._items.items() if held[kept.tenant_id] == most)]
        return token

    def take(self, token: str, tenant_id: UUID) -> PendingUpload | None:
        """The tenant's upload under `token` (removed: a preview is confirmed once), or None."""
        found = self._items.get(token)
        if found is None or found.tenant_id != tenant_id or time.time() - found.created > PENDING_TTL_S:
            return None
        return self._items.pop(token)


async def _console_upload_slot(request: Request, tenant: SignedIn) -> AsyncIterator[ApiProblem | None]:
    """One of the API's upload slots, for the session's tenant, while the console handles an upload (the same
    shares and limits as `POST /v1/imports`): None when taken, else the API's refusal, which the page words."""
    slots: Slots = request.app.state.upload_slots
    try:
        slots.take(tenant.id)
    except ApiProblem as refused:
        yield refused
        return
    try:
        yield None
    finally:
        slots.give_back(tenant.id)


ConsoleUploadSlot = Annotated[ApiProblem | None, Depends(_console_upload_slot)]
_REFUSALS = {
    "too_many_tenant_uploads": "imports.busy.tenant",
    "too_many_uploads": "imports.busy.server",
    "quota_exceeded": "imports.quota",
}


async def _refusal(request: Request, tenant: SignedIn, slot_refused: ApiProblem | None) -> ApiProblem | None:
    """Why this upload may not go ahead, as `POST /v1/imports` would say before reading its body: the tenant's
    slots, then its import rows per hour (`app.state.quotas`, the API's); None when it may."""
    if slot_refused is not None:
        return slot_refused
    quotas = getattr(request.app.state, "quotas", None)
    if quotas is None:
        return None
    try:
        async with request.app.state.pool.acquire() as conn:
            await quotas.admit_upload(conn, tenant)
    except ApiProblem as refused:
        return refused
    return None


async def _refused_page(request: Request, tenant: SignedIn, refused: ApiProblem) -> Response:
    problem = _REFUSALS.get(refused.problem.code or "", refused.problem.detail)
    return await _imports_page(request, tenant, status=refused.problem.status, problem=problem)


async def _submit(request: Request, tenant: SignedIn, upload: PendingUpload, dry_run: bool) -> Any:
    """The dry run's report, or the receipt of the submitted import; `ApiProblem` as the API would answer."""
    lang = Lang(language(request))
    state = request.app.state
    pool, options = state.pool, import_options(state.settings)
    pending = ImportRequest(tenant.id, storable_filename(upload.filename), upload.data, upload.timezone, upload.mode)
    try:
        if dry_run:
            report = await dry_run_import(pool, pending, options)
            return answers.dry_run_out(report, lang)
        receipt = await submit_import(pool, order_publishing(state.settings, state.broker), pending, options)
    except StrictModeRejected as exc:  # its first row errors and their count, as the API answers
        raise answers.strict_refusal(exc, lang) from exc
    except ImportFileError as exc:
        raise answers.file_refused(exc, lang) from exc
    except PublishingFailed as exc:
        raise answers.publishing_refused(exc) from exc
    answers.observe_import(getattr(state, "metrics", None), receipt)
    return answers.accepted_out(receipt, lang)


async def _imports_page(request: Request, tenant: SignedIn, status: int = 200, **values: Any) -> Response:
    """The upload form and the import list: newest first, IMPORTS_PER_PAGE a page (keyset), optionally one state."""
    lang = Lang(language(request))
    q = request.query_params
    state = q.get("state") if q.get("state") in IMPORT_STATES else None
    if q.get("state") and state is None:
        values.setdefault("list_problem", "imports.bad_state")
    after = answers.decode_position(q.get("cursor", "")) if q.get("cursor") else None
    if q.get("cursor") and after is None:
        values.setdefault("list_problem", "imports.bad_cursor")
    jobs, more = await answers.import_page(request.app.state.pool, tenant.id, lang, state, after, IMPORTS_PER_PAGE)
    next_url = None
    if more is not None:
        next_url = f"{request.url.path}?{request.url.include_query_params(cursor=answers.encode_position(more)).query}"
    first_url = f"{request.url.path}?{request.url.remove_query_params('cursor').query}" if after else None
    return render(
        request,
        "imports.html",
        status=status,
        imports=jobs,
        timezones=TIMEZONES,
        states=IMPORT_STATES,
        state=state,
        next_url=next_url,
        first_url=first_url,
        can_import=Scope.IMPORT in tenant.scopes,
        **values,
    )


@router.get("")
async def imports_page(request: Request, tenant: SignedIn) -> Response:
    return await _imports_page(request, tenant)


@router.get("/template.xlsx")
async def template(request: Request, tenant: SignedIn) -> Response:
    """The template in the language the link names (both are offered), else the console's."""
    return _workbook(await answers.template_workbook(Lang(language(request))))


@router.post("/preview")
async def preview(request: Request, tenant: SignedIn, refused: ConsoleUploadSlot) -> Response:
    form = await check_csrf(request)
    if Scope.IMPORT not in tenant.scopes:  # as POST /v1/imports refuses the key
        return await _imports_page(request, tenant, status=403, problem="imports.no_scope")
    if (refusal := await _refusal(request, tenant, refused)) is not None:
        return await _refused_page(request, tenant, refusal)
    file = form.get("file")
    if not isinstance(file, FormFile) or not file.filename:
        return await _imports_page(request, tenant, status=422, problem="imports.no_file")
    data = await file.read()
    timezone = str(form.get("timezone") or TIMEZONES[0])
    mode: Literal["partial", "strict"] = "strict" if form.get("mode") == "strict" else "partial"
    upload = PendingUpload(tenant.id, storable_filename(file.filename), data, timezone, mode, time.time())
    try:
        report = await _submit(request, tenant, upload, dry_run=True)
    except ApiProblem as exc:
        problem, row_errors = exc.problem.detail, exc.problem.errors or []  # a strict refusal: its first ones
        return await _imports_page(
            request,
            tenant,
            status=exc.problem.status,
            problem=problem,
            row_errors=row_errors,
            errors_total=exc.problem.errors_total or len(row_errors),
        )
    token = request.app.state.console_uploads.keep(upload)
    outcomes = Counter(o.outcome for o in report.orders)
    buyers = Counter("new" if o.customer_is_new else (o.matched_by or "new") for o in report.orders)
    return render(request, "preview.html", report=report, upload=upload, token=token, outcomes=outcomes, buyers=buyers)


@router.post("/confirm")
async def confirm(request: Request, tenant: SignedIn, refused: ConsoleUploadSlot) -> Response:
    form = await check_csrf(request)
    if Scope.IMPORT not in tenant.scopes:
        return await _imports_page(request, tenant, status=403, problem="imports.no_scope")
    if (refusal := await _refusal(request, tenant, refused)) is not None:  # the preview stays kept
        return await _refused_page(request, tenant, refusal)
    upload = request.app.state.console_uploads.take(str(form.get("token", "")), tenant.id)
    if upload is None:
        return await _imports_page(request, tenant, status=410, problem="preview.expired")
    try:
        accepted = await _submit(request, tenant, upload, dry_run=False)
    except ApiProblem as exc:
        if exc.problem.code == "publishing_failed" and exc.problem.errors:  # recorded as failed: show that import
            failed = str(exc.problem.errors[0]["import_id"])
            return await _import_page(request, tenant, failed, status=503, problem="imports.publishing_failed")
        return await _imports_page(request, tenant, status=exc.problem.status, problem=exc.problem.detail)
    return redirect(request, f"{PREFIX}/imports/{accepted.import_id}")


async def _status(request: Request, tenant: SignedIn, import_id: str) -> answers.ImportStatus:
    try:
        lang = Lang(language(request))
        return await answers.import_of(request.app.state.pool, tenant.id, UUID(import_id), lang)
    except (ValueError, ApiProblem) as exc:
        raise PageNotFound() from exc


@router.get("/{import_id}")
async def import_page(request: Request, tenant: SignedIn, import_id: str) -> Response:
    return await _import_page(request, tenant, import_id)


async def _import_page(
    request: Request, tenant: SignedIn, import_id: str, status: int = 200, problem: str | None = None
) -> Response:
    lang = language(request)
    labels = {state: messages.text(f"state.{state}", lang) for state in IMPORT_STATES}
    job = await _status(request, tenant, import_id)
    return render(request, "import.html", status=status, job=job, state_labels=labels, problem=problem)


@router.get("/{import_id}/status.json")
async def import_status(request: Request, tenant: SignedIn, import_id: str) -> Response:
    job = await _status(request, tenant, import_id)
    return JSONResponse(job.model_dump(mode="json"), headers={"Cache-Control": "no-store"})


@router.get("/{import_id}/result.xlsx")
async def result_workbook(request: Request, tenant: SignedIn, import_id: str) -> Response:
    job = await _status(request, tenant, import_id)
    lang = Lang(language(request))
    return _workbook(await answers.result_workbook(request.app.state.pool, tenant.id, job.import_id, lang))


@router.get("/{import_id}/failed.xlsx")
async def failed_workbook(request: Request, tenant: SignedIn, import_id: str) -> Response:
    job = await _status(request, tenant, import_id)
    lang = Lang(language(request))
    return _workbook(await answers.failed_workbook(request.app.state.pool, tenant.id, job.import_id, lang))


def _workbook(download: answers.Download) -> Response:
    """A download with the pages' headers: never cached (a result workbook holds buyers' mobiles and addresses)."""
    headers = SECURITY_HEADERS | {"Content-Disposition": download.disposition}
    return Response(download.content, media_type=answers.XLSX, headers=headers)
