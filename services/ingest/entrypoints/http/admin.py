"""Admin endpoints: dead letters (`/v1/admin/dead-letters`) and customer erasure (`DELETE /v1/customers/{id}`).

Everything here is under the admin scope (`AdminTenant`) and scoped to the caller's tenant: an admin sees and
replays only the letters whose key names its tenant, and erases only its own customers.

A listing or replay reads the dead-letter topic (up to 64 MiB of letters held, 20 s): at most
`max_letter_reads_per_tenant` of a tenant and `max_letter_reads_in_flight` in all run at once (past them 429 / 503
with Retry-After, worded in the request's language, before anything is read).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from services.ingest import errors
from services.ingest.adapters.tenants import Tenant
from services.ingest.application import dead_letters, erasure
from services.ingest.application.uploads import Slots
from services.ingest.domain.dead_letters import LetterFilter
from services.ingest.domain.language import Lang, letter_reads_busy
from services.ingest.entrypoints.http.dependencies import AdminTenant, Pool, RequestLang
from services.ingest.entrypoints.http.problems import problem_responses
from services.ingest.entrypoints.http.query_strings import offset_sign_kept
from services.ingest.errors import ApiProblem

router = APIRouter(tags=["admin"])
log = logging.getLogger("orderinfo.http.admin")
RETRY = {"Retry-After": "5"}
Limit = Annotated[
    int, Query(ge=1, le=dead_letters.MAX_LIMIT, description="Letters of this tenant answered (from the oldest).")
]
Reason = Annotated[str | None, Query(min_length=1, max_length=64, pattern=r"^[a-z_]+$")]
QueryTime = Annotated[datetime | None, BeforeValidator(offset_sign_kept)]


class DeadLetterOut(BaseModel):
    partition: int
    offset: int
    dead_lettered_at: datetime
    reason: str
    detail: str | None
    tenant_id: UUID | None
    key: str | None
    original: dict[str, str | None]
    bytes: int
    headers_dropped: str | None = Field(
        default=None, description="Why the letter does not carry its record's headers (a replay sends none)."
    )
    replayed: bool


class DeadLettersOut(BaseModel):
    matching: int
    scanned: int
    complete: bool = Field(description="False: `limit` or the read deadline stopped the scan before the end.")
    by_reason: dict[str, int]
    letters: list[DeadLetterOut]


class ReplayIn(BaseModel):
    # a field it does not take is a 422 naming it: ignored, a misspelt `dry_run` replayed every letter for real
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[a-z_]+$")
    since: datetime | None = None
    until: datetime | None = None
    limit: int = Field(default=dead_letters.DEFAULT_LIMIT, ge=1, le=dead_letters.MAX_LIMIT)
    dry_run: bool = False
    force: bool = Field(default=False, description="Replay letters that were replayed before, too.")


class ReplayOut(DeadLettersOut):
    dry_run: bool
    replayed: list[tuple[int, int]] = Field(description="(partition, offset) of the letters re-published.")
    skipped: list[tuple[int, int]] = Field(description="Replayed before and not forced.")


class ErasureOut(BaseModel):
    customer_id: UUID
    erased_at: datetime
    identifiers: list[str]
    orders: int


@router.get(
    "/v1/admin/dead-letters",
    response_model=DeadLettersOut,
    responses=problem_responses(401, 403, 422, 429, 503),
    summary="This tenant's dead letters, with counts by reason",
)
async def list_dead_letters(
    request: Request,
    tenant: AdminTenant,
    pool: Pool,
    lang: RequestLang,
    reason: Reason = None,
    since: QueryTime = None,
    until: QueryTime = None,
    limit: Limit = dead_letters.DEFAULT_LIMIT,
) -> DeadLettersOut:
    where = _letters(reason, tenant, since, until)
    with _letter_read(request, tenant, lang):
        async with _answerable():
            listing = await dead_letters.list_letters(request.app.state.settings, pool, where, limit)
    return DeadLettersOut(**_listing(listing))


@router.post(
    "/v1/admin/dead-letters:replay",
    response_model=ReplayOut,
    responses=problem_responses(401, 403, 422, 429, 503),
    summary="Re-publish this tenant's matching dead letters to orders.ingest.v1 (each once)",
)
async def replay_dead_letters(
    request: Request, tenant: AdminTenant, pool: Pool, lang: RequestLang, body: ReplayIn
) -> ReplayOut:
    where = _letters(body.reason, tenant, body.since, body.until)
    with _letter_read(request, tenant, lang):
        async with _answerable():
            done = await dead_letters.replay(
                request.app.state.settings,
                pool,
                where,
                body.limit,
                by=actor(tenant),
                dry_run=body.dry_run,
                force=body.force,
            )
    replayed = [(x.partition, x.offset) for x in done.replayed]
    skipped = [(x.partition, x.offset) for x in done.skipped]
    return ReplayOut(**_listing(done.listing), dry_run=done.dry_run, replayed=replayed, skipped=skipped)


def actor(tenant: Tenant) -> str:
    """Who did it, for the replay and erasure records: the API key by name and id (never the secret)."""
    return f"api:{tenant.key_name}:{tenant.key_id}"


@router.delete(
    "/v1/customers/{customer_id}",
    response_model=ErasureOut,
    tags=["customers"],
    responses=problem_responses(401, 403, 404, 422, 503),
    summary="Erase a customer's personal data (PIPL); the anonymised order facts stay",
)
async def erase_customer(request: Request, customer_id: UUID, tenant: AdminTenant, pool: Pool) -> ErasureOut:
    tombstone: erasure.Tombstone = request.app.state.tombstone
    async with _answerable():
        done = await erasure.erase_customer(pool, tenant.id, customer_id, by=actor(tenant), tombstone=tombstone)
    if done is None:
        raise ApiProblem(404, "Not Found", f"no customer {customer_id}", "customer_not_found")
    return ErasureOut(
        customer_id=customer_id, erased_at=done.erased_at, identifiers=list(done.identifiers), orders=done.orders
    )


@contextlib.contextmanager
def _letter_read(request: Request, tenant: Tenant, lang: Lang) -> Iterator[None]:
    """One of the dead-letter read slots for the block; none left: the slots' 429 / 503, worded in `lang`."""
    slots: Slots = request.app.state.letter_slots
    try:
        slots.take(tenant.id)
    except ApiProblem as refused:
        code, status = refused.problem.code or "", refused.problem.status
        running = slots.share if status == 429 else slots.limit
        detail = letter_reads_busy(code, running, slots.retry_after_seconds, lang)
        raise ApiProblem(status, "Too many dead-letter reads", detail, code, headers=refused.headers) from None
    try:
        yield
    finally:
        slots.give_back(tenant.id)


