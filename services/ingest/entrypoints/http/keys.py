"""`/v1/keys`: the tenant's API keys under the admin scope. A key's secret is shown once, when it is created or
rotated; listings never show a secret or a hash."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Body, Query
from pydantic import BaseModel, ConfigDict, Field

from services.ingest.adapters import tenants
from services.ingest.adapters.tenants import ApiKey
from services.ingest.domain.api_keys import (
    DEFAULT_OVERLAP,
    MAX_KEY_NAME,
    MAX_OVERLAP,
    KeyRequestError,
    key_name,
    overlap,
    parse_scopes,
)
from services.ingest.entrypoints.http.dependencies import AdminTenant, Pool
from services.ingest.entrypoints.http.problems import problem_responses
from services.ingest.errors import ApiProblem

router = APIRouter(prefix="/v1/keys", tags=["keys"])


class KeyOut(BaseModel):
    id: UUID
    name: str
    scopes: list[str]
    state: str = Field(description="active | expiring (rotated: works until expires_at) | expired | revoked")
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None = Field(description="Recorded at most once a minute.")
    replaces: UUID | None


class NewKeyOut(KeyOut):
    key: str = Field(description="The key itself: shown this once, only its hash is kept.")


class KeyList(BaseModel):
    items: list[KeyOut]


class NewKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a field it does not take (`expires_in`) is a 422, not ignored

    name: str = Field(min_length=1, max_length=MAX_KEY_NAME)
    scopes: list[str] = Field(min_length=1, max_length=4, description="Some of read, import, push, admin.")


def _out(key: ApiKey) -> KeyOut:
    return KeyOut(**vars(key))


def _refused(exc: KeyRequestError) -> ApiProblem:
    return ApiProblem(422, "Key request refused", str(exc), "invalid_key_request")


@router.get("", response_model=KeyList, responses=problem_responses(401, 403), summary="The tenant's keys")
async def list_keys(tenant: AdminTenant, pool: Pool) -> KeyList:
    async with pool.acquire() as conn:
        return KeyList(items=[_out(k) for k in await tenants.list_keys(conn, tenant.id)])


@router.post(
    "",
    status_code=201,
    response_model=NewKeyOut,
    responses=problem_responses(401, 403, 422),
    summary="Create a key (its secret is shown this once)",
)
async def create_key(tenant: AdminTenant, pool: Pool, new: Annotated[NewKeyIn, Body()]) -> NewKeyOut:
    try:
        name, scopes = key_name(new.name), parse_scopes(new.scopes)
        async with pool.acquire() as conn:
            key, secret = await tenants.create_key(conn, tenant.id, name, scopes)
    except KeyRequestError as exc:
        raise _refused(exc) from exc
    return NewKeyOut(**vars(key), key=secret)


@router.post(
    "/{key_id}:rotate",
    response_model=NewKeyOut,
    responses=problem_responses(401, 403, 404, 422),
    summary="A successor of the key; the old one works for the overlap",
)
async def rotate_key(
    key_id: UUID,
    tenant: AdminTenant,
    pool: Pool,
    overlap_seconds: Annotated[
        float,
        Query(
            ge=0, le=MAX_OVERLAP.total_seconds(), allow_inf_nan=False, description="How long the old key keeps working."
        ),
    ] = (DEFAULT_OVERLAP.total_seconds()),
) -> NewKeyOut:
    try:
        async with pool.acquire() as conn:
            key, secret = await tenants.rotate_key(conn, tenant.id, key_id, overlap(overlap_seconds))
    except KeyRequestError as exc:
        if str(exc).startswith("key: no key"):
            raise ApiProblem(404, "Not Found", f"no key {key_id}", "key_not_found") from exc
        raise _refused(exc) from exc
    return NewKeyOut(**vars(key), key=secret)


@router.delete(
    "/{key_id}",
    response_model=KeyOut,
    responses=problem_responses(401, 403, 404, 422),
    summary="Revoke the key (refused from the next request on)",
)
async def revoke_key(key_id: UUID, tenant: AdminTenant, pool: Pool) -> KeyOut:
    async with pool.acquire() as conn:
        key = await tenants.revoke_key(conn, tenant.id, key_id)
    if key is None:
        raise ApiProblem(404, "Not Found", f"no key {key_id}", "key_not_found")
    return _out(key)
