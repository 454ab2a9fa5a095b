"""Uploading an import: validate the file, record the job, publish one message per valid order.

Guarantees:
- Everything the import refuses is refused before anything is recorded (committed) or published, by the same code
  the dry run runs (parse, mode, message sizes): a dry run predicts the real outcome.
- The job and every row are recorded (one transaction) before anything is published, so the result workbook can
  always account for every row.
- Publishing is all or nothing as far as the answer goes: either every valid order was acknowledged by the broker
  (202), or the job is marked failed, its `orders_published` is the number acknowledged, the failure names the
  orders published and not, their rows say `not_published`, and `PublishingFailed` is raised. Published orders are
  stored as they arrive and counted (the counters agree with what is stored); uploading the file again is safe.
- A dry run reads the current state and plans exactly what ingestion would do, writing nothing.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from services.core import bounds
from services.core.order import Order
from services.ingest.adapters import import_jobs, order_store
from services.ingest.adapters.import_jobs import ImportRow, NewImport, RowColumns
from services.ingest.application.parsing import (
    ImportFileError,
    ImportOptions,
    ParsedImport,
    RowIssue,
    accept,
    parse_import,
)
from services.ingest.application.workers import READERS, UPLOADS, run_in
from services.ingest.contracts.orders_ingest_v1 import OrderIngestV1, message_key
from services.ingest.domain.planning import Incoming, plan_round
from services.ingest.domain.progress import ImportCounts, import_state
from services.ingest.domain.spreadsheet import issues
from services.ingest.domain.spreadsheet.values import visible
from services.platform.publisher import KeyedPublisher, KeyedRecord

log = logging.getLogger("orderinfo.imports")
FIRST_ERRORS = 20
LISTED_ORDERS = 10  # order nos. named in a publishing failure (then "and N more")
RECORD_OVERHEAD = 1024  # headers and record framing around a message's key and value, generously
MAX_FILENAME = 255
MAX_SUFFIX = 8  # .xlsx, .csv, .txt: what a file name's suffix is, kept when a long name is cut


@dataclass(frozen=True, slots=True)
class OutgoingOrder:
    """One order's message, encoded once: what is size-checked is exactly what is published."""

    order_no: str
    key: bytes
    value: bytes


# Publishes every message with its key; answers, per message and in order, None (acknowledged) or the error.
Publish = Callable[[Sequence[OutgoingOrder]], Awaitable[Sequence[BaseException | None]]]
_JSON_HEADERS = [("content-type", b"application/json")]  # aiokafka's shape, shared: no record's copy is changed


def publishing_to(publisher: KeyedPublisher, topic: str) -> Publish:
    """The upload's `Publish` over the keyed publisher: each order's message on `topic` (physical name), with its
    key, none awaited in turn (see `platform.publisher`)."""

    async def publish(outgoing: Sequence[OutgoingOrder]) -> Sequence[BaseException | None]:
        return await publisher.publish_all(
            [KeyedRecord(topic, item.key, item.value, _JSON_HEADERS) for item in outgoing]
        )

    return publish


class PublishingFailed(Exception):
    """Some orders of a recorded import were not acknowledged; the job is failed and `reason` says which were."""

    def __init__(self, import_id: UUID, published: int, total: int, reason: str) -> None:
        super().__init__(reason)
        self.import_id, self.published, self.total, self.reason = import_id, published, total, reason


@dataclass(frozen=True)
class ImportRequest:
    tenant_id: UUID
    filename: str
    data: bytes
    timezone: str
    mode: str  # partial | strict
    sheet: str | None = None


def storable_filename(name: str | None) -> str:
    """The upload's file name as recorded and read (by its suffix): metadata, so cleaned rather than refused.

    The base name only (some browsers send `C:\\fakepath\\...`); invisible formatting characters removed (a
    direction mark appended by a copy hid the `.csv` suffix, an override showed the name reversed in the console
    and in messages); unstorable characters become U+FFFD; at most 255 characters, cut in the stem so that a
    suffix of up to `MAX_SUFFIX` characters stays. A missing or blank name is "upload"."""
    cleaned = bounds.without_invisible(visible(name or "")).replace("\\", "/").rsplit("/", 1)[-1].strip()
    if len(cleaned) > MAX_FILENAME:
        stem, dot, suffix = cleaned.rpartition(".")
        kept = dot + suffix if stem and len(suffix) <= MAX_SUFFIX else ""
        cleaned = cleaned[: MAX_FILENAME - len(kept)].rstrip() + kept if kept else cleaned[:MAX_FILENAME]
    return cleaned or "upload"


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


