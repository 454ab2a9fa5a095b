"""`/v1/customers`: a customer's identifiers, persona and latest orders (an agent's sidebar)."""

from __future__ import annotations

import logging
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import ValidationError

from services.core.persona import PersonaV1
from services.ingest.adapters import queries
from services.ingest.adapters.queries import OrderFilter
from services.ingest.domain.language import Lang
from services.ingest.domain.spreadsheet.values import Invalid, normalise_mobile, parse_mobile
from services.ingest.entrypoints.http.dependencies import CurrentTenant, Pool, RequestLang
from services.ingest.entrypoints.http.masking import MaskMobiles, masked_customer
from services.ingest.entrypoints.http.orders import summary
from services.ingest.entrypoints.http.problems import ApiProblem, problem_responses
from services.ingest.entrypoints.http.schemas import CustomerOut

log = logging.getLogger("orderinfo.http.customers")
router = APIRouter(prefix="/v1/customers", tags=["customers"])

RECENT_ORDERS = 10
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
    async with pool.acquire() as conn:
        found = await queries.get_customer(conn, tenant.id, customer_id)
        return masked_customer(await _with_orders(conn, tenant.id, found, f"no customer {customer_id}", lang), mask)


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
    given = {k: v for k, v in (("mobile", mobile), ("unionid", unionid), ("sobot_customer_id", sobot_customer_id)) if v}
    if len(given) != 1:
        raise ApiProblem(
            422, "Invalid request", "give exactly one of mobile, unionid, sobot_customer_id", "one_identifier_required"
        )
    [(identifier, value)] = given.items()
    value = _normalised(identifier, value)
    async with pool.acquire() as conn:
        found = await queries.find_customer(conn, tenant.id, identifier, value)
        found_out = await _with_orders(conn, tenant.id, found, f"no customer with this {identifier}", lang)
    return masked_customer(found_out, mask)


def _normalised(identifier: str, value: str) -> str:
    """The identifier as imports store it (a mobile without spaces, dashes or +86), or a 422 naming the problem."""
    value = value.strip()
    if identifier != "mobile":
        return value
    mobile = parse_mobile(value, frozenset())
    if isinstance(mobile, Invalid):
        raise ApiProblem(422, "Invalid request", f"mobile {mobile.problem}: expected {mobile.expected}", mobile.code)
    return mobile if isinstance(mobile, str) else normalise_mobile(value)


async def _with_orders(
    conn: Any, tenant_id: UUID, customer: dict[str, Any] | None, missing: str, lang: Lang
) -> CustomerOut:
    if customer is None:
        raise ApiProblem(404, "Not Found", missing, "customer_not_found")
    orders = await queries.list_orders(conn, tenant_id, OrderFilter(customer_id=customer["id"]), limit=RECENT_ORDERS)
    persona = _persona(customer)
    return CustomerOut(**{**customer, "persona": persona}, recent_orders=[summary(o, lang) for o in orders])


def _persona(customer: dict[str, Any]) -> PersonaV1 | None:
    """The stored persona in its published shape; None (logged) for one stored before that shape."""
    try:
        return PersonaV1.model_validate(customer["persona"])
    except ValidationError:
        log.warning("customer %s: stored persona does not match PersonaV1", customer["id"])
        return None
