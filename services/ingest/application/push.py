"""Pushing orders over HTTP (`POST /v1/orders:batch`): validate every order at once, publish the valid ones.

Guarantees:
- Every order is validated by the consumer's own code (`ingestion.decode`, the `orders.ingest.v1` contract, its
  bounds and the placeholder mobiles) on exactly the bytes that are then published: an order answered `accepted`
  passes the consumer's validation (it may still be `rejected` when merged: see docs/merging.md).
- Per order: the valid orders are published, each with its key, the invalid ones answered with their reason; an
  order naming another tenant refuses the whole request (nothing is published).
- Publishing is all or nothing as far as the answer goes: every accepted order was acknowledged by the broker, or
  `PushNotPublished` says which were (they are stored as they arrive; pushing again is harmless).
- With an `Idempotency-Key`, the first complete answer is kept (per tenant, for a retention): the same key and
  body answer it again and publish nothing; the same key with another body is `IdempotencyConflict`. A request
  that did not complete (refused as a whole, throttled, not published) keeps nothing: it may be sent again.
  Once the orders are published the request is answered, even when its answer cannot be kept (logged): its key
  then stays claimed (`IdempotencyConflict`, in progress) until the claim counts as abandoned
  (`push_requests.ABANDONED_AFTER_S`), after which the same request publishes again (harmless). A request refused
  for its own reason keeps that reason even when its key cannot be released.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any
from uuid import UUID

from services.core import bounds
from services.core.keys import order_key
from services.ingest import errors
from services.ingest.adapters import push_requests
from services.ingest.adapters.push_requests import Replay
from services.ingest.application.imports import LISTED_ORDERS, RECORD_OVERHEAD, OutgoingOrder, Publish
from services.ingest.application.ingestion import Received, decode
from services.ingest.application.workers import PUSHES, run_in
from services.ingest.contracts.orders_ingest_v1 import message_key
from services.ingest.domain.push import (
    MAX_ORDERS,
    TOO_DEEP,
    LongInteger,
    RawOrder,
    charge,
    empty_tenant_ids,
    foreign_orders,
    message_text,
    split_orders,
)
from services.ingest.domain.spreadsheet.values import DEFAULT_PLACEHOLDER_MOBILES

log = logging.getLogger(__name__)
ACCEPTED, REJECTED = "accepted", "rejected"
ORDER_TOO_LARGE, NOT_AN_OBJECT, IMPORT_ID_GIVEN = "order_too_large", "not_an_object", "import_id_not_allowed"


@dataclass(frozen=True)
class PushRequest:
    tenant_id: UUID
    producer: str  # the API key's name: the stored orders' `producer`
    body: bytes
    idempotency_key: str | None = None


@dataclass(frozen=True)
class PushOptions:
    max_orders: int = MAX_ORDERS
    placeholder_mobiles: frozenset[str] = DEFAULT_PLACEHOLDER_MOBILES


@dataclass(frozen=True, slots=True)
class OrderAnswer:
    index: int
    order_no: str | None
    outcome: str  # accepted | rejected
    code: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class PushAnswer:
    accepted: int
    rejected: int
    orders: list[OrderAnswer]
    replayed: bool = False

    def document(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "rejected": self.rejected,
            "orders": [{k: v for k, v in asdict(o).items() if v is not None} for o in self.orders],
        }


@dataclass(frozen=True)
class PreparedPush:
    answers: list[OrderAnswer]
    outgoing: list[OutgoingOrder]


class TenantMismatch(Exception):
    """Orders name a tenant other than the key's (`indexes`); `empty` of them give an empty `tenant_id`."""

    def __init__(self, indexes: Sequence[int], empty: Sequence[int] = ()) -> None:
        super().__init__(f"orders {list(indexes)[:10]} name another tenant")
        self.indexes, self.empty = tuple(indexes), tuple(empty)


