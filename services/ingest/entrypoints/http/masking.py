"""Masked mobiles for API callers of a tenant configured so (`orderinfo customers mask-mobiles --tenant T on`).

The setting is per tenant (`tenant_settings.mask_mobiles`) until keys carry scopes; then it belongs to `read`-scoped
keys. The setting is read here, at the edge; `application/answers.py` masks what a response carries: the customer's
mobile, the buyer's and the receiver's mobiles of an order and of an order export (see `domain.erasure.mask_mobile`),
and, for a key without the import scope, those of an import's result and failed-rows workbooks.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.ingest.adapters.erasure_store import masks_mobiles
from services.ingest.domain.api_keys import Scope
from services.ingest.entrypoints.http.dependencies import CurrentTenant, ImportOrReadTenant


async def masking(request: Request, tenant: CurrentTenant) -> bool:
    async with request.app.state.pool.acquire() as conn:
        return await masks_mobiles(conn, tenant.id)


MaskMobiles = Annotated[bool, Depends(masking)]


async def upload_masking(request: Request, tenant: ImportOrReadTenant) -> bool:
    """For an import's workbooks (its uploaded rows): a key with the import scope gets them as they were uploaded
    (it could upload them); any other key of a masking tenant gets the mobiles masked, as the order details."""
    return Scope.IMPORT not in tenant.scopes and await masking(request, tenant)


MaskUploadedMobiles = Annotated[bool, Depends(upload_masking)]
