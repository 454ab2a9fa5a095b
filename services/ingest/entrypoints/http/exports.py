"""`GET /v1/orders/export`: the tenant's order list, with the list's filters, as a CSV or .xlsx in the template's
columns (one row per line), so that an export imports back.

At most `max_exports_per_tenant` exports of a tenant and `max_exports_in_flight` in all stream at once (past them
429 / 503 with Retry-After, before any byte): each holds a thread writing rows, and so the GIL the event loop
needs, and a database connection per page, so that 16 exports of one tenant slowed another tenant's order list from
12 ms to 3.2 s at p95. The slot is given back when the response ends, however it ends.

Streamed: keyset pages of `PAGE_ORDERS` orders and at most `PAGE_LINES` lines are read one after another (a pool
connection is taken per page, never for the whole export), turned into rows and written off the event loop, and
their bytes sent as they are made; memory stays at about one page whatever the size of the export. Every argument
is checked before the first byte is sent (a 4xx problem, never a half-written file); a failure after that ends the
download early (logged), which a client sees as a truncated transfer.

The path also names the order numbered `export`: without `format`, the request reads that order
(`GET /v1/orders/{order_no}`), so every accepted order no. still reads back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from services.ingest.adapters import queries
from services.ingest.adapters.exports import CsvWriter, XlsxWriter
from services.ingest.adapters.queries import OrderFilter, Position
from services.ingest.application import orders as order_reads
from services.ingest.application.answers import OrderDetail
from services.ingest.application.import_answers import XLSX
from services.ingest.application.uploads import Slots
from services.ingest.application.zones import named_zone
from services.ingest.domain import export
from services.ingest.entrypoints.http import orders
from services.ingest.entrypoints.http.dependencies import CurrentTenant, EventsTopic, Pool, RequestLang
from services.ingest.entrypoints.http.masking import MaskMobiles
from services.ingest.entrypoints.http.problems import problem_responses
from services.ingest.errors import ApiProblem

router = APIRouter(prefix="/v1/orders", tags=["orders"])
log = logging.getLogger(__name__)
PAGE_ORDERS = 1000
PAGE_LINES = 20_000  # and at most this many lines a page (an order of 500 lines, the most, is 40 times one of 1)
ORDER_NAMED_EXPORT = "export"


class ExportFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"


MEDIA_TYPES = {ExportFormat.CSV: "text/csv; charset=utf-8", ExportFormat.XLSX: XLSX}
Writer = CsvWriter | XlsxWriter


@router.get(
    "/export",
    response_model=None,
    responses={
        200: {
            "content": {"text/csv": {}, XLSX: {}},
            "description": "The file (or, without `format`, the order `export`)",
        },
        **problem_responses(400, 401, 404, 422),
    },
    summary="The filtered order list as a CSV or .xlsx in the import template's columns, streamed",
)
async def export_orders(
    request: Request,
    tenant: CurrentTenant,
    pool: Pool,
    lang: RequestLang,
    events_topic: EventsTopic,
    mask: MaskMobiles,
    where: orders.Filters,
    format: Annotated[ExportFormat | None, Query(description="csv or xlsx.")] = None,
    timezone: Annotated[
        str, Query(max_length=64, description="IANA zone the times are written in (import with the same zone).")
    ] = "Asia/Shanghai",
) -> StreamingResponse | OrderDetail:
    if format is None:
        return await order_reads.order_detail(pool, tenant.id, lang, events_topic, ORDER_NAMED_EXPORT, mask)
    zone = _zone(timezone)
    slots: Slots = request.app.state.export_slots
    slots.take(tenant.id)
    writer: Writer = CsvWriter(export.HEADER) if format is ExportFormat.CSV else XlsxWriter(export.HEADER)
    name = f"orders-{datetime.now(UTC):%Y%m%d-%H%M%S}.{format.value}"
    return _HoldingSlot(
        _stream(pool, tenant.id, where, writer, zone, mask),
        lambda: slots.give_back(tenant.id),
        media_type=MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


class _HoldingSlot(StreamingResponse):
    """A streamed export that gives its slot back when the response ends: sent, cut off by the client or failed."""

    def __init__(self, content: AsyncIterator[bytes], give_back: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self._give_back = give_back

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._give_back()


def _zone(name: str) -> ZoneInfo:
    zone = named_zone(name)
    if zone is None:
        raise ApiProblem(422, "Unknown timezone", f"{name!r} is not an IANA timezone name", "unknown_timezone")
    return zone


async def _stream(
    pool: Any, tenant_id: UUID, where: OrderFilter, writer: Writer, zone: ZoneInfo, mask: bool
) -> AsyncIterator[bytes]:
    after: Position | None = None
    pages = 0
    try:
        while True:
            async with pool.acquire() as conn:
                lines, after = await queries.export_page(conn, tenant_id, where, after, PAGE_ORDERS, PAGE_LINES)
            chunk = await asyncio.to_thread(_write, writer, lines, zone, mask)
            pages += 1
            if chunk:
                yield chunk
            if after is None:
                break
        yield await asyncio.to_thread(writer.close)
    except Exception:
        log.exception("export of tenant %s ended after %d pages", tenant_id, pages)
        raise


async def export_to_file(
    pool: Any, tenant_id: UUID, where: OrderFilter, format: ExportFormat, timezone: str, path: Path
) -> int:
    """`orderinfo export`: the same file as the endpoint, written to `path`; returns the bytes written. An operator's
    export: mobiles in full, whatever the tenant's API callers see."""
    zone = _zone(timezone)
    writer: Writer = CsvWriter(export.HEADER) if format is ExportFormat.CSV else XlsxWriter(export.HEADER)
    written = 0
    with path.open("wb") as out:
        async for chunk in _stream(pool, tenant_id, where, writer, zone, mask=False):
            written += out.write(chunk)
    return written


def _write(writer: Writer, lines: list[dict[str, Any]], zone: ZoneInfo, mask: bool) -> bytes:
    return writer.add([export.row(line, zone, mask) for line in lines])