@contextlib.asynccontextmanager
async def _answerable() -> AsyncIterator[None]:
    """The broker or the database not answering: a 503 problem saying which, never a 500."""
    try:
        yield
    except errors.BrokerUnavailable as exc:
        log.warning("admin request: the broker did not answer: %s", exc)
        raise ApiProblem(
            503, "Unavailable", "Kafka did not answer; try again shortly", "broker_unavailable", headers=RETRY
        ) from exc
    except errors.StorageError as exc:
        log.warning("admin request: storage failed: %s", exc.detail)
        raise ApiProblem(
            503, "Unavailable", "the database did not answer; try again shortly", "database_unavailable", headers=RETRY
        ) from exc


def _letters(reason: str | None, tenant: Tenant, since: datetime | None, until: datetime | None) -> LetterFilter:
    """The tenant's letters asked for; a window that ends before it starts is a 422 naming both ends (it matched
    nothing, as if there were no letters)."""
    since, until = _aware(since, "since"), _aware(until, "until")
    if since is not None and until is not None and until < since:
        detail = (
            f"until ({until.isoformat()}) is before since ({since.isoformat()}): the window is [since, until); "
            "swap them"
        )
        raise ApiProblem(422, "Invalid time range", detail, "invalid_time_range")
    return LetterFilter(reason, tenant.id, since, until)


def _aware(at: datetime | None, name: str) -> datetime | None:
    if at is not None and at.tzinfo is None:
        raise ApiProblem(
            422, "Invalid request", f"{name}: give a UTC offset (e.g. 2026-12-01T08:00:00+08:00)", "time_without_offset"
        )
    return at


def _listing(listing: dead_letters.Listing) -> dict[str, Any]:
    letters = [dead_letters.describe(x, (x.partition, x.offset) in listing.replayed) for x in listing.letters]
    return {
        "matching": len(listing.letters),
        "scanned": listing.scanned,
        "complete": listing.complete,
        "by_reason": listing.by_reason,
        "letters": letters,
    }
