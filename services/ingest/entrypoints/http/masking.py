"""Masked mobiles for API callers of a tenant configured so (`orderinfo customers mask-mobiles --tenant T on`).

The setting is per tenant (`tenant_settings.mask_mobiles`) until keys carry scopes; then it belongs to `read`-scoped
keys. Masking happens here, at the edge, on what a response carries: the customer's mobile, the buyer's and the
receiver's mobiles of an order (see `domain.erasure.mask_mobile`).
"""

from __future__ import annotations

from typing import Annotated, TypeVar

from fastapi import Depends, Request

from services.ingest.adapters.erasure_store import masks_mobiles
from services.ingest.domain.erasure import mask_mobile
from services.ingest.entrypoints.http.dependencies import CurrentTenant
from services.ingest.entrypoints.http.schemas import CustomerIdentifiers, OrderDetail

C = TypeVar("C", bound=CustomerIdentifiers)


async def masking(request: Request, tenant: CurrentTenant) -> bool:
    async with request.app.state.pool.acquire() as conn:
        return await masks_mobiles(conn, tenant.id)


MaskMobiles = Annotated[bool, Depends(masking)]


def masked_customer(customer: C, mask: bool) -> C:
    return customer.model_copy(update={"mobile": mask_mobile(customer.mobile)}) if mask else customer


def masked_order(order: OrderDetail, mask: bool) -> OrderDetail:
    if not mask:
        return order
    receiver = order.receiver and {**order.receiver, "mobile": mask_mobile(order.receiver.get("mobile"))}
    return order.model_copy(
        update={
            "buyer": {**order.buyer, "mobile": mask_mobile(order.buyer.get("mobile"))} if order.buyer else order.buyer,
            "receiver": receiver,
            "customer": order.customer and masked_customer(order.customer, mask),
        }
    )