class IdempotencyConflict(Exception):
    """The Idempotency-Key was used with another body, or its first request is still being handled."""

    def __init__(self, in_progress: bool) -> None:
        super().__init__("in progress" if in_progress else "another body")
        self.in_progress = in_progress


class PushNotPublished(Exception):
    def __init__(self, published: int, total: int, reason: str) -> None:
        super().__init__(reason)
        self.published, self.total, self.reason = published, total, reason


Admit = Callable[[int], None]  # charges n orders' worth to the tenant's rate limit; raises when over it


def validate_push(orders: Sequence[RawOrder], request: PushRequest, options: PushOptions) -> PreparedPush:
    """Each order's answer and the messages of the accepted ones, in order; pure (CPU only)."""
    answers: dict[int, OrderAnswer] = {}
    candidates: list[tuple[RawOrder, bytes]] = []
    for order in orders:
        problem = _shape_problem(order)
        if problem is not None:
            answers[order.index] = problem
        else:
            candidates.append((order, message_text(order, request.tenant_id, request.producer).encode()))
    records = [Received(o.index, "push", 0, o.index, _key(request.tenant_id, o.value), v) for o, v in candidates]
    incoming, rejected = decode(records, options.placeholder_mobiles)
    for bad in rejected:
        answers[bad.ref] = OrderAnswer(bad.ref, bad.order_no, REJECTED, bad.reason, bad.message)
    values = {o.index: v for o, v in candidates}
    outgoing = []
    for item in incoming:
        order_no = item.order.order_no
        key, value = message_key(request.tenant_id, order_no), values[item.ref]
        size = len(key) + len(value) + RECORD_OVERHEAD
        if size > bounds.MAX_MESSAGE_BYTES:
            detail = f"the order makes a message of {size:,} bytes; at most {bounds.MAX_MESSAGE_BYTES:,} are accepted"
            answers[item.ref] = OrderAnswer(item.ref, order_no, REJECTED, ORDER_TOO_LARGE, detail)
            continue
        answers[item.ref] = OrderAnswer(item.ref, order_no, ACCEPTED)
        outgoing.append(OutgoingOrder(order_no, key, value))
    return PreparedPush([answers[o.index] for o in orders], outgoing)


def _shape_problem(order: RawOrder) -> OrderAnswer | None:
    if order.value is TOO_DEEP:
        message = "the order is JSON nested too deeply (at most 200 levels)"
        return OrderAnswer(order.index, None, REJECTED, errors.INVALID_JSON, message)
    if not isinstance(order.value, dict):
        kind = "int" if isinstance(order.value, LongInteger) else type(order.value).__name__
        message = f"an order is a JSON object, found {kind}"
        return OrderAnswer(order.index, None, REJECTED, NOT_AN_OBJECT, message)
    if order.value.get("import_id") is not None:
        message = "import_id: pushed orders belong to no upload; leave import_id out"
        return OrderAnswer(
            order.index, bounds.storable_text(order.value.get("order_no")), REJECTED, IMPORT_ID_GIVEN, message
        )
    return None


def _key(tenant_id: UUID, value: dict[str, Any]) -> bytes:
    """The record's key as the topic would carry it; an order no. that is no text (the order is rejected for it)
    keys as none."""
    return order_key(tenant_id, bounds.storable_text(value.get("order_no")) or "").encode()


def body_digest(body: bytes) -> bytes:
    return hashlib.sha256(body).digest()


def read_push(request: PushRequest, options: PushOptions) -> list[RawOrder]:
    """The body's orders, all of this tenant; raises `PushBodyError` or `TenantMismatch`."""
    orders = split_orders(request.body, options.max_orders)
    foreign = foreign_orders(orders, request.tenant_id)
    if foreign:
        raise TenantMismatch(foreign, empty_tenant_ids(orders, foreign))
    return orders