class StrictModeRejected(ImportFileError):
    """Strict mode refused a file with invalid rows: nothing was published. `errors` lists every row error; the
    import is recorded as failed with its rows (`import_id`), except in a dry run (None)."""

    def __init__(self, refusal: ImportFileError, errors: list[dict[str, Any]], import_id: UUID | None) -> None:
        super().__init__(refusal.code, refusal.message)
        self.errors, self.import_id = errors, import_id


@dataclass(frozen=True)
class PreparedRecords:
    """What an upload records, computed before touching the database or the broker; `refusal` is set when strict
    mode refuses the file (then nothing is to be published, and the job is recorded as failed)."""

    parsed: ParsedImport
    orders: list[Order]
    job: NewImport
    rows: RowColumns
    refusal: ImportFileError | None = None

    def refused(self, import_id: UUID | None) -> StrictModeRejected:
        assert self.refusal is not None
        return StrictModeRejected(self.refusal, [_issue(e) for e in self.parsed.errors], import_id)


@dataclass(frozen=True)
class PreparedImport:
    """Everything an upload computes before touching the database or the broker: its records and its messages."""

    records: PreparedRecords
    outgoing: list[OutgoingOrder]


def prepare_records(request: ImportRequest, options: ImportOptions, import_id: UUID) -> PreparedRecords:
    """Parse, apply the mode, encode every recorded row: CPU work, for an upload thread (none of it on the event
    loop). Raises ImportFileError for whole-file problems but a strict refusal, which is returned (`refusal`) so
    that it can be recorded. The messages are encoded apart (`encode_orders`), while the rows are recorded."""
    parsed = parse_import(
        request.data,
        request.filename,
        timezone=request.timezone,
        sheet=request.sheet,
        options=options,
        read=READERS.read,  # in a child process: no file can take the API down (`reader_processes`)
    )
    refusal: ImportFileError | None = None
    try:
        orders = accept(parsed, request.mode)  # type: ignore[arg-type]  # validated at the edge
    except ImportFileError as exc:
        if exc.code != issues.STRICT_MODE_REJECTED:
            raise
        orders, refusal = [], exc
    job = _new_import(request, import_id, parsed, len(orders), refusal)
    rows = import_jobs.row_columns(_rows(parsed, {o.order_no for o in orders}))
    return PreparedRecords(parsed, orders, job, rows, refusal)


def prepare_import(request: ImportRequest, options: ImportOptions, import_id: UUID) -> PreparedImport:
    """All the CPU work of an upload in one call on an upload thread: its records and every message (the dry run's
    path: it refuses what the import would refuse, message sizes included)."""
    records = prepare_records(request, options, import_id)
    return PreparedImport(records, encode_orders(records.orders, request.tenant_id, import_id))


def encode_orders(orders: Sequence[Order], tenant_id: UUID, import_id: UUID) -> list[OutgoingOrder]:
    """Each order's message; `ImportFileError(order_too_large)` when one would pass `bounds.MAX_MESSAGE_BYTES`.

    With the template's limits (500 lines, every text at its maximum length in 4-byte characters) a message stays
    far below the bound (a test computes that worst case), so this refusal is a guard, not a rule users meet."""
    outgoing = []
    tail = _message_fields(tenant_id, import_id)
    serialise = Order.__pydantic_serializer__.to_json
    for order in orders:
        value = serialise(order)[:-1] + tail
        item = OutgoingOrder(order.order_no, message_key(tenant_id, order.order_no), value)
        size = len(item.key) + len(item.value) + RECORD_OVERHEAD
        if size > bounds.MAX_MESSAGE_BYTES:
            raise ImportFileError(
                issues.ORDER_TOO_LARGE,
                f'Order "{order.order_no}" makes a message of {size:,} bytes; at most {bounds.MAX_MESSAGE_BYTES:,} '
                "bytes are accepted: split the order or shorten its texts. Nothing is imported.",
            )
        outgoing.append(item)
    return outgoing


