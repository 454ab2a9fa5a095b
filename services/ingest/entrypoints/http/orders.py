"""`/v1/orders`: the tenant's order list (filters, keyset pages) and one order's details (`application/orders.py`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query
from pydantic import AfterValidator, AwareDatetime, BeforeValidator

from services.core.order import time_text
from services.ingest.adapters.queries import OrderFilter
from services.ingest.application import orders
from services.ingest.application.answers import OrderDetail, OrderPage
from services.ingest.entrypoints.http.dependencies import CurrentTenant, EventsTopic, Pool, RequestLang
from services.ingest.entrypoints.http.masking import MaskMobiles
from services.ingest.entrypoints.http.problems import problem_responses
from services.ingest.entrypoints.http.query_strings import offset_sign_kept

router = APIRouter(prefix="/v1/orders", tags=["orders"])

NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL
MAX_LIMIT = 200


def _as_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("the instant is out of range") from exc


# `time_text`: an epoch number (`1790000000`) is no ISO-8601 time, as in the contract
# `offset_sign_kept`: `+08:00` typed as is in a URL arrives as ` 08:00`, which is said so
Instant = Annotated[
    AwareDatetime, BeforeValidator(time_text), BeforeValidator(offset_sign_kept), AfterValidator(_as_utc)
]
Text64 = Annotated[str | None, Query(min_length=1, max_length=64, pattern=NO_NUL)]


def order_filter(
    order_no: Text64 = None,
    order_no_prefix: Text64 = None,
    status: Annotated[
        list[str] | None,
        Query(
            max_length=64,
            description="Repeat for several (any of them). A code (`paid`) or any label the import template accepts "
            "(`Paid`, `已付款`, `paid`), case and spaces ignored. Answers carry the code and its `status_label`.",
        ),
    ] = None,
    order_time_from: Annotated[Instant | None, Query(description="Inclusive; ISO-8601 with an offset.")] = None,
    order_time_to: Annotated[Instant | None, Query(description="Exclusive; ISO-8601 with an offset.")] = None,
    store: Annotated[
        str | None, Query(min_length=1, max_length=64, pattern=NO_NUL, description="The store no. or the store ID.")
    ] = None,
    source: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=64,
            description="A code (`jingdong`) or any label the import template accepts (`JD`, `京东`, `jd`), case "
            "and spaces ignored. Answers carry the code and its `source_label`.",
        ),
    ] = None,
    customer_id: UUID | None = None,
) -> OrderFilter:
    """The order list's filters from the query string (shared by the list and its export)."""
    return orders.order_filter(
        order_no, order_no_prefix, status or (), order_time_from, order_time_to, store, source, customer_id
    )


Filters = Annotated[OrderFilter, Depends(order_filter)]


@router.get(
    "",
    response_model=OrderPage,
    responses=problem_responses(400, 401, 422),
    summary="The tenant's orders, newest first (order_time, then order_no, descending), in keyset pages",
)
async def list_orders(
    tenant: CurrentTenant,
    pool: Pool,
    lang: RequestLang,
    where: Filters,
    cursor: Annotated[str | None, Query(max_length=512, description="next_cursor of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> OrderPage:
    return await orders.order_page(pool, tenant.id, lang, where, cursor, limit)


# `path`: order nos may hold `/` (sent as %2F, which the server decodes before routing); any accepted one reads back.
@router.get(
    "/{order_no:path}",
    response_model=OrderDetail,
    responses=problem_responses(401, 404, 422),
    summary="One order: lines, customer, matched identifier, status history and emitted events",
)
async def get_order(
    tenant: CurrentTenant,
    pool: Pool,
    lang: RequestLang,
    events_topic: EventsTopic,
    order_no: Annotated[str, Path(min_length=1, max_length=64, pattern=NO_NUL)],
    mask: MaskMobiles,
) -> OrderDetail:
    return await orders.order_detail(pool, tenant.id, lang, events_topic, order_no, mask)