async def prepare_push(request: PushRequest, options: PushOptions, admit: Admit) -> PreparedPush:
    """Read, charge the rate limit (`admit` raises when over it; an order of many lines costs more than one, see
    `domain.push.charge`), validate; the CPU work on a worker thread."""
    orders = await run_in(PUSHES, read_push, request, options)
    admit(charge(orders))
    return await run_in(PUSHES, validate_push, orders, request, options)


async def push_orders(
    pool: Any, publish: Publish, request: PushRequest, options: PushOptions, admit: Admit, retention_s: float
) -> PushAnswer:
    """Validate and publish a pushed batch (see the module's guarantees)."""
    key = request.idempotency_key
    if key is not None:
        async with pool.acquire() as conn:
            claim = await push_requests.claim(conn, request.tenant_id, key, body_digest(request.body), retention_s)
        if isinstance(claim, Replay):
            if claim.body_sha256 != body_digest(request.body) or claim.response is None:
                raise IdempotencyConflict(in_progress=claim.body_sha256 == body_digest(request.body))
            return _replayed(claim.response)
    try:
        prepared = await prepare_push(request, options, admit)
        if prepared.outgoing:
            await _publish_all(publish, prepared.outgoing)
    except BaseException:
        if key is not None:
            await _release(pool, request.tenant_id, key)
        raise
    accepted = len(prepared.outgoing)
    answer = PushAnswer(accepted, len(prepared.answers) - accepted, prepared.answers)
    if key is not None:
        await _keep(pool, request.tenant_id, key, answer)
    return answer


async def _release(pool: Any, tenant_id: UUID, key: str) -> None:
    """Free the key of a request that did not complete; a failure is logged, never raised over the request's own."""
    try:
        async with pool.acquire() as conn:
            await push_requests.release(conn, tenant_id, key)
    except Exception:
        log.warning("could not release Idempotency-Key %r of tenant %s", key, tenant_id, exc_info=True)


async def _keep(pool: Any, tenant_id: UUID, key: str, answer: PushAnswer) -> None:
    """Keep the answer of a published request; a failure is logged: the orders are in, the answer is theirs."""
    try:
        async with pool.acquire() as conn:
            await push_requests.complete(conn, tenant_id, key, answer.document())
    except Exception:
        log.warning(
            "could not keep the answer of the push with Idempotency-Key %r of tenant %s (%d accepted, published); "
            "the key is held for %.0f s",
            key,
            tenant_id,
            answer.accepted,
            push_requests.ABANDONED_AFTER_S,
            exc_info=True,
        )


async def _publish_all(publish: Publish, outgoing: Sequence[OutgoingOrder]) -> None:
    try:
        results: Sequence[BaseException | None] = await publish(outgoing)
    except Exception as exc:  # the port reports per message; if it raised, nothing is known to be acknowledged
        results = [exc] * len(outgoing)
    failed = [item.order_no for item, result in zip(outgoing, results, strict=True) if result is not None]
    if failed:
        published = [item.order_no for item, result in zip(outgoing, results, strict=True) if result is None]
        reason = f"publishing failed: {len(failed):,} of {len(outgoing):,} accepted orders were not published"
        reason += f" ({listed(failed)})"
        if published:
            reason += f"; {len(published):,} were and are stored as they arrive ({listed(published)})"
        raise PushNotPublished(
            len(published), len(outgoing), reason + ". Push them again: stored orders come out unchanged."
        )


def listed(order_nos: Sequence[str]) -> str:
    more = len(order_nos) - LISTED_ORDERS
    return ", ".join(map(json.dumps, order_nos[:LISTED_ORDERS])) + (f" and {more:,} more" if more > 0 else "")


def _replayed(document: dict[str, Any]) -> PushAnswer:
    orders = [
        OrderAnswer(o["index"], o.get("order_no"), o["outcome"], o.get("code"), o.get("message"))
        for o in document["orders"]
    ]
    return PushAnswer(document["accepted"], document["rejected"], orders, replayed=True)
