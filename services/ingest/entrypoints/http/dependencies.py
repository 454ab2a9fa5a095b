"""Per-request dependencies: the tenant behind the API key and its scopes, the answer's language, and what the
composition root put on the app's state (the settings, the pool, the order publisher over the broker, the order
events' topic): handlers take them all through `Depends`, never from `request.app.state`.

Every route declares the scope it needs (a test walks the routes): `require_scope(Scope.X)` is the dependency, and
`CurrentTenant` (read), `ImportTenant`, `PushTenant` and `AdminTenant` are the annotated forms. A missing or
wrong key is a 401 saying nothing more; a valid key without the scope a 403 naming the scope it lacks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Query, Request, Security
from fastapi.security import APIKeyHeader

from services.ingest.adapters.tenants import Tenant, tenant_for_key
from services.ingest.application.imports import Publish
from services.ingest.application.uploads import order_publishing
from services.ingest.domain.api_keys import Scope
from services.ingest.domain.language import Lang, choose_lang
from services.ingest.errors import ApiProblem
from services.ingest.settings import IngestSettings

_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key of the tenant.")


def pool(request: Request) -> Any:
    return request.app.state.pool


def settings(request: Request) -> IngestSettings:
    found: IngestSettings = request.app.state.settings
    return found


def order_publish(request: Request) -> Publish:
    """Publishing an upload's orders over the app's broker (`application.uploads.order_publishing`)."""
    return order_publishing(request.app.state.settings, request.app.state.broker)


def events_topic(request: Request) -> str:
    """The topic whose outbox rows are an order's events (the composition root names it)."""
    found: str = request.app.state.events_topic
    return found


GATED_TENANT = "orderinfo.gated_tenant"  # in the ASGI scope's state: the tenant `limits.UploadGate` authenticated


def gated_tenant(request: Request) -> Tenant | None:
    """The tenant the upload gate authenticated from this request's head (before its body was read), if it ran."""
    found: Tenant | None = request.scope.get("state", {}).get(GATED_TENANT)
    return found


async def tenant_of_request(request: Request) -> Tenant:
    """The tenant owning the request's X-API-Key (with the key's scopes); 401 (saying nothing more) for a missing,
    wrong, revoked or expired key, and for more than one X-API-Key header (saying so)."""
    found = gated_tenant(request)
    if found is not None:
        return found
    given = request.headers.getlist("x-api-key")
    if len(given) > 1:  # never pick one of them: which would a proxy or a client library keep?
        detail = f"send exactly one X-API-Key header, not {len(given)}"
        raise ApiProblem(401, "Unauthorized", detail, code="unauthorized")
    api_key = given[0] if given else None
    if api_key:
        async with request.app.state.pool.acquire() as conn:
            found = await tenant_for_key(conn, api_key)
    if found is None:
        raise ApiProblem(401, "Unauthorized", "a valid X-API-Key header is required", code="unauthorized")
    return found


def check_scope(tenant: Tenant, scopes: tuple[Scope, ...]) -> Tenant:
    """`tenant` when its key has one of `scopes`, else 403 naming what is needed and what the key has."""
    if tenant.scopes.isdisjoint(scopes):
        needed = " or ".join(f"'{s.value}'" for s in scopes)
        has = ", ".join(s.value for s in Scope if s in tenant.scopes) or "none"
        detail = f"the API key {tenant.key_name!r} lacks the scope {needed} (its scopes: {has})"
        raise ApiProblem(403, "Forbidden", detail, code="missing_scope")
    return tenant


class ScopedDependency:
    """The dependency `require_scope` makes; `scopes` is what the route needs (read by the route scope test)."""

    def __init__(self, scopes: tuple[Scope, ...]) -> None:
        self.scopes = scopes

    async def __call__(self, request: Request, _: Annotated[str | None, Security(_api_key)]) -> Tenant:
        return check_scope(await tenant_of_request(request), self.scopes)


def require_scope(*scopes: Scope) -> Callable[..., Awaitable[Tenant]]:
    """A dependency answering the request's tenant when its key has one of `scopes` (401, 403 otherwise)."""
    if not scopes:
        raise ValueError("require_scope needs at least one scope")
    return ScopedDependency(scopes)


def authenticator(*scopes: Scope) -> Callable[[Request], Awaitable[Tenant]]:
    """For middleware (`limits.UploadGate`): the request's tenant, its key holding one of `scopes`."""

    async def authenticate(request: Request) -> Tenant:
        return check_scope(await tenant_of_request(request), scopes)

    return authenticate


CurrentTenant = Annotated[Tenant, Depends(require_scope(Scope.READ))]  # reading the tenant's data
ImportTenant = Annotated[Tenant, Depends(require_scope(Scope.IMPORT))]
ImportOrReadTenant = Annotated[Tenant, Depends(require_scope(Scope.IMPORT, Scope.READ))]
PushTenant = Annotated[Tenant, Depends(require_scope(Scope.PUSH))]
AdminTenant = Annotated[Tenant, Depends(require_scope(Scope.ADMIN))]
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
Settings = Annotated[IngestSettings, Depends(settings)]
OrderPublish = Annotated[Publish, Depends(order_publish)]
EventsTopic = Annotated[str, Depends(events_topic)]
