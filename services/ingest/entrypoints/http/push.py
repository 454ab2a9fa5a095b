"""`POST /v1/orders:batch`: an integration pushes up to 1,000 orders; each is answered, the valid ones published.

See `application.push` for the guarantees and docs/push-api.md for who should use this path (integrations outside
the platform) and who the topic (trusted platform producers).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from services.ingest.application.import_answers import PUBLISH_RETRY_AFTER_SECONDS
from services.ingest.application.push import (
    IdempotencyConflict,
    PushAnswer,
    PushNotPublished,
    PushOptions,
    PushRequest,
    TenantMismatch,
    push_orders,
)
from services.ingest.domain.language import Lang
from services.ingest.domain.push import MAX_ORDERS, PushBodyError
from services.ingest.entrypoints.http.dependencies import OrderPublish, Pool, PushTenant, RequestLang
from services.ingest.entrypoints.http.problems import problem_response, problem_responses
from services.ingest.entrypoints.http.quotas import Quotas
from services.ingest.errors import ApiProblem, Problem

router = APIRouter(tags=["push"])
MAX_IDEMPOTENCY_KEY = 255
_BODY_STATUS = {"too_many_orders": 413}
_BODY_SCHEMA = {
    "type": "object",
    "required": ["orders"],
    "additionalProperties": False,
    "properties": {
        "orders": {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_ORDERS,
            "description": "orders.ingest.v1 messages without tenant_id (the key's tenant), import_id and producer",
            "items": {"type": "object"},
        }
    },
}


class OrderAnswerOut(BaseModel):
    index: int
    order_no: str | None = None
    outcome: Literal["accepted", "rejected"]
    code: str | None = None
    message: str | None = None


class PushOut(BaseModel):
    accepted: int
    rejected: int
    orders: list[OrderAnswerOut]


@router.post(
    "/v1/orders:batch",
    status_code=202,
    response_model=PushOut,
    response_model_exclude_none=True,
    responses=problem_responses(401, 403, 408, 409, 413, 422, 429, 503),
    summary="Push up to 1,000 orders (orders.ingest.v1, the key's tenant): each answered, the valid ones published",
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": _BODY_SCHEMA}}}},
)
async def push_batch(
    request: Request,
    tenant: PushTenant,
    pool: Pool,
    publish: OrderPublish,
    lang: RequestLang,
    idempotency_key: Annotated[
        str | None,
        Header(alias="Idempotency-Key", description="Same key and body: the same answer, nothing published again."),
    ] = None,
) -> Any:
    settings = request.app.state.settings
    _check_idempotency_key(idempotency_key, len(request.headers.getlist("idempotency-key")))
    body = await _body(request, settings.push_max_bytes)
    quotas: Quotas = request.app.state.quotas
    push = PushRequest(tenant.id, tenant.key_name, body, idempotency_key)
    options: PushOptions = request.app.state.push_options
    retention_s = settings.push_idempotency_retention_hours * 3600
    try:
        answer = await push_orders(
            pool,
            publish,
            push,
            options,
            lambda orders: quotas.admit_push(tenant, orders),
            retention_s,
        )
    except PushBodyError as exc:
        raise ApiProblem(_BODY_STATUS.get(exc.code, 422), "Push refused", exc.message, exc.code) from exc
    except TenantMismatch as exc:
        raise _tenant_refusal(exc, tenant.id, lang) from exc
    except IdempotencyConflict as exc:
        raise _conflict(exc) from exc
    except PushNotPublished as exc:
        return _not_published(exc)
    return _answer(request, answer)


def _tenant_refusal(exc: TenantMismatch, tenant_id: UUID, lang: Lang) -> ApiProblem:
    """403 `tenant_mismatch` for orders naming another tenant; 422 `empty_tenant_id` when the only ones refused give
    an empty `tenant_id` (no tenant named: it was worded as "another tenant")."""
    if exc.empty and len(exc.empty) == len(exc.indexes):
        listed = ", ".join(map(str, exc.empty[:10])) + (" …" if len(exc.empty) > 10 else "")
        detail = (
            f"tenant_id 为空（orders 中 index 为 {listed} 的订单）：请删去 tenant_id（订单即属于此 API 密钥的租户 "
            f"{tenant_id}），或填写该租户的 ID。未发布任何订单。"
            if lang is Lang.ZH
            else f"tenant_id is empty (the orders at index {listed}): leave tenant_id out (the orders are this key's "
            f"tenant, {tenant_id}) or give that tenant's id. Nothing is published."
        )
        errors = [{"index": i, "code": "empty_tenant_id"} for i in exc.empty[:100]]
        return ApiProblem(422, "Empty tenant_id", detail, "empty_tenant_id", errors)
    detail = f"orders name another tenant than this key's ({tenant_id}): leave tenant_id out. Nothing is published."
    empty = set(exc.empty)
    errors = [{"index": i, "code": "empty_tenant_id" if i in empty else "tenant_mismatch"} for i in exc.indexes[:100]]
    return ApiProblem(403, "Another tenant's orders", detail, "tenant_mismatch", errors)


def _check_idempotency_key(key: str | None, headers: int) -> None:
    if headers > 1:
        detail = f"send one Idempotency-Key header, not {headers}: which one would name this batch?"
        raise ApiProblem(422, "Invalid Idempotency-Key", detail, "invalid_idempotency_key")
    if key is not None and not (1 <= len(key) <= MAX_IDEMPOTENCY_KEY and key.isascii() and key.isprintable()):
        detail = f"Idempotency-Key: expected 1 to {MAX_IDEMPOTENCY_KEY} printable ASCII characters"
        raise ApiProblem(422, "Invalid Idempotency-Key", detail, "invalid_idempotency_key")


async def _body(request: Request, limit: int) -> bytes:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ApiProblem(413, "Request too large", f"a push body is limited to {limit:,} bytes", "push_too_large")
    return bytes(body)


def _conflict(exc: IdempotencyConflict) -> ApiProblem:
    if exc.in_progress:
        detail = "a request with this Idempotency-Key is still being handled: try again in a moment"
        return ApiProblem(409, "Idempotency-Key in use", detail, "idempotency_key_in_use", headers={"Retry-After": "1"})
    detail = "this Idempotency-Key was used with another body: use a new key for a new batch"
    return ApiProblem(409, "Idempotency-Key reused", detail, "idempotency_key_reused")


def _answer(request: Request, answer: PushAnswer) -> Response:
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else {}
    if not answer.replayed:
        pushed = request.app.state.quotas.metrics.pushed
        pushed.labels("accepted").inc(answer.accepted)
        pushed.labels("rejected").inc(answer.rejected)
    return JSONResponse(answer.document(), status_code=202, headers=headers)


def _not_published(exc: PushNotPublished) -> Response:
    problem = Problem(
        type="https://orderinfo.dev/problems/publishing_failed",
        title="Push not fully published",
        status=503,
        detail=exc.reason,
        code="publishing_failed",
        errors=[{"orders_published": exc.published, "orders_accepted": exc.total}],
    )
    return problem_response(problem, {"Retry-After": str(PUBLISH_RETRY_AFTER_SECONDS)})
