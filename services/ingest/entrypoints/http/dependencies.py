"""Per-request dependencies: the tenant behind the API key, the answer's language, and what the composition root
put on the app's state (the settings, the pool, the order publisher over the broker, the order events' topic):
handlers take them all through `Depends`, never from `request.app.state`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Request, Security
from fastapi.security import APIKeyHeader

from services.ingest.adapters.tenants import Tenant, tenant_for_key
from services.ingest.application.imports import Publish, publishing_to
from services.ingest.contracts.orders_ingest_v1 import TOPIC
from services.ingest.domain.language import Lang, choose_lang
from services.ingest.entrypoints.http.problems import ApiProblem
from services.ingest.settings import IngestSettings
from services.platform.publisher import KeyedPublisher

_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="The tenant's API key.")


def pool(request: Request) -> Any:
    return request.app.state.pool


def settings(request: Request) -> IngestSettings:
    found: IngestSettings = request.app.state.settings
    return found


def order_publish(request: Request) -> Publish:
    """Publishing an upload's orders to `orders.ingest.v1` (with the settings' prefix), through the one keyed
    publisher over the app's broker (read per request: the broker exists once the lifespan started it)."""
    topic = request.app.state.settings.topic(TOPIC.name)
    return publishing_to(KeyedPublisher.on_broker(request.app.state.broker), topic)


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
Settings = Annotated[IngestSettings, Depends(settings)]
OrderPublish = Annotated[Publish, Depends(order_publish)]
EventsTopic = Annotated[str, Depends(events_topic)]
