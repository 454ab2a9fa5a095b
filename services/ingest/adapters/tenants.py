"""Tenants and their API keys. Keys are random 256-bit tokens shown once; only their SHA-256 is stored."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from services.ingest.adapters import sql

KEY_PREFIX = "oik_"


@dataclass(frozen=True)
class Tenant:
    id: UUID
    name: str


def hash_key(api_key: str) -> bytes:
    return hashlib.sha256(api_key.encode("utf-8", "surrogatepass")).digest()


async def create_tenant(conn: Any, name: str) -> tuple[Tenant, str]:
    """A new tenant and its API key (the only time the key exists in clear)."""
    tenant = Tenant(uuid.uuid4(), name)
    api_key = KEY_PREFIX + secrets.token_urlsafe(32)
    await conn.execute(sql.INSERT_TENANT, tenant.id, name, hash_key(api_key))
    return tenant, api_key


async def tenant_for_key(conn: Any, api_key: str) -> Tenant | None:
    """The tenant owning `api_key`, or None. A SHA-256 lookup: keys are high-entropy, so no slow hash is needed."""
    if not api_key.startswith(KEY_PREFIX) or len(api_key) > 100:
        return None
    row = await conn.fetchrow(sql.TENANT_BY_KEY_HASH, hash_key(api_key))
    return Tenant(row["id"], row["name"]) if row else None
