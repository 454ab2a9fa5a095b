"""Console pages: sign in and out, the order list and an order, customers, the pipeline.

Pages call the use cases the API calls (`application/orders.py`, `application/customers.py`: the same filters,
cursors, normalisation and tenant scoping), so the console adds no rule of its own and imports nothing of the API.
Every page reads the signed-in session's tenant only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from services.core.order import OrderSource, OrderStatus
from services.ingest.adapters import pipeline
from services.ingest.adapters.tenants import Tenant, tenant_for_key
from services.ingest.application import customers, dead_letters, orders
from services.ingest.contracts.orders_ingest_v1 import CONSUMER_GROUP
from services.ingest.contracts.orders_ingest_v1 import TOPIC as INGEST_TOPIC
from services.ingest.domain.api_keys import Scope
from services.ingest.domain.language import Lang
from services.ingest.domain.spreadsheet.issues import INVALID_MOBILE
from services.ingest.entrypoints.console.session import COOKIE, new_session, set_cookie
from services.ingest.entrypoints.console.web import (
    PREFIX,
    PageNotFound,
    check_csrf,
    console,
    current_session,
    language,
    redirect,
    render,
    signed_in,
)
from services.ingest.errors import ApiProblem
from services.platform.lag import group_lag

router = APIRouter(prefix=PREFIX, include_in_schema=False)
SignedIn = Annotated[Tenant, Depends(signed_in)]
PAGE_SIZE = 20
BROKER_WITHIN_S = 3.0
log = logging.getLogger("orderinfo.console")

# The order list's count is exact up to COUNT_CAP and "10,000+" beyond: a bounded count reads at most COUNT_CAP + 1
# index entries (`queries.count_orders`), so it stays cheap at any tenant size, where an exact count of a million
# orders would read them all on every page load.
COUNT_CAP = 10_000
MAX_SEARCHED = 64  # characters of an order no., prefix or store (the longest identifier stored)
T = TypeVar("T")


@router.get("/")
async def home(request: Request) -> Response:
    return redirect(request, f"{PREFIX}/orders" if current_session(request).signed_in else f"{PREFIX}/sign-in")


@router.get("/sign-in")
async def sign_in_page(request: Request) -> Response:
    return render(request, "sign_in.html", ended=request.query_params.get("ended") == "1")


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    form = await check_csrf(request)
    key = str(form.get("api_key", "")).strip()
    async with request.app.state.pool.acquire() as conn:
        tenant = await tenant_for_key(conn, key) if key else None
    if tenant is None:
        return render(request, "sign_in.html", status=401, error="signin.wrong")
    if Scope.READ not in tenant.scopes:  # the console reads the tenant's data
        return render(request, "sign_in.html", status=401, error="signin.no_read")
    response = redirect(request, f"{PREFIX}/orders")
    set_cookie(response, request, console(request).signer, new_session(tenant))
    return response


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    await check_csrf(request)
    console(request).signer.end(current_session(request))
    response = redirect(request, f"{PREFIX}/sign-in")
    response.delete_cookie(COOKIE, path="/")
    return response


class BadField(ValueError):
    """A search field that does not read as what it must be; the page names the field and what is expected."""

    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


def _read(field: str, text: str, parse: Callable[[str], T]) -> T | None:
    if not text.strip():  # a blank search field searches nothing (the API answers a blank filter 422)
        return None
    try:
        return parse(text)
    except ValueError as exc:
        raise BadField(field) from exc


def _searched_text(text: str) -> str:
    """What the REST API's filters take: at most 64 characters (no identifier is longer), no NUL (which
    PostgreSQL text cannot hold: the query failed, a 500)."""
    if len(text) > MAX_SEARCHED or "\x00" in text:
        raise ValueError(text[:20])
    return text


def _order_filter(request: Request) -> dict[str, Any]:
    """The order list's arguments from the search form (times are datetime-local fields in the console's zone)."""
    q, zone = request.query_params, console(request).zone

    def instant(text: str) -> datetime:
        """A datetime-local field's wall-clock time in the console's zone; one given with an offset (a link, a
        bookmark) at that offset, which was replaced by the zone's without a word."""
        try:  # an instant PostgreSQL can take: year 1 east of UTC is in year 0 there
            written = datetime.fromisoformat(text)
            return (written if written.tzinfo else written.replace(tzinfo=zone)).astimezone(UTC)
        except OverflowError as exc:
            raise ValueError(text) from exc

    return {
        "order_no": _read("order_no", q.get("order_no", ""), _searched_text),
        "order_no_prefix": _read("prefix", q.get("prefix", ""), _searched_text),
        "statuses": [s for s in (_read("status", v, OrderStatus) for v in q.getlist("status")) if s],
        "order_time_from": _read("from", q.get("from", ""), instant),
        "order_time_to": _read("to", q.get("to", ""), instant),
        "store": _read("store", q.get("store", ""), _searched_text),
        "source": _read("source", q.get("source", ""), OrderSource),
        "customer_id": _read("customer", q.get("customer", ""), UUID),
    }


