"""Reading orders, for the API (`/v1/orders`) and the console alike: the order list's filters as the import spells
them, its keyset pages behind opaque cursors, and one order's details, always within one tenant.

A refused request is an `ApiProblem` (a garbled cursor: 400; an unknown status or source: 422; no such order:
404), which the API answers as a problem document and the console shows on its page.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar
from uuid import UUID

from services.core.bounds import unstorable_char
from services.core.order import OrderSource, OrderStatus
from services.ingest.adapters import queries
from services.ingest.adapters.queries import OrderFilter, Position
from services.ingest.application.answers import OrderDetail, OrderPage, OrderSummary, masked_order
from services.ingest.domain.language import Lang, value_label
from services.ingest.domain.spreadsheet.template import SOURCE_INDEX, STATUS_INDEX, label_key
from services.ingest.errors import ApiProblem

E = TypeVar("E", bound=StrEnum)
Pool = Any


def order_filter(
    order_no: str | None = None,
    order_no_prefix: str | None = None,
    statuses: Iterable[str] = (),
    order_time_from: datetime | None = None,
    order_time_to: datetime | None = None,
    store: str | None = None,
    source: str | None = None,
    customer_id: UUID | None = None,
) -> OrderFilter:
    """The order list's filters; statuses and sources as the import template spells them (code, English or Chinese
    label, alias), else a 422 naming the value; a time range that ends before it starts is a 422 too (it answered
    an empty list, as if no order matched). Order nos and stores are looked up without surrounding whitespace (the
    stored ones never hold any: the contract strips them), a prefix without leading whitespace."""
    if order_time_from is not None and order_time_to is not None and order_time_to < order_time_from:
        detail = (
            f"order_time_to ({order_time_to.isoformat()}) is before order_time_from ({order_time_from.isoformat()}): "
            "the range is [order_time_from, order_time_to); swap them"
        )
        raise ApiProblem(422, "Invalid time range", detail, "invalid_time_range")
    return OrderFilter(
        order_no=_searched("order_no", order_no, str.strip),
        order_no_prefix=_searched("order_no_prefix", order_no_prefix, str.lstrip),
        statuses=tuple(_vocabulary(STATUS_INDEX, "status", s).value for s in statuses),
        order_time_from=order_time_from,
        order_time_to=order_time_to,
        store=_searched("store", store, str.strip),
        source=_vocabulary(SOURCE_INDEX, "source", source).value if source else None,
        customer_id=customer_id,
    )


def _searched(name: str, given: str | None, strip: Callable[[str], str]) -> str | None:
    """`given` as the stored values are written; a blank one (it would match nothing) is a 422 naming `name`."""
    if given is None:
        return None
    found = strip(given)
    if not found:
        raise ApiProblem(422, "Blank filter", f"{name}: {given!r} holds only whitespace", "blank_filter")
    return found


def _vocabulary(index: Mapping[str, E], name: str, text: str) -> E:
    found = index.get(label_key(text))
    if found is None:
        codes = ", ".join(sorted({member.value for member in index.values()}))
        detail = f"{text!r} is not an order {name}: give a code ({codes}) or a label of the import template"
        raise ApiProblem(422, f"Unknown {name}", detail, f"unknown_{name}")
    return found


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


async def order_page(
    pool: Pool, tenant_id: UUID, lang: Lang, where: OrderFilter, cursor: str | None, limit: int
) -> OrderPage:
    """One page of the tenant's orders matching `where`, newest first, after `cursor` (a previous `next_cursor`)."""
    after = decode_cursor(cursor) if cursor else None
    async with pool.acquire() as conn:
        rows = await queries.list_orders(conn, tenant_id, where, after, limit + 1)
    items = [summary(r, lang) for r in rows[:limit]]
    more = len(rows) > limit
    next_cursor = encode_cursor(Position(items[-1].order_time, items[-1].order_no)) if more else None
    return OrderPage(items=items, next_cursor=next_cursor)


async def count_orders(pool: Pool, tenant_id: UUID, where: OrderFilter, cap: int) -> int:
    """How many of the tenant's orders match `where`, exactly up to `cap` (`cap` + 1: more)."""
    async with pool.acquire() as conn:
        return await queries.count_orders(conn, tenant_id, where, cap)


async def order_detail(
    pool: Pool, tenant_id: UUID, lang: Lang, events_topic: str, order_no: str, mask: bool
) -> OrderDetail:
    """One order of the tenant with its lines, customer, status history and events (mobiles masked if `mask`);
    `order_no` read without surrounding whitespace, as the list's filter reads it."""
    order_no = _searched("order_no", order_no, str.strip) or order_no
    async with pool.acquire() as conn:
        found = await queries.get_order(conn, tenant_id, order_no, events_topic)
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
