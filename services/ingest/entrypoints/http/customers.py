"""`/v1/customers`: a customer's identifiers, persona and latest orders (an agent's sidebar), read by
`application/customers.py`."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from services.ingest.application import customers
from services.ingest.application.answers import CustomerOut
from services.ingest.entrypoints.http.dependencies import CurrentTenant, Pool, RequestLang
from services.ingest.entrypoints.http.masking import MaskMobiles
from services.ingest.entrypoints.http.problems import problem_responses

router = APIRouter(prefix="/v1/customers", tags=["customers"])
Identifier = Annotated[str | None, Query(min_length=1, max_length=64, pattern=r"^[^\x00]*$")]


@router.get(
    "/{customer_id}",
    response_model=CustomerOut,
    responses=problem_responses(401, 404, 422),
    summary="A customer by id: identifiers, persona and the latest 10 orders",
)
async def get_customer(
    customer_id: UUID, tenant: CurrentTenant, pool: Pool, lang: RequestLang, mask: MaskMobiles
) -> CustomerOut:
    return await customers.customer_by_id(pool, tenant.id, customer_id, lang, mask)


@router.get(
    "",
    response_model=CustomerOut,
    responses=problem_responses(401, 404, 422),
    summary="The customer holding one identifier (exactly one of mobile, unionid, sobot_customer_id)",
)
async def find_customer(
    tenant: CurrentTenant,
    pool: Pool,
    lang: RequestLang,
    mask: MaskMobiles,
    mobile: Identifier = None,
    unionid: Identifier = None,
    sobot_customer_id: Identifier = None,
) -> CustomerOut:
    given = {"mobile": mobile, "unionid": unionid, "sobot_customer_id": sobot_customer_id}
    return await customers.customer_by_identifier(pool, tenant.id, lang, mask, given)