def _lang(request: Request) -> Lang:
    return Lang(language(request))


_SEARCH_PROBLEMS = {"invalid_time_range": "orders.bad.range", "invalid_cursor": "orders.bad.cursor"}


@router.get("/orders")
async def order_list(request: Request, tenant: SignedIn) -> Response:
    q = request.query_params
    problem = None
    page: Any = None
    count = None
    try:
        pool = request.app.state.pool
        where = orders.order_filter(**_order_filter(request))
        page = await orders.order_page(pool, tenant.id, _lang(request), where, q.get("cursor") or None, PAGE_SIZE)
        count = await orders.count_orders(pool, tenant.id, where, COUNT_CAP)
    except BadField as exc:
        problem = f"orders.bad.{exc.field}"
    except ApiProblem as exc:  # in the reader's language where the console words it, else the API's detail
        problem = _SEARCH_PROBLEMS.get(exc.problem.code or "", exc.problem.detail)
    next_url = None
    if page is not None and page.next_cursor:
        next_url = f"{request.url.path}?{request.url.include_query_params(cursor=page.next_cursor).query}"
    first_url = None
    if q.get("cursor"):
        first_url = f"{request.url.path}?{request.url.remove_query_params('cursor').query}"
    return render(
        request,
        "orders.html",
        page=page,
        problem=problem,
        q=q,
        next_url=next_url,
        first_url=first_url,
        statuses=list(OrderStatus),
        sources=list(OrderSource),
        chosen_statuses=q.getlist("status"),
        count_text="" if count is None else f"{min(count, COUNT_CAP):,}" + ("+" if count > COUNT_CAP else ""),
        count_capped=count is not None and count > COUNT_CAP,
    )


@router.get("/orders/{order_no:path}")
async def order_page(request: Request, tenant: SignedIn, order_no: str) -> Response:
    if len(order_no) > MAX_SEARCHED or "\x00" in order_no:  # no order has such a number
        raise PageNotFound()
    try:
        state = request.app.state
        order = await orders.order_detail(state.pool, tenant.id, _lang(request), state.events_topic, order_no, False)
    except ApiProblem as exc:
        raise PageNotFound() from exc
    return render(request, "order.html", order=order)


_LOOKUP_PROBLEMS = {"customer_not_found": "customers.none", INVALID_MOBILE: "customers.bad.mobile"}


@router.get("/customers")
async def customer_lookup(request: Request, tenant: SignedIn) -> Response:
    by, value = request.query_params.get("by", "mobile"), request.query_params.get("value", "").strip()
    if by not in customers.IDENTIFIERS:
        by = "mobile"
    customer, problem = None, None
    if value:
        try:
            pool, lang = request.app.state.pool, _lang(request)
            given = {by: _read(by, value, _searched_text)}  # what the REST API's edge takes: 64 characters, no NUL
            customer = await customers.customer_by_identifier(pool, tenant.id, lang, False, given)
        except BadField:
            problem = f"customers.bad.{by}"
        except ApiProblem as exc:  # in the reader's language where the console words it, else the API's detail
            problem = _LOOKUP_PROBLEMS.get(exc.problem.code or "", exc.problem.detail)
    return render(
        request,
        "customers.html",
        by=by,
        value=value,
        customer=customer,
        problem=problem,
        identifiers=customers.IDENTIFIERS,
    )


@router.get("/customers/{customer_id}")
async def customer_page(request: Request, tenant: SignedIn, customer_id: str) -> Response:
    try:
        pool, lang = request.app.state.pool, _lang(request)
        customer = await customers.customer_by_id(pool, tenant.id, UUID(customer_id), lang, False)
    except (ValueError, ApiProblem) as exc:
        raise PageNotFound() from exc
    return render(
        request,
        "customers.html",
        by="mobile",
        value="",
        customer=customer,
        problem=None,
        identifiers=customers.IDENTIFIERS,
    )


@router.get("/pipeline")
async def pipeline_page(request: Request, tenant: SignedIn) -> Response:
    """The tenant's outbox, imports and dead letters, and the consumer group's lag (shared by every tenant) as the
    broker sees it; a broker that does not answer within `BROKER_WITHIN_S` leaves its sections saying so."""
    async with request.app.state.pool.acquire() as conn:
        state = await pipeline.pipeline_state(conn, tenant.id)
    settings, zone = request.app.state.settings, console(request).zone
    group, topic = settings.topic(CONSUMER_GROUP), settings.topic(INGEST_TOPIC.name)
    lag, daily = await asyncio.gather(
        _within(group_lag(settings.kafka_bootstrap_servers, group, topic)),
        _within(dead_letters.daily_letters(settings, tenant.id, datetime.now(zone).date(), zone)),
    )
    return render(request, "pipeline.html", state=state, lag=lag, daily=daily)


async def _within(work: Awaitable[T]) -> T | None:
    try:
        return await asyncio.wait_for(work, BROKER_WITHIN_S)
    except Exception:
        log.warning("pipeline page: the broker did not answer in time", exc_info=True)
        return None