async def submit_import(pool: Any, publish: Publish, request: ImportRequest, options: ImportOptions) -> ImportReceipt:
    import_id = uuid.uuid4()
    prepared = await run_in(UPLOADS, prepare_records, request, options, import_id)
    parsed, orders, job = prepared.parsed, prepared.orders, prepared.job
    outgoing = await _record_while_encoding(pool, prepared, request.tenant_id, import_id)
    if prepared.refusal is not None:
        raise prepared.refused(import_id)
    if outgoing:
        await _publish_all(pool, publish, request.tenant_id, import_id, outgoing)
    state = import_state(ImportCounts(job.state, job.orders_total, len(outgoing), 0, 0, 0, job.rows_invalid))
    return ImportReceipt(
        import_id,
        state,
        job.rows_total,
        job.rows_valid,
        job.rows_invalid,
        len(orders),
        job.orders_held_back,
        len(parsed.warnings),
        job.first_errors,
    )


async def _record_while_encoding(
    pool: Any, prepared: PreparedRecords, tenant_id: UUID, import_id: UUID
) -> list[OutgoingOrder]:
    """Record the job and its rows (one transaction) while an upload thread encodes the messages: the encoding's
    CPU overlaps the COPY's round trips. The transaction commits only once both succeeded, so a message refused
    for its size (`order_too_large`) leaves nothing recorded, as before anything is published."""
    async with pool.acquire() as conn, conn.transaction():
        recorded, encoded = await asyncio.gather(
            import_jobs.record_import(conn, prepared.job, prepared.rows),
            run_in(UPLOADS, encode_orders, prepared.orders, tenant_id, import_id),
            return_exceptions=True,  # both finish before the transaction ends: none is left on the connection
        )
        if isinstance(encoded, BaseException):  # the file's refusal first: it is what the user can act on
            raise encoded
        if isinstance(recorded, BaseException):
            raise recorded
    return encoded


async def _publish_all(
    pool: Any, publish: Publish, tenant_id: UUID, import_id: UUID, outgoing: Sequence[OutgoingOrder]
) -> None:
    try:
        results: Sequence[BaseException | None] = await publish(outgoing)
    except Exception as exc:  # the port reports per message; if it raised, nothing is known to be acknowledged
        results = [exc] * len(outgoing)
    failed = [item.order_no for item, result in zip(outgoing, results, strict=True) if result is not None]
    published = [item.order_no for item, result in zip(outgoing, results, strict=True) if result is None]
    async with pool.acquire() as conn:
        if not failed:
            await import_jobs.mark_published(conn, tenant_id, import_id, len(published))
            return
        errors = {type(result).__name__: result for result in results if result is not None}
        log.error("import %s: %d of %d orders not published: %r", import_id, len(failed), len(outgoing), errors)
        reason = publishing_failure(published, failed)
        async with conn.transaction():
            await import_jobs.mark_publish_failed(conn, tenant_id, import_id, len(published), failed, reason)
    raise PublishingFailed(import_id, len(published), len(outgoing), reason)


def _listed(order_nos: Sequence[str]) -> str:
    shown = ", ".join(f'"{no}"' for no in order_nos[:LISTED_ORDERS])
    more = len(order_nos) - LISTED_ORDERS
    return shown + (f" and {more:,} more" if more > 0 else "")


def publishing_failure(published: Sequence[str], failed: Sequence[str]) -> str:
    """The failure a user reads: how many orders were published and which, which were not, what to do."""
    total = len(published) + len(failed)
    text = f"publishing failed: {len(failed):,} of {total:,} orders were not published ({_listed(failed)})"
    if published:
        text += f"; {len(published):,} were published and are stored as they arrive ({_listed(published)})"
    return text + ". Upload the file again: orders already stored come out unchanged."


