"""Tenants and their API keys. Keys are random 256-bit tokens shown once; only their SHA-256 is stored.

A tenant has several keys (table `api_keys`), each named, with scopes (`domain.keys.Scope`). Keys are looked up
on every request, never cached, so a revoked key is refused from the next request on. A key's last use is
recorded at most once a minute (a conditional update when the lookup finds it stale), not a write per request.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from services.ingest.adapters import sql
from services.ingest.domain.api_keys import ALL_SCOPES, DEFAULT_KEY_NAME, KeyRequestError, Scope, sorted_scopes

KEY_PREFIX = "oik_"


@dataclass(frozen=True)
class TenantQuotas:
    """Per-tenant overrides of the quota settings (None: the setting applies)."""

    push_orders_per_second: int | None = None
    import_rows_per_hour: int | None = None


@dataclass(frozen=True)
class Tenant:
    """A tenant, as the API key of a request names it: the key's id, name and scopes come with it (a tenant built
    without a key, as the console's session does, has no scope)."""

    id: UUID
    name: str
    key_id: UUID | None = None
    key_name: str = DEFAULT_KEY_NAME
    scopes: frozenset[Scope] = field(default_factory=frozenset)
    quotas: TenantQuotas = field(default_factory=TenantQuotas)


@dataclass(frozen=True)
class ApiKey:
    """A key as listed: never its secret, never its hash."""

    id: UUID
    tenant_id: UUID
    name: str
    scopes: list[str]
    state: str  # active | expiring (rotated: works until expires_at) | expired | revoked
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    replaces: UUID | None


def hash_key(api_key: str) -> bytes:
    return hashlib.sha256(api_key.encode("utf-8", "surrogatepass")).digest()


def new_secret() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


async def create_tenant(conn: Any, name: str) -> tuple[Tenant, str]:
    """A new tenant and its first API key, "default" with every scope (the only time the key exists in clear)."""
    tenant_id = uuid.uuid4()
    async with conn.transaction():
        await conn.execute(sql.INSERT_TENANT, tenant_id, name)
        key, api_key = await create_key(conn, tenant_id, DEFAULT_KEY_NAME, ALL_SCOPES)
    return Tenant(tenant_id, name, key.id, key.name, ALL_SCOPES), api_key


async def create_key(
    conn: Any, tenant_id: UUID, name: str, scopes: Iterable[Scope], replaces: UUID | None = None
) -> tuple[ApiKey, str]:
    """A new key of `tenant_id` and its secret (shown this once). `KeyRequestError` for an unknown tenant."""
    if await conn.fetchval(sql.TENANT_EXISTS, tenant_id) is None:
        raise KeyRequestError(f"tenant: no tenant {tenant_id}")
    api_key = new_secret()
    row = await conn.fetchrow(
        sql.INSERT_API_KEY, uuid.uuid4(), tenant_id, name, hash_key(api_key), sorted_scopes(scopes), replaces
    )
    return _key(row), api_key


async def tenant_exists(conn: Any, tenant_id: UUID) -> bool:
    return await conn.fetchval(sql.TENANT_EXISTS, tenant_id) is not None


async def list_keys(conn: Any, tenant_id: UUID) -> list[ApiKey]:
    return [_key(row) for row in await conn.fetch(sql.LIST_API_KEYS, tenant_id)]


async def rotate_key(conn: Any, tenant_id: UUID, key_id: UUID, overlap: timedelta) -> tuple[ApiKey, str]:
    """A successor of the key (same name and scopes) and its secret; the old key keeps working for `overlap`.
    `KeyRequestError` when the key is not the tenant's or no longer works."""
    async with conn.transaction():
        old = await conn.fetchrow(sql.API_KEY_FOR_UPDATE, tenant_id, key_id)
        if old is None:
            raise KeyRequestError(f"key: no key {key_id} of this tenant")
        if old["state"] in {"revoked", "expired"}:
            raise KeyRequestError(f"key: {key_id} is {old['state']}; create a new key instead")
        new, secret = await create_key(conn, tenant_id, old["name"], [Scope(s) for s in old["scopes"]], key_id)
        await conn.execute(sql.EXPIRE_API_KEY, tenant_id, key_id, overlap.total_seconds())
    return new, secret


async def revoke_key(conn: Any, tenant_id: UUID, key_id: UUID) -> ApiKey | None:
    """Revoke the key (refused from the next request on); None when it is not the tenant's."""
    row = await conn.fetchrow(sql.REVOKE_API_KEY, tenant_id, key_id)
    return _key(row) if row else None


async def set_quotas(conn: Any, tenant_id: UUID, quotas: TenantQuotas) -> bool:
    """Set the tenant's quota overrides (None: the setting); False when there is no such tenant."""
    done: str = await conn.execute(
        sql.SET_TENANT_QUOTAS, tenant_id, quotas.push_orders_per_second, quotas.import_rows_per_hour
    )
    return done.endswith(" 1")


async def tenant_for_key(conn: Any, api_key: str) -> Tenant | None:
    """The tenant owning `api_key` (with the key's name and scopes), or None when the key is unknown, revoked or
    expired. A SHA-256 lookup: keys are high-entropy, so no slow hash is needed."""
    if not api_key.startswith(KEY_PREFIX) or len(api_key) > 100:
        return None
    return await _active_key_tenant(conn, await conn.fetchrow(sql.KEY_BY_HASH, hash_key(api_key)))


async def tenant_for_key_id(conn: Any, tenant_id: UUID, key_id: UUID) -> Tenant | None:
    """The tenant of its key `key_id` while that key works (not revoked, not expired), as `tenant_for_key`."""
    return await _active_key_tenant(conn, await conn.fetchrow(sql.KEY_BY_ID, tenant_id, key_id))


async def _active_key_tenant(conn: Any, row: Any) -> Tenant | None:
    if row is None:
        return None
    if row["stale"]:
        await conn.execute(sql.TOUCH_API_KEY, row["id"])
    quotas = TenantQuotas(row["push_orders_per_second"], row["import_rows_per_hour"])
    scopes = frozenset(Scope(s) for s in row["scopes"])
    return Tenant(row["tenant_id"], row["tenant_name"], row["id"], row["name"], scopes, quotas)


def _key(row: Any) -> ApiKey:
    return ApiKey(**{name: row[name] for name in ApiKey.__dataclass_fields__})
