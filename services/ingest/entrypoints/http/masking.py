"""Masked mobiles for API callers of a tenant configured so (`orderinfo customers mask-mobiles --tenant T on`).

The setting is per tenant (`tenant_settings.mask_mobiles`) until keys carry scopes; then it belongs to `read`-scoped
keys. The setting is read here, at the edge; `application/answers.py` masks what a response carries: the customer's
mobile, the buyer's and the receiver's mobiles of an order (see `domain.erasure.mask_mobile`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.ingest.adapters.erasure_store import masks_mobiles
from services.ingest.entrypoints.http.dependencies import CurrentTenant


async def masking(request: Request, tenant: CurrentTenant) -> bool:
    async with request.app.state.pool.acquire() as conn:
        return await masks_mobiles(conn, tenant.id)


MaskMobiles = Annotated[bool, Depends(masking)]