async def dry_run(pool: Any, request: ImportRequest, options: ImportOptions) -> DryRunReport:
    """What an import would do, order by order (outcome, customer and matching identifier); writes nothing.
    It refuses whatever the import would refuse, through the same parse, mode and message-size checks."""
    prepared = (await run_in(UPLOADS, prepare_import, request, options, uuid.uuid4())).records
    if prepared.refusal is not None:
        raise prepared.refused(None)
    orders = prepared.orders
    items = [Incoming(i, request.tenant_id, order, None, "import") for i, order in enumerate(orders)]
    async with pool.acquire() as conn, conn.transaction(readonly=True):
        stored = await order_store.load_stored(conn, [(request.tenant_id, o.order_no) for o in orders], lock=False)
        index = await order_store.load_customer_index(
            conn, request.tenant_id, [o.buyer for o in orders], [s.row.customer_id for s in stored.values()]
        )
    plan = await run_in(UPLOADS, plan_round, items, stored, {request.tenant_id: index}, uuid.uuid4)
    new_customers = {c.id for _, c in plan.new_customers}
    planned = [
        PlannedOrder(
            o.order_no,
            o.outcome,
            o.detail,
            None if o.customer_id in new_customers else o.customer_id,
            o.customer_id in new_customers,
            o.matched_by,
        )
        for o in plan.outcomes
    ]
    job = prepared.job
    return DryRunReport(
        job.rows_total, job.rows_valid, job.rows_invalid, job.orders_held_back, job.first_errors, planned
    )


def message(order: Order, tenant_id: UUID, import_id: UUID) -> OrderIngestV1:
    """The order's message as a model (the parser validated `order` already: no second validation pass)."""
    return OrderIngestV1.model_construct(
        **dict(order), schema_version=1, tenant_id=tenant_id, import_id=import_id, producer="import"
    )


def _message_fields(tenant_id: UUID, import_id: UUID) -> bytes:
    """The JSON that `message(...)` writes after the order's own fields (pydantic writes a subclass's fields after
    its parent's), closing the object: an order's JSON without its `}` plus this is exactly the message's JSON
    (tested), without building a model per order."""
    return f',"schema_version":1,"tenant_id":"{tenant_id}","import_id":"{import_id}","producer":"import"}}'.encode()


def _new_import(
    request: ImportRequest, import_id: UUID, parsed: ParsedImport, orders: int, refusal: ImportFileError | None
) -> NewImport:
    return NewImport(
        tenant_id=request.tenant_id,
        import_id=import_id,
        filename=storable_filename(request.filename),
        mode=request.mode,
        timezone=request.timezone,
        rows_total=parsed.counts.rows,
        rows_valid=parsed.counts.valid_rows,
        rows_invalid=parsed.counts.invalid_rows,
        orders_total=orders,
        orders_held_back=len(parsed.held_back),
        header=list(parsed.header),
        first_errors=[_issue(e) for e in parsed.errors[:FIRST_ERRORS]],
        warnings=[_issue(w) for w in parsed.warnings],
        refused=refusal is not None,
        failure=None if refusal is None else refusal.message,
    )


def _issue(issue: Any) -> dict[str, Any]:
    return {
        "row": issue.row,
        "column": issue.column,
        "code": issue.code,
        "message": issue.message,
        "value": issue.value,
    }


def _order_of_rows(parsed: ParsedImport) -> dict[int, str]:
    """Sheet row -> order no., for the rows that belong to an order (accepted or held back)."""
    owner = {line.row_no: order.order_no for order in parsed.orders for line in order.lines if line.row_no}
    owner.update({row_no: held.order_no for held in parsed.held_back for row_no in held.rows})
    return owner


def _by_row(found: Sequence[RowIssue]) -> dict[int, list[RowIssue]]:
    by_row: dict[int, list[RowIssue]] = {}
    for issue in found:
        if issue.row is not None:
            by_row.setdefault(issue.row, []).append(issue)
    return by_row


def _rows(parsed: ParsedImport, accepted: set[str]) -> list[ImportRow]:
    errors, warnings = _by_row(parsed.errors), _by_row(parsed.warnings)
    owners = _order_of_rows(parsed)
    rows = []
    for row_no, cells in parsed.rows:
        order_no = owners.get(row_no)
        warned = import_jobs.encode_issues(warnings[row_no]) if row_no in warnings else ""
        failed = errors.get(row_no)
        if failed:  # the rare row with errors: the columns in error, once each, in the order found
            columns = tuple(dict.fromkeys(name for i in failed if i.column for name in i.column.split(", ")))
            found = import_jobs.encode_issues(failed)
            rows.append(ImportRow(row_no, order_no, list(cells), "invalid", found, warned, columns))
        else:
            outcome = "queued" if order_no in accepted else "held_back"
            rows.append(ImportRow(row_no, order_no, list(cells), outcome, "", warned))
    return rows
