"""Per-request dependencies: the tenant behind the API key, the pool from the app's state, the answer's language."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Request, Security
from fastapi.security import APIKeyHeader

from services.ingest.adapters.tenants import Tenant, tenant_for_key
from services.ingest.domain.language import Lang, choose_lang
from services.ingest.entrypoints.http.problems import ApiProblem

_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="The tenant's API key.")


def pool(request: Request) -> Any:
    return request.app.state.pool


GATED_TENANT = "orderinfo.gated_tenant"  # in the ASGI scope's state: the tenant `limits.UploadGate` authenticated


def gated_tenant(request: Request) -> Tenant | None:
    """The tenant the upload gate authenticated from this request's head (before its body was read), if it ran."""
    found: Tenant | None = request.scope.get("state", {}).get(GATED_TENANT)
    return found


async def tenant_of_request(request: Request) -> Tenant:
    """The tenant owning the request's X-API-Key; 401 (saying nothing more) for a missing or wrong key."""
    found = gated_tenant(request)
    if found is not None:
        return found
    api_key = request.headers.get("x-api-key")
    if api_key:
        async with request.app.state.pool.acquire() as conn:
            found = await tenant_for_key(conn, api_key)
    if found is None:
        raise ApiProblem(401, "Unauthorized", "a valid X-API-Key header is required", code="unauthorized")
    return found


async def tenant(request: Request, _: Annotated[str | None, Security(_api_key)]) -> Tenant:
    """The tenant owning the key; 401 (saying nothing more) for a missing or wrong key."""
    return await tenant_of_request(request)


CurrentTenant = Annotated[Tenant, Depends(tenant)]
Pool = Annotated[Any, Depends(pool)]


def request_lang(
    request: Request,
    lang: Annotated[
        Lang | None,
        Query(
            description="The language of labels and messages: `zh` (zh-CN, the default) or `en`. Wins over the "
            "`Accept-Language` header."
        ),
    ] = None,
) -> Lang:
    """The language of the answer: `?lang=`, else `Accept-Language` (zh or en, by weight), else zh-CN."""
    return choose_lang(lang, request.headers.get("accept-language"))


RequestLang = Annotated[Lang, Depends(request_lang)]
AdminTenant = CurrentTenant  # replaced by the push branch's scope check
