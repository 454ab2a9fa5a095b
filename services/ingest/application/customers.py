"""Reading customers, for the API (`/v1/customers`, an agent's sidebar) and the console alike: a customer by id or
by one identifier (a mobile normalised as imports store it), with its persona and latest orders, within one tenant.

A refused request is an `ApiProblem` (not exactly one identifier, an invalid mobile: 422; no such customer: 404).
"""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from services.core.persona import PersonaV1
from services.ingest.adapters import queries
from services.ingest.adapters.queries import OrderFilter
from services.ingest.application.answers import CustomerOut, masked_customer
from services.ingest.application.orders import summary
from services.ingest.domain.language import Lang
from services.ingest.domain.spreadsheet.values import Invalid, normalise_mobile, parse_mobile
from services.ingest.errors import ApiProblem

log = logging.getLogger("orderinfo.customers")
RECENT_ORDERS = 10
IDENTIFIERS = ("mobile", "unionid", "sobot_customer_id")
Pool = Any


async def customer_by_id(pool: Pool, tenant_id: UUID, customer_id: UUID, lang: Lang, mask: bool) -> CustomerOut:
    async with pool.acquire() as conn:
        found = await queries.get_customer(conn, tenant_id, customer_id)
        return masked_customer(await _with_orders(conn, tenant_id, found, f"no customer {customer_id}", lang), mask)


async def customer_by_identifier(
    pool: Pool, tenant_id: UUID, lang: Lang, mask: bool, given: dict[str, str | None]
) -> CustomerOut:
    """The customer holding the one identifier of `given` (its keys among `IDENTIFIERS`, the others None)."""
    named = {k: v for k, v in given.items() if v}
    if len(named) != 1:
        raise ApiProblem(
            422, "Invalid request", "give exactly one of mobile, unionid, sobot_customer_id", "one_identifier_required"
        )
    [(identifier, value)] = named.items()
    value = _normalised(identifier, value)
    async with pool.acquire() as conn:
        found = await queries.find_customer(conn, tenant_id, identifier, value)
        found_out = await _with_orders(conn, tenant_id, found, f"no customer with this {identifier}", lang)
    return masked_customer(found_out, mask)


def _normalised(identifier: str, value: str) -> str:
    """The identifier as imports store it (a mobile without spaces, dashes or +86), or a 422 naming the problem (a
    blank one would find nobody: no stored identifier is blank)."""
    value = value.strip()
    if not value:
        raise ApiProblem(422, "Blank filter", f"{identifier}: holds only whitespace", "blank_filter")
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
