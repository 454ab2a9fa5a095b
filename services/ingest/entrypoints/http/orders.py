"""`/v1/orders`: the tenant's order list (filters, keyset pages) and one order's details."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, TypeVar
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query
from pydantic import AfterValidator, AwareDatetime

from services.core.bounds import unstorable_char
from services.core.order import OrderSource, OrderStatus
from services.ingest.adapters import queries
from services.ingest.adapters.queries import OrderFilter, Position
from services.ingest.domain.language import Lang, value_label
from services.ingest.domain.spreadsheet.template import SOURCE_INDEX, STATUS_INDEX, label_key
from services.ingest.entrypoints.http.dependencies import CurrentTenant, EventsTopic, Pool, RequestLang
from services.ingest.entrypoints.http.masking import MaskMobiles, masked_order
from services.ingest.entrypoints.http.problems import ApiProblem, problem_responses
from services.ingest.entrypoints.http.schemas import OrderDetail, OrderPage, OrderSummary

E = TypeVar("E", bound=StrEnum)
router = APIRouter(prefix="/v1/orders", tags=["orders"])

NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL
MAX_LIMIT = 200


def _as_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("the instant is out of range") from exc


Instant = Annotated[AwareDatetime, AfterValidator(_as_utc)]
Text64 = Annotated[str | None, Query(min_length=1, max_length=64, pattern=NO_NUL)]


def encode_cursor(last: Position) -> str:
    """Opaque to clients: base64url (unpadded) of JSON {"t": order_time ISO-8601, "n": order_no}."""
    raw = json.dumps({"t": last.order_time.isoformat(), "n": last.order_no}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> Position:
    """The position a cursor of `encode_cursor` names; a 400 problem for anything else (garbled or forged)."""
    try:
        raw = json.loads(base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True))
        if not (isinstance(raw, dict) and isinstance(raw.get("t"), str) and isinstance(raw.get("n"), str)):
            raise ValueError("not a cursor")
        order_time, order_no = datetime.fromisoformat(raw["t"]), raw["n"]
        # a forged `n` may hold what no order no. can (NUL, a lone surrogate, a control character)
        if order_time.tzinfo is None or unstorable_char(order_no) or not 0 < len(order_no) <= 64:
            raise ValueError("not a cursor")
        return Position(order_time.astimezone(UTC), order_no)
    except (ValueError, TypeError, OverflowError, binascii.Error) as exc:
        raise ApiProblem(
            400, "Invalid cursor", "pass back a next_cursor exactly as received", "invalid_cursor"
        ) from exc


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
            max_length=64,
            description="A code (`jingdong`) or any label the import template accepts (`JD`, `京东`, `jd`), case "
            "and spaces ignored. Answers carry the code and its `source_label`.",
        ),
    ] = None,
    customer_id: UUID | None = None,
) -> OrderFilter:
    """The order list's filters from the query string (shared by the list, its export and the console)."""
    return OrderFilter(
        order_no=order_no,
        order_no_prefix=order_no_prefix,
        statuses=tuple(_vocabulary(STATUS_INDEX, "status", s).value for s in status or ()),
        order_time_from=order_time_from,
        order_time_to=order_time_to,
        store=store,
        source=_vocabulary(SOURCE_INDEX, "source", source).value if source else None,
        customer_id=customer_id,
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
    after = decode_cursor(cursor) if cursor else None
    async with pool.acquire() as conn:
        rows = await queries.list_orders(conn, tenant.id, where, after, limit + 1)
    items = [summary(r, lang) for r in rows[:limit]]
    more = len(rows) > limit
    next_cursor = encode_cursor(Position(items[-1].order_time, items[-1].order_no)) if more else None
    return OrderPage(items=items, next_cursor=next_cursor)


def _vocabulary(index: Mapping[str, E], name: str, text: str) -> E:
    """A status or source as the import template spells it (code, English or Chinese label, alias), or a 422."""
    found = index.get(label_key(text))
    if found is None:
        codes = ", ".join(sorted({member.value for member in index.values()}))
        detail = f"{text!r} is not an order {name}: give a code ({codes}) or a label of the import template"
        raise ApiProblem(422, f"Unknown {name}", detail, f"unknown_{name}")
    return found


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
    async with pool.acquire() as conn:
        found = await queries.get_order(conn, tenant.id, order_no, events_topic)
    if found is None:
        raise ApiProblem(404, "Not Found", f"no order {order_no!r}", "order_not_found")
    order = OrderDetail.model_validate(_labelled({**found, "line_count": len(found["lines"])}, lang))
    return masked_order(order, mask)


def _labelled(order: Mapping[str, Any], lang: Lang) -> dict[str, Any]:
    """An order row with its status and source labels in `lang` (the codes stay as they are)."""
    return {
        **order,
        "status_label": value_label(OrderStatus, order["status"], lang),
        "source_label": value_label(OrderSource, order["source"], lang),
    }


def summary(order: Mapping[str, Any], lang: Lang) -> OrderSummary:
    return OrderSummary.model_validate(_labelled(order, lang))
