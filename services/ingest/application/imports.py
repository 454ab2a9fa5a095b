"""Uploading an import: validate the file, record the job, publish one message per valid order.

Guarantees: the job and every row are recorded (one transaction) before anything is published, so the result
workbook can always account for every row; a publish failure marks the job failed with the reason. A dry run reads
the current state and plans exactly what ingestion would do, writing nothing.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from services.ingest.adapters import import_jobs, order_store
from services.ingest.adapters.import_jobs import ImportRow, NewImport
from services.ingest.contracts.orders_ingest_v1 import OrderIngestV1
from services.ingest.domain.importing import ImportOptions, ParsedImport, accept, issues_by_row, parse_import
from services.ingest.domain.order import Order
from services.ingest.domain.planning import Incoming, plan_round

Publish = Callable[[Sequence[OrderIngestV1]], Awaitable[None]]
FIRST_ERRORS = 20


@dataclass(frozen=True)
class ImportRequest:
    tenant_id: UUID
    filename: str
    data: bytes
    timezone: str
    mode: str  # partial | strict
    sheet: str | None = None


@dataclass(frozen=True)
class ImportReceipt:
    import_id: UUID
    state: str
    rows: int
    valid_rows: int
    invalid_rows: int
    orders: int
    orders_held_back: int
    warnings: int
    first_errors: list[dict[str, Any]]


@dataclass(frozen=True)
class PlannedOrder:
    order_no: str
    outcome: str  # created | updated | unchanged | stale_status
    detail: str
    customer_id: UUID | None
    customer_is_new: bool
    matched_by: str | None


@dataclass(frozen=True)
class DryRunReport:
    rows: int
    valid_rows: int
    invalid_rows: int
    orders_held_back: int
    first_errors: list[dict[str, Any]]
    orders: list[PlannedOrder] = field(default_factory=list)


async def parse(request: ImportRequest, options: ImportOptions) -> tuple[ParsedImport, list[Order]]:
    """Parse off the event loop (CPU-bound), then apply the mode. Raises ImportFileError for whole-file problems."""
    parsed = await asyncio.to_thread(
        parse_import, request.data, request.filename, timezone=request.timezone, sheet=request.sheet, options=options
    )
    return parsed, accept(parsed, request.mode)  # type: ignore[arg-type]  # validated at the edge


async def submit_import(pool: Any, publish: Publish, request: ImportRequest, options: ImportOptions) -> ImportReceipt:
    parsed, orders = await parse(request, options)
    import_id = uuid.uuid4()
    messages = [_message(order, request.tenant_id, import_id) for order in orders]
    job = _new_import(request, import_id, parsed, len(orders))
    async with pool.acquire() as conn, conn.transaction():
        await import_jobs.record_import(conn, job, _rows(parsed, {o.order_no for o in orders}))
    if messages:
        try:
            await publish(messages)
        except Exception as exc:
            async with pool.acquire() as conn:
                await import_jobs.mark_failed(conn, request.tenant_id, import_id, f"publishing failed: {exc}")
            raise
        async with pool.acquire() as conn:
            await import_jobs.mark_published(conn, request.tenant_id, import_id, len(messages))
    state = "processing" if messages else ("completed_with_errors" if job.rows_invalid else "completed")
    return ImportReceipt(
        import_id, state, job.rows_total, job.rows_valid, job.rows_invalid, len(orders), job.orders_held_back,
        len(parsed.warnings), job.first_errors,
    )  # fmt: skip


async def dry_run(pool: Any, request: ImportRequest, options: ImportOptions) -> DryRunReport:
    """What an import would do, order by order (outcome, customer and matching identifier); writes nothing."""
    parsed, orders = await parse(request, options)
    items = [Incoming(i, request.tenant_id, order, None, "import") for i, order in enumerate(orders)]
    async with pool.acquire() as conn, conn.transaction(readonly=True):
        stored = await order_store.load_stored(conn, [(request.tenant_id, o.order_no) for o in orders], lock=False)
        index = await order_store.load_customer_index(
            conn, request.tenant_id, [o.buyer for o in orders], [s.row.customer_id for s in stored.values()]
        )
    plan = plan_round(items, stored, {request.tenant_id: index}, uuid.uuid4)
    new_customers = {c.id for _, c in plan.new_customers}
    planned = [
        PlannedOrder(o.order_no, o.outcome, o.detail, None if o.customer_id in new_customers else o.customer_id,
                     o.customer_id in new_customers, o.matched_by)
        for o in plan.outcomes
    ]  # fmt: skip
    job = _new_import(request, uuid.uuid4(), parsed, len(orders))
    return DryRunReport(
        job.rows_total, job.rows_valid, job.rows_invalid, job.orders_held_back, job.first_errors, planned
    )


def _message(order: Order, tenant_id: UUID, import_id: UUID) -> OrderIngestV1:
    # the parser built `order` through the model's validation already: no second validation pass
    return OrderIngestV1.model_construct(
        **dict(order), schema_version=1, tenant_id=tenant_id, import_id=import_id, producer="import"
    )


def _new_import(request: ImportRequest, import_id: UUID, parsed: ParsedImport, orders: int) -> NewImport:
    return NewImport(
        tenant_id=request.tenant_id, import_id=import_id, filename=request.filename[:255], mode=request.mode,
        timezone=request.timezone, rows_total=parsed.counts.rows, rows_valid=parsed.counts.valid_rows,
        rows_invalid=parsed.counts.invalid_rows, orders_total=orders, orders_held_back=len(parsed.held_back),
        header=list(parsed.header), first_errors=[_issue(e) for e in parsed.errors[:FIRST_ERRORS]],
    )  # fmt: skip


def _issue(issue: Any) -> dict[str, Any]:
    return {"row": issue.row, "column": issue.column, "code": issue.code, "message": issue.message,
            "value": issue.value}  # fmt: skip


def _order_of_rows(parsed: ParsedImport) -> dict[int, str]:
    """Sheet row -> order no., for the rows that belong to an order (accepted or held back)."""
    owner = {line.row_no: order.order_no for order in parsed.orders for line in order.lines if line.row_no}
    owner.update({row_no: held.order_no for held in parsed.held_back for row_no in held.rows})
    return owner


def _rows(parsed: ParsedImport, accepted: set[str]) -> list[ImportRow]:
    issues = issues_by_row(parsed)
    error_rows = {e.row for e in parsed.errors if e.row is not None}
    owners = _order_of_rows(parsed)
    rows = []
    for row in parsed.rows:
        order_no = owners.get(row.row_no)
        if row.row_no in error_rows:
            outcome = "invalid"
        elif order_no in accepted:
            outcome = "queued"
        else:
            outcome = "held_back"
        text = "; ".join(f"{i.column or 'row'}: {i.message}" for i in issues.get(row.row_no, []))
        rows.append(ImportRow(row.row_no, order_no, list(row.cells), outcome, text))
    return rows
